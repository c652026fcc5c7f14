/*
 * Live srcs (see ngx_http_collab_src_live.h).
 *
 * The Redis key <prefix>src:<src> is set NX PX on the command connection;
 * its value names the holding worker: "<host> <pid> <nonce>".  Each worker
 * keeps its own key <prefix>worker:<that name> alive (PX, refreshed every
 * third of its TTL).  A claim that finds the src held by a worker whose
 * key is gone (or by a dead process of this host) takes it over: the
 * clients of a killed worker or host keep their srcs, and with them their
 * in-flight ops, a few seconds after the holder stopped refreshing.  The
 * nonce keeps a pid reused by a restarted container from passing for the
 * dead holder.  Src keys are refreshed rarely (their TTL only clears what
 * dead workers left) and released with a plain DEL, all on that one
 * connection, in order.  A claim released while its SET NX is out stays
 * allocated until the reply, which then gives back what it gained (a DEL
 * sent earlier could delete the key of the live holder that refused it).
 */

#include "ngx_http_collab.h"
#include "redis/ngx_http_collab_redis.h"
#include "protocol/ngx_http_collab_src_live.h"


/* ms a src key outlives the last refresh of a worker that died */
#define NGX_HTTP_COLLAB_SRC_LIVE_TTL      600000
#define NGX_HTTP_COLLAB_SRC_LIVE_REFRESH  (NGX_HTTP_COLLAB_SRC_LIVE_TTL / 3)

/* ms a worker that stopped refreshing still counts as alive */
#define NGX_HTTP_COLLAB_WORKER_TTL        NGX_HTTP_COLLAB_SRC_CLAIM_DEAD
#define NGX_HTTP_COLLAB_WORKER_REFRESH    (NGX_HTTP_COLLAB_WORKER_TTL / 3)


struct ngx_http_collab_src_live_s {
    ngx_str_node_t                sn;       /* key: the src, in the tree */
    ngx_queue_t                   queue;    /* the worker's live srcs */
    ngx_str_t                     key;      /* <prefix>src:<src>, heap */
    ngx_http_collab_src_live_pt   handler;  /* a claim waiting for Redis */
    void                         *data;
    void                         *owner;    /* whoever took it */
    u_char                        src[NGX_HTTP_COLLAB_SRC_LEN];
    unsigned                      waiting:1;   /* SET NX is out */
    unsigned                      released:1;  /* while it was out */
    unsigned                      in_redis:1;  /* the key is ours */
};


static ngx_int_t ngx_http_collab_src_live_set(
    ngx_http_collab_src_live_t *live, ngx_uint_t nx);
static ngx_int_t ngx_http_collab_src_live_key_cmd(const char *cmd,
    ngx_str_t *key, ngx_http_collab_redis_reply_pt handler, void *data);
static ngx_int_t ngx_http_collab_src_live_command(ngx_str_t *key,
    u_char *value, size_t len, ngx_msec_t ttl, ngx_uint_t nx,
    ngx_http_collab_redis_reply_pt handler, void *data);
static void ngx_http_collab_src_live_set_done(redisReply *reply,
    void *data);
static void ngx_http_collab_src_live_refused(ngx_http_collab_src_live_t *live);
static void ngx_http_collab_src_live_get_done(redisReply *reply,
    void *data);
static ngx_uint_t ngx_http_collab_src_live_dead(redisReply *r);
static void ngx_http_collab_src_live_answer(ngx_http_collab_src_live_t *live,
    ngx_int_t rc);
static void ngx_http_collab_src_live_alive_done(redisReply *r,
    void *data);
static void ngx_http_collab_src_live_take_over(
    ngx_http_collab_src_live_t *live);
static void ngx_http_collab_src_live_worker(ngx_event_t *ev);
static void ngx_http_collab_src_live_free(ngx_http_collab_src_live_t *live);
static void ngx_http_collab_src_live_refresh(ngx_event_t *ev);


static ngx_rbtree_t       ngx_http_collab_src_live_tree;
static ngx_rbtree_node_t  ngx_http_collab_src_live_sentinel;
static ngx_queue_t        ngx_http_collab_src_live_all;
static ngx_event_t        ngx_http_collab_src_live_timer;
static ngx_connection_t   ngx_http_collab_src_live_conn;
static ngx_log_t         *ngx_http_collab_src_live_log;

