/*
 * Live srcs (see ngx_http_collab_src_live.h).
 *
 * The Redis key is set NX PX on the command connection and its value is
 * the holder's pid (for an operator reading Redis).  It is set again (PX,
 * without NX, so that a key Redis lost comes back) every TTL/3 and
 * released with a plain DEL, all on that one connection, in order: the
 * key can only be someone else's after this worker failed to refresh it
 * for a whole TTL.  A claim released while its SET NX is out stays
 * allocated until the reply, which then gives back what it gained (a DEL
 * sent earlier could delete the key of the live holder that refused it).
 */

#include "ngx_http_collab.h"
#include "redis/ngx_http_collab_redis.h"
#include "protocol/ngx_http_collab_src_live.h"


/* ms a worker that died keeps its srcs live */
#define NGX_HTTP_COLLAB_SRC_LIVE_TTL      30000
#define NGX_HTTP_COLLAB_SRC_LIVE_REFRESH  (NGX_HTTP_COLLAB_SRC_LIVE_TTL / 3)

/*
 * A claim Redis refuses is asked again a few times, this many ms apart:
 * the connection a client just left may not have reached its DEL yet.
 */
#define NGX_HTTP_COLLAB_SRC_LIVE_RETRIES  3
#define NGX_HTTP_COLLAB_SRC_LIVE_WAIT     100


struct ngx_http_collab_src_live_s {
    ngx_str_node_t                sn;       /* key: the src, in the tree */
    ngx_queue_t                   queue;    /* the worker's live srcs */
    ngx_str_t                     key;      /* <prefix>src:<src>, heap */
    ngx_http_collab_src_live_pt   handler;  /* a claim waiting for Redis */
    void                         *data;
    ngx_event_t                   retry;
    ngx_uint_t                    tries;
    u_char                        src[NGX_HTTP_COLLAB_SRC_LEN];
    unsigned                      waiting:1;   /* SET NX is out */
    unsigned                      released:1;  /* while it was out */
    unsigned                      in_redis:1;  /* the key is ours */
};


static ngx_int_t ngx_http_collab_src_live_set(
    ngx_http_collab_src_live_t *live, ngx_uint_t nx);
static void ngx_http_collab_src_live_set_done(redisReply *reply,
    void *data);
static void ngx_http_collab_src_live_retry(ngx_event_t *ev);
static void ngx_http_collab_src_live_free(ngx_http_collab_src_live_t *live);
static void ngx_http_collab_src_live_refresh(ngx_event_t *ev);


static ngx_rbtree_t       ngx_http_collab_src_live_tree;
static ngx_rbtree_node_t  ngx_http_collab_src_live_sentinel;
static ngx_queue_t        ngx_http_collab_src_live_all;
static ngx_event_t        ngx_http_collab_src_live_timer;
static ngx_connection_t   ngx_http_collab_src_live_conn;
static ngx_log_t         *ngx_http_collab_src_live_log;


void
ngx_http_collab_src_live_init_process(ngx_cycle_t *cycle)
{
    ngx_rbtree_init(&ngx_http_collab_src_live_tree,
                    &ngx_http_collab_src_live_sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&ngx_http_collab_src_live_all);

    ngx_http_collab_src_live_log = cycle->log;

    ngx_memzero(&ngx_http_collab_src_live_timer, sizeof(ngx_event_t));
    ngx_http_collab_src_live_conn.fd = (ngx_socket_t) -1;
    ngx_http_collab_src_live_timer.data = &ngx_http_collab_src_live_conn;
    ngx_http_collab_src_live_timer.handler = ngx_http_collab_src_live_refresh;
    ngx_http_collab_src_live_timer.log = cycle->log;
    ngx_http_collab_src_live_timer.cancelable = 1;
}


void
ngx_http_collab_src_live_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_http_collab_src_live_timer.timer_set) {
        ngx_del_timer(&ngx_http_collab_src_live_timer);
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

    live->retry.handler = ngx_http_collab_src_live_retry;
    live->retry.data = live;
    live->retry.log = ngx_http_collab_src_live_log;
    live->retry.cancelable = 1;

    return NGX_AGAIN;
}


void
ngx_http_collab_src_live_release(ngx_http_collab_src_live_t *live)
{
    ngx_rbtree_delete(&ngx_http_collab_src_live_tree, &live->sn.node);
    ngx_queue_remove(&live->queue);

    live->handler = NULL;

    if (live->retry.timer_set) {
        ngx_del_timer(&live->retry);
    }

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
 * SET key pid PX ttl [NX]: with NX, NGX_OK when the reply is awaited;
 * without, a refresh nobody waits for.
 */
static ngx_int_t
ngx_http_collab_src_live_set(ngx_http_collab_src_live_t *live, ngx_uint_t nx)
{
    u_char       pid[NGX_INT64_LEN], ttl[NGX_INT_T_LEN];
    size_t       argvlen[6];
    const char  *argv[6];

    argv[0] = "SET";
    argvlen[0] = 3;
    argv[1] = (const char *) live->key.data;
    argvlen[1] = live->key.len;
    argv[2] = (const char *) pid;
    argvlen[2] = ngx_sprintf(pid, "%P", ngx_pid) - pid;
    argv[3] = "PX";
    argvlen[3] = 2;
    argv[4] = (const char *) ttl;
    argvlen[4] = ngx_sprintf(ttl, "%d", NGX_HTTP_COLLAB_SRC_LIVE_TTL) - ttl;
    argv[5] = "NX";
    argvlen[5] = 2;

    if (ngx_http_collab_redis_command(nx ? 6 : 5, argv, argvlen,
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


static void
ngx_http_collab_src_live_set_done(redisReply *r, void *data)
{
    ngx_http_collab_src_live_t  *live = data;

    void                         *hdata;
    ngx_int_t                     rc;
    ngx_http_collab_src_live_pt   handler;

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

    handler = live->handler;
    hdata = live->data;
    live->handler = NULL;

    if (rc == NGX_BUSY && handler
        && live->tries++ < NGX_HTTP_COLLAB_SRC_LIVE_RETRIES)
    {
        live->handler = handler;
        ngx_add_timer(&live->retry, NGX_HTTP_COLLAB_SRC_LIVE_WAIT);
        return;
    }

    if (rc == NGX_BUSY) {
        if (handler == NULL) {
            /* a refresh found it taken after Redis lost it: keep it */
            ngx_log_error(NGX_LOG_INFO, ngx_http_collab_src_live_log, 0,
                          "collab: redis \"%V\" is held elsewhere too",
                          &live->key);
            return;
        }

        ngx_http_collab_src_live_release(live);
    }

    if (handler) {
        handler(rc, hdata);
    }
}


static void
ngx_http_collab_src_live_retry(ngx_event_t *ev)
{
    void                         *data;
    ngx_http_collab_src_live_t   *live;
    ngx_http_collab_src_live_pt   handler;

    live = ev->data;

    if (ngx_http_collab_src_live_set(live, 1) == NGX_OK) {
        return;
    }

    /* Redis went away meanwhile: the tree decided */
    handler = live->handler;
    data = live->data;
    live->handler = NULL;

    handler(NGX_OK, data);
}


static void
ngx_http_collab_src_live_free(ngx_http_collab_src_live_t *live)
{
    size_t       argvlen[2];
    const char  *argv[2];

    if (live->in_redis) {
        argv[0] = "DEL";
        argvlen[0] = 3;
        argv[1] = (const char *) live->key.data;
        argvlen[1] = live->key.len;

        (void) ngx_http_collab_redis_command(2, argv, argvlen, NULL, NULL);
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