/* "<host name> <pid> <nonce>": the value of this worker's keys */
static u_char             ngx_http_collab_src_live_me[NGX_MAXHOSTNAMELEN
                                                      + NGX_INT64_LEN + 20];
static size_t             ngx_http_collab_src_live_me_len;

/* <prefix>worker:<me>, alive while this worker refreshes it */
static ngx_str_t          ngx_http_collab_src_live_worker_key;
static ngx_event_t        ngx_http_collab_src_live_worker_timer;


void
ngx_http_collab_src_live_init_process(ngx_cycle_t *cycle)
{
    ngx_str_t  me;

    ngx_rbtree_init(&ngx_http_collab_src_live_tree,
                    &ngx_http_collab_src_live_sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&ngx_http_collab_src_live_all);

    ngx_http_collab_src_live_log = cycle->log;

    ngx_http_collab_src_live_me_len =
        ngx_snprintf(ngx_http_collab_src_live_me,
                     sizeof(ngx_http_collab_src_live_me), "%V %P %08xD%08xD",
                     &cycle->hostname, ngx_pid, (uint32_t) ngx_random(),
                     (uint32_t) ngx_random())
        - ngx_http_collab_src_live_me;

    ngx_memzero(&ngx_http_collab_src_live_timer, sizeof(ngx_event_t));
    ngx_http_collab_src_live_conn.fd = (ngx_socket_t) -1;
    ngx_http_collab_src_live_timer.data = &ngx_http_collab_src_live_conn;
    ngx_http_collab_src_live_timer.handler = ngx_http_collab_src_live_refresh;
    ngx_http_collab_src_live_timer.log = cycle->log;
    ngx_http_collab_src_live_timer.cancelable = 1;

    ngx_memzero(&ngx_http_collab_src_live_worker_timer, sizeof(ngx_event_t));
    ngx_http_collab_src_live_worker_timer.data =
                                              &ngx_http_collab_src_live_conn;
    ngx_http_collab_src_live_worker_timer.handler =
                                              ngx_http_collab_src_live_worker;
    ngx_http_collab_src_live_worker_timer.log = cycle->log;
    ngx_http_collab_src_live_worker_timer.cancelable = 1;

    ngx_str_null(&ngx_http_collab_src_live_worker_key);

    if (!ngx_http_collab_redis_enabled()) {
        return;
    }

    me.data = ngx_http_collab_src_live_me;
    me.len = ngx_http_collab_src_live_me_len;

    if (ngx_http_collab_redis_name(NULL, NGX_HTTP_COLLAB_REDIS_WORKER, &me,
                                   &ngx_http_collab_src_live_worker_key)
        != NGX_OK)
    {
        return;
    }

    /* the first refresh goes out once the command connection is up */
    ngx_add_timer(&ngx_http_collab_src_live_worker_timer, 1);
}


void
ngx_http_collab_src_live_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_http_collab_src_live_timer.timer_set) {
        ngx_del_timer(&ngx_http_collab_src_live_timer);
    }

    if (ngx_http_collab_src_live_worker_timer.timer_set) {
        ngx_del_timer(&ngx_http_collab_src_live_worker_timer);
    }

    if (ngx_http_collab_src_live_worker_key.data) {
        /* after the DELs of its srcs: nothing of this worker is left */
        (void) ngx_http_collab_src_live_key_cmd("DEL",
                                      &ngx_http_collab_src_live_worker_key,
                                      NULL, NULL);
    }
}


ngx_int_t
ngx_http_collab_src_live_take(const u_char *src, ngx_uint_t fresh,
    ngx_http_collab_src_live_pt handler, void *data,
    ngx_http_collab_src_live_t **out)
{
    uint32_t                     hash;
    ngx_str_t                    name;
    ngx_http_collab_src_live_t  *live;

    *out = NULL;

    name.data = (u_char *) src;
    name.len = NGX_HTTP_COLLAB_SRC_LEN;
    hash = ngx_crc32_long(name.data, name.len);

    if (ngx_str_rbtree_lookup(&ngx_http_collab_src_live_tree, &name, hash)) {
        return NGX_BUSY;
    }

    live = ngx_alloc(sizeof(ngx_http_collab_src_live_t),
                     ngx_http_collab_src_live_log);
    if (live == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(live, sizeof(ngx_http_collab_src_live_t));

    ngx_memcpy(live->src, src, NGX_HTTP_COLLAB_SRC_LEN);
    live->owner = data;

    if (ngx_http_collab_redis_enabled()
        && ngx_http_collab_redis_name(NULL, NGX_HTTP_COLLAB_REDIS_SRC, &name,
                                      &live->key)
           != NGX_OK)
    {
        ngx_free(live);
        return NGX_ERROR;
    }

    live->sn.str.data = live->src;
    live->sn.str.len = NGX_HTTP_COLLAB_SRC_LEN;
    live->sn.node.key = hash;

    ngx_rbtree_insert(&ngx_http_collab_src_live_tree, &live->sn.node);
    ngx_queue_insert_tail(&ngx_http_collab_src_live_all, &live->queue);

    *out = live;

    if (live->key.data && !ngx_http_collab_src_live_timer.timer_set) {
        ngx_add_timer(&ngx_http_collab_src_live_timer,
                      NGX_HTTP_COLLAB_SRC_LIVE_REFRESH);
    }

    /* Redis down: the tree decided; the refresh sets the key later */
    if (live->key.data == NULL
        || ngx_http_collab_src_live_set(live, 1) != NGX_OK
        || fresh)
    {
        return NGX_OK;
    }

    live->handler = handler;
    live->data = data;

    return NGX_AGAIN;
}


void *
ngx_http_collab_src_live_holder(const u_char *src)
{
    ngx_str_t                    name;
    ngx_str_node_t              *sn;
    ngx_http_collab_src_live_t  *live;

    name.data = (u_char *) src;
    name.len = NGX_HTTP_COLLAB_SRC_LEN;

    sn = ngx_str_rbtree_lookup(&ngx_http_collab_src_live_tree, &name,
                               ngx_crc32_long(name.data, name.len));
    if (sn == NULL) {
        return NULL;
    }

    live = (ngx_http_collab_src_live_t *) sn;

    return live->owner;
}


void
ngx_http_collab_src_live_release(ngx_http_collab_src_live_t *live)
{
    ngx_rbtree_delete(&ngx_http_collab_src_live_tree, &live->sn.node);
    ngx_queue_remove(&live->queue);

    live->handler = NULL;

    if (live->waiting) {
        /* the reply frees it */
        live->released = 1;
        return;
    }

    ngx_http_collab_src_live_free(live);
}


u_char *
ngx_http_collab_src_live_src(ngx_http_collab_src_live_t *live)
{
    return live->src;
}


/*
 * SET key <me> PX ttl [NX]: with NX, NGX_OK when the reply is awaited;
 * without, a refresh nobody waits for.
 */
static ngx_int_t
ngx_http_collab_src_live_set(ngx_http_collab_src_live_t *live, ngx_uint_t nx)
{
    if (ngx_http_collab_src_live_command(&live->key,
                                         ngx_http_collab_src_live_me,
                                         ngx_http_collab_src_live_me_len,
                                         NGX_HTTP_COLLAB_SRC_LIVE_TTL, nx,
                                         nx ? ngx_http_collab_src_live_set_done
                                            : NULL,
                                         live)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (nx) {
        live->waiting = 1;
    }

    return NGX_OK;
}


/* <cmd> key, on the command connection */
static ngx_int_t
ngx_http_collab_src_live_key_cmd(const char *cmd, ngx_str_t *key,
    ngx_http_collab_redis_reply_pt handler, void *data)
{
    size_t       argvlen[2];
    const char  *argv[2];

    argv[0] = cmd;
    argvlen[0] = ngx_strlen(cmd);
    argv[1] = (const char *) key->data;
    argvlen[1] = key->len;

    return ngx_http_collab_redis_command(2, argv, argvlen, handler, data);
}


/* SET key value PX ttl [NX], on the command connection */
static ngx_int_t
ngx_http_collab_src_live_command(ngx_str_t *key, u_char *value, size_t len,
    ngx_msec_t ttl, ngx_uint_t nx, ngx_http_collab_redis_reply_pt handler,
    void *data)
{
    u_char       ms[NGX_INT_T_LEN];
    size_t       argvlen[6];
    const char  *argv[6];

    argv[0] = "SET";
    argvlen[0] = 3;
    argv[1] = (const char *) key->data;
    argvlen[1] = key->len;
    argv[2] = (const char *) value;
    argvlen[2] = len;
    argv[3] = "PX";
    argvlen[3] = 2;
    argv[4] = (const char *) ms;
    argvlen[4] = ngx_sprintf(ms, "%M", ttl) - ms;
    argv[5] = "NX";
    argvlen[5] = 2;

    return ngx_http_collab_redis_command(nx ? 6 : 5, argv, argvlen, handler,
                                         data);
}


static void
ngx_http_collab_src_live_set_done(redisReply *r, void *data)
{
    ngx_http_collab_src_live_t  *live = data;

    ngx_int_t  rc;

    live->waiting = 0;

    if (r && r->type == REDIS_REPLY_STATUS) {
        live->in_redis = 1;
        rc = NGX_OK;

    } else if (r && r->type == REDIS_REPLY_NIL) {
        rc = NGX_BUSY;

    } else {
        /* no answer: as without Redis, the tree decided */
        ngx_log_error(NGX_LOG_WARN, ngx_http_collab_src_live_log, 0,
                      "collab: redis \"%V\": no answer, the src is taken "
                      "on this worker's word", &live->key);
        rc = NGX_OK;
    }

    if (live->released) {
        ngx_http_collab_src_live_free(live);
        return;
    }

    if (rc == NGX_BUSY) {
        if (live->handler == NULL) {
            /* a refresh found it taken after Redis lost it: keep it */
            ngx_log_error(NGX_LOG_INFO, ngx_http_collab_src_live_log, 0,
                          "collab: redis \"%V\" is held elsewhere too",
                          &live->key);
            return;
        }

        ngx_http_collab_src_live_refused(live);
        return;
    }

    ngx_http_collab_src_live_answer(live, rc);
}


/* SET NX found the key: whose is it? */
static void
ngx_http_collab_src_live_refused(ngx_http_collab_src_live_t *live)
{
    if (ngx_http_collab_src_live_key_cmd("GET", &live->key,
                                         ngx_http_collab_src_live_get_done,
                                         live)
        == NGX_OK)
    {
        live->waiting = 1;
        return;
    }

    /* Redis went away meanwhile: the tree decided */
    ngx_http_collab_src_live_answer(live, NGX_OK);
}


static void
ngx_http_collab_src_live_get_done(redisReply *r, void *data)
{
    ngx_http_collab_src_live_t  *live = data;

    ngx_str_t  holder, name;

    live->waiting = 0;

    if (live->released) {
        ngx_http_collab_src_live_free(live);
        return;
    }

    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        /* no answer: the tree decided */
        ngx_http_collab_src_live_answer(live, NGX_OK);
        return;
    }

    if (r->type == REDIS_REPLY_NIL) {
        /* released meanwhile */
        if (ngx_http_collab_src_live_set(live, 1) != NGX_OK) {
            ngx_http_collab_src_live_answer(live, NGX_OK);
        }

        return;
    }

    if (r->type != REDIS_REPLY_STRING) {
        ngx_http_collab_src_live_answer(live, NGX_BUSY);
        return;
    }

    if (ngx_http_collab_src_live_dead(r)) {
        ngx_http_collab_src_live_take_over(live);
        return;
    }

    /* is the holder's worker key still refreshed? */
    holder.data = (u_char *) r->str;
    holder.len = r->len;

    if (ngx_http_collab_redis_name(NULL, NGX_HTTP_COLLAB_REDIS_WORKER,
                                   &holder, &name)
        != NGX_OK)
    {
        ngx_http_collab_src_live_answer(live, NGX_BUSY);
        return;
    }

    if (ngx_http_collab_src_live_key_cmd("EXISTS", &name,
                                         ngx_http_collab_src_live_alive_done,
                                         live)
        == NGX_OK)
    {
        live->waiting = 1;
        ngx_free(name.data);
        return;
    }

    ngx_free(name.data);

    ngx_http_collab_src_live_answer(live, NGX_OK);
}


/* EXISTS <prefix>worker:<holder>: 0 when the holder stopped refreshing */
static void
ngx_http_collab_src_live_alive_done(redisReply *r, void *data)
{
    ngx_http_collab_src_live_t  *live = data;

    live->waiting = 0;

    if (live->released) {
        ngx_http_collab_src_live_free(live);
        return;
    }

    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        ngx_http_collab_src_live_answer(live, NGX_OK);
        return;
    }

    if (r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
        ngx_http_collab_src_live_take_over(live);
        return;
    }

    ngx_http_collab_src_live_answer(live, NGX_BUSY);
}


/*
 * The holder is gone: the key becomes this worker's.  Two claims of the
 * same dead holder's src within one round trip would both win; that
 * takes two clients knowing the same secret src at once.
 */
static void
ngx_http_collab_src_live_take_over(ngx_http_collab_src_live_t *live)
{
    ngx_log_error(NGX_LOG_INFO, ngx_http_collab_src_live_log, 0,
                  "collab: redis \"%V\" was held by a worker that is gone: "
                  "taken over", &live->key);

    /* before any DEL of ours on the same connection */
    (void) ngx_http_collab_src_live_set(live, 0);
    live->in_redis = 1;

    ngx_http_collab_src_live_answer(live, NGX_OK);
}


/* a value "<host> <pid> ..." naming a process of this host that is gone */
static ngx_uint_t
ngx_http_collab_src_live_dead(redisReply *r)
{
    u_char     *sp, *pid_end, *end;
    ngx_int_t   pid;
    ngx_str_t   host;

    end = (u_char *) r->str + r->len;
    sp = ngx_strlchr((u_char *) r->str, end, ' ');
    host = ngx_cycle->hostname;

    if (sp == NULL || (size_t) (sp - (u_char *) r->str) != host.len
        || ngx_strncmp(r->str, host.data, host.len) != 0)
    {
        return 0;
    }

    pid_end = ngx_strlchr(sp + 1, end, ' ');

    if (pid_end == NULL) {
        pid_end = end;
    }

    pid = ngx_atoi(sp + 1, pid_end - sp - 1);

    if (pid <= 0) {
        return 0;
    }

    return (ngx_pid_t) pid != ngx_pid && kill((ngx_pid_t) pid, 0) == -1
           && ngx_errno == NGX_ESRCH;
}


/* the claim's outcome to its owner; a refused claim is freed first */
static void
ngx_http_collab_src_live_answer(ngx_http_collab_src_live_t *live,
    ngx_int_t rc)
{
    void                         *data;
    ngx_http_collab_src_live_pt   handler;

    handler = live->handler;
    data = live->data;
    live->handler = NULL;

    if (handler == NULL) {
        return;
    }

    if (rc == NGX_BUSY) {
        ngx_http_collab_src_live_release(live);
    }

    handler(rc, data);
}


static void
ngx_http_collab_src_live_free(ngx_http_collab_src_live_t *live)
{
    if (live->in_redis) {
        (void) ngx_http_collab_src_live_key_cmd("DEL", &live->key, NULL,
                                                NULL);
    }

    if (live->key.data) {
        ngx_free(live->key.data);
    }

    ngx_free(live);
}


static void
ngx_http_collab_src_live_refresh(ngx_event_t *ev)
{
    ngx_queue_t                 *q;
    ngx_http_collab_src_live_t  *live;

    for (q = ngx_queue_head(&ngx_http_collab_src_live_all);
         q != ngx_queue_sentinel(&ngx_http_collab_src_live_all);
         q = ngx_queue_next(q))
    {
        live = ngx_queue_data(q, ngx_http_collab_src_live_t, queue);

        if (live->in_redis) {
            (void) ngx_http_collab_src_live_set(live, 0);

        } else if (!live->waiting && live->key.data) {
            /* Redis was down when it was taken */
            (void) ngx_http_collab_src_live_set(live, 1);
        }
    }

    if (!ngx_queue_empty(&ngx_http_collab_src_live_all)) {
        ngx_add_timer(ev, NGX_HTTP_COLLAB_SRC_LIVE_REFRESH);
    }
}


/* SET <prefix>worker:<me> 1 PX ttl: this worker is alive */
static void
ngx_http_collab_src_live_worker(ngx_event_t *ev)
{
    /* Redis down: the next tick tries again */
    (void) ngx_http_collab_src_live_command(
                                   &ngx_http_collab_src_live_worker_key,
                                   (u_char *) "1", 1,
                                   NGX_HTTP_COLLAB_WORKER_TTL, 0, NULL, NULL);

    ngx_add_timer(ev, NGX_HTTP_COLLAB_WORKER_REFRESH);
}
