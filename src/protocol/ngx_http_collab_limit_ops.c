/*
 * Op and presence rate limits of WebSocket sessions, in the shape of
 * nginx's limit_req: a shared memory zone (slab, an rbtree of keys, an
 * LRU queue that expires idle keys) holds one node per user, or per
 * client address when anonymous, with a leaky bucket for ops and one for
 * presence (protocol/collab_limit.c).
 *
 * An op over the rate but within the burst is not refused: the session
 * processes it later, and the messages behind it wait (the stock client
 * composes what is typed meanwhile into its next op, so nothing is lost).
 * Past the burst it gets ERR_RATE_LIMITED; a socket that keeps going
 * (collab_limit_ops abuse=) is closed with 4429.  Presence past its
 * burst is dropped: the next update supersedes it anyway.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_md5.h>

#include "ngx_http_collab.h"
#include "protocol/collab_limit.h"
#include "protocol/ngx_http_collab_limit_ops.h"
#include "status/ngx_http_collab_status.h"


/* a node idle this long is expired when its memory is wanted */
#define NGX_HTTP_COLLAB_LIMIT_IDLE      60000

/* keys longer than this are their MD5 */
#define NGX_HTTP_COLLAB_LIMIT_KEY_MAX   128

#define NGX_HTTP_COLLAB_LIMIT_RATE_MAX  1000000


typedef enum {
    NGX_HTTP_COLLAB_LIMIT_KEY_USER = 0,
    NGX_HTTP_COLLAB_LIMIT_KEY_ADDR
} ngx_http_collab_limit_key_e;


/* one key (ngx_str_node_t first: the rbtree is keyed by its string) */
typedef struct {
    ngx_str_node_t             sn;
    ngx_queue_t                queue;       /* in sh->queue, LRU last */
    collab_limit_bucket_t      ops;
    collab_limit_bucket_t      presence;
    u_char                     data[1];
} ngx_http_collab_limit_node_t;


typedef struct {
    ngx_rbtree_t               rbtree;
    ngx_rbtree_node_t          sentinel;
    ngx_queue_t                queue;

    /* for collab_status: every worker of the host counts here */
    ngx_atomic_t               delayed;
    ngx_atomic_t               refused;
    ngx_atomic_t               closed;
    ngx_atomic_t               presence_dropped;
} ngx_http_collab_limit_sh_t;


typedef struct {
    ngx_http_collab_limit_sh_t *sh;
    ngx_slab_pool_t           *shpool;
    ngx_uint_t                 rate;        /* 1/1000 r/s */
    ngx_http_collab_limit_key_e  key;
} ngx_http_collab_limit_ctx_t;


static ngx_int_t ngx_http_collab_limit_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_collab_limit_parse_rate(ngx_str_t *v,
    ngx_uint_t *rate);
static ngx_int_t ngx_http_collab_limit_parse_num(ngx_str_t *v,
    ngx_uint_t *n);
static ngx_str_t *ngx_http_collab_limit_key(ngx_http_collab_session_t *s,
    ngx_http_collab_limit_ctx_t *ctx, ngx_str_t *key, u_char *buf);
static ngx_http_collab_limit_node_t *ngx_http_collab_limit_lookup(
    ngx_http_collab_limit_ctx_t *ctx, ngx_str_t *key);
static void ngx_http_collab_limit_expire(ngx_http_collab_limit_ctx_t *ctx,
    ngx_uint_t all);
static ngx_int_t ngx_http_collab_limit_refuse(ngx_http_collab_session_t *s,
    ngx_http_collab_limit_ctx_t *ctx, collab_msg_t *msg);
static void ngx_http_collab_limit_status(ngx_http_collab_status_t *st);


char *
ngx_http_collab_limit_ops_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    u_char                       *p;
    ssize_t                       size;
    ngx_str_t                    *value, name, s;
    ngx_uint_t                    i, rate;
    ngx_shm_zone_t               *shm_zone;
    ngx_http_collab_limit_ctx_t  *ctx;

    value = cf->args->elts;

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_collab_limit_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_strcmp(value[1].data, "user") == 0) {
        ctx->key = NGX_HTTP_COLLAB_LIMIT_KEY_USER;

    } else if (ngx_strcmp(value[1].data, "addr") == 0) {
        ctx->key = NGX_HTTP_COLLAB_LIMIT_KEY_ADDR;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: invalid key \"%V\" (user or addr)",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    size = 0;
    rate = 0;
    ngx_str_null(&name);

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {
            name.data = value[i].data + 5;
            p = (u_char *) ngx_strchr(name.data, ':');

            if (p == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "collab: invalid zone \"%V\" "
                                   "(name:size)", &value[i]);
                return NGX_CONF_ERROR;
            }

            name.len = p - name.data;
            s.data = p + 1;
            s.len = value[i].data + value[i].len - s.data;

            size = ngx_parse_size(&s);

            if (size == NGX_ERROR || name.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "collab: invalid zone \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            if (size < (ssize_t) (8 * ngx_pagesize)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "collab: zone \"%V\" is too small",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "rate=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            if (ngx_http_collab_limit_parse_rate(&s, &rate) != NGX_OK) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "collab: invalid rate \"%V\" (1r/s to "
                                   "1000000r/s, or per minute: Nr/m)",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (name.len == 0 || rate == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: \"%V\" needs zone=name:size and "
                           "rate=", &cmd->name);
        return NGX_CONF_ERROR;
    }

    ctx->rate = rate;

    shm_zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_collab_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: zone \"%V\" is already defined", &name);
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_collab_limit_init_zone;
    shm_zone->data = ctx;

    return NGX_CONF_OK;
}


char *
ngx_http_collab_limit_ops(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_collab_loc_conf_t  *clcf = conf;

    ngx_str_t                     *value, name, s;
    ngx_uint_t                     i;
    ngx_http_collab_limit_conf_t  *lc;

    lc = &clcf->limit;

    if (lc->zone != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ngx_str_null(&name);
    lc->burst = 10;
    lc->presence_rate = 0;
    lc->presence_burst = 0;
    lc->abuse = 20;

    for (i = 1; i < cf->args->nelts; i++) {
        s.data = (u_char *) ngx_strchr(value[i].data, '=');

        if (s.data == NULL) {
            goto invalid;
        }

        s.data++;
        s.len = value[i].data + value[i].len - s.data;

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {
            name = s;

        } else if (ngx_strncmp(value[i].data, "burst=", 6) == 0) {
            if (ngx_http_collab_limit_parse_num(&s, &lc->burst) != NGX_OK) {
                goto invalid;
            }

        } else if (ngx_strncmp(value[i].data, "abuse=", 6) == 0) {
            if (ngx_http_collab_limit_parse_num(&s, &lc->abuse) != NGX_OK) {
                goto invalid;
            }

        } else if (ngx_strncmp(value[i].data, "presence=", 9) == 0) {
            if (ngx_http_collab_limit_parse_rate(&s, &lc->presence_rate)
                != NGX_OK)
            {
                goto invalid;
            }

        } else if (ngx_strncmp(value[i].data, "presence_burst=", 15) == 0) {
            if (ngx_http_collab_limit_parse_num(&s, &lc->presence_burst)
                != NGX_OK)
            {
                goto invalid;
            }

        } else {
            goto invalid;
        }
    }

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: \"%V\" needs zone=", &cmd->name);
        return NGX_CONF_ERROR;
    }

    /* a zone not defined by collab_limit_ops_zone fails with size 0 */
    lc->zone = ngx_shared_memory_add(cf, &name, 0, &ngx_http_collab_module);
    if (lc->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "collab: invalid parameter \"%V\"", &value[i]);
    return NGX_CONF_ERROR;
}


void
ngx_http_collab_limit_ops_create_conf(ngx_http_collab_limit_conf_t *lc)
{
    lc->zone = NGX_CONF_UNSET_PTR;
}


void
ngx_http_collab_limit_ops_merge_conf(ngx_http_collab_limit_conf_t *prev,
    ngx_http_collab_limit_conf_t *conf)
{
    /* the parameters go with the zone they were given with */
    if (conf->zone == NGX_CONF_UNSET_PTR) {
        *conf = *prev;
    }

    if (conf->zone == NGX_CONF_UNSET_PTR) {
        conf->zone = NULL;
    }
}


ngx_int_t
ngx_http_collab_limit_ops_init_process(ngx_cycle_t *cycle)
{
    return ngx_http_collab_status_add_section("limit_ops",
                                              ngx_http_collab_limit_status);
}


ngx_int_t
ngx_http_collab_limit_ops_check(ngx_http_collab_session_t *s,
    collab_msg_t *msg, ngx_msec_t *delay)
{
    u_char                         buf[NGX_HTTP_COLLAB_LIMIT_KEY_MAX + 1];
    uint64_t                       d;
    ngx_str_t                      key;
    ngx_uint_t                     rate, burst, presence;
    collab_limit_e                 rc;
    collab_limit_bucket_t         *b;
    ngx_http_collab_limit_ctx_t   *ctx;
    ngx_http_collab_limit_node_t  *node;
    ngx_http_collab_limit_conf_t  *lc;

    lc = &s->ws->conf->limit;

    if (lc->zone == NULL) {
        return NGX_OK;
    }

    ctx = lc->zone->data;

    if (msg->action == COLLAB_MSG_A_OP) {
        presence = 0;
        rate = ctx->rate;
        burst = lc->burst;

    } else if (msg->action == COLLAB_MSG_A_P && lc->presence_rate) {
        presence = 1;
        rate = lc->presence_rate;
        burst = lc->presence_burst;

    } else {
        return NGX_OK;
    }

    ngx_http_collab_limit_key(s, ctx, &key, buf);

    ngx_shmtx_lock(&ctx->shpool->mutex);

    node = ngx_http_collab_limit_lookup(ctx, &key);

    if (node == NULL) {
        ngx_shmtx_unlock(&ctx->shpool->mutex);

        /* a full zone lets ops through rather than lose them */
        ngx_log_error(NGX_LOG_WARN, s->ws->connection->log, 0,
                      "collab: limit zone \"%V\" is full",
                      &lc->zone->shm.name);
        return NGX_OK;
    }

    b = presence ? &node->presence : &node->ops;
    rc = collab_limit_take(b, ngx_current_msec ? ngx_current_msec : 1,
                           rate, burst, &d);

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (rc == COLLAB_LIMIT_ACCEPT || (rc == COLLAB_LIMIT_DELAY && presence)) {
        return NGX_OK;
    }

    if (rc == COLLAB_LIMIT_DELAY) {
        (void) ngx_atomic_fetch_add(&ctx->sh->delayed, 1);
        *delay = (ngx_msec_t) d;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, s->ws->connection->log, 0,
                       "collab limit: \"%V\" op delayed %M ms", &key, *delay);
        return NGX_AGAIN;
    }

    if (presence) {
        (void) ngx_atomic_fetch_add(&ctx->sh->presence_dropped, 1);
        return NGX_DONE;
    }

    return ngx_http_collab_limit_refuse(s, ctx, msg);
}


/* an op past the burst: its error reply, or the close of a flood */
static ngx_int_t
ngx_http_collab_limit_refuse(ngx_http_collab_session_t *s,
    ngx_http_collab_limit_ctx_t *ctx, collab_msg_t *msg)
{
    ngx_http_collab_limit_conf_t  *lc;

    lc = &s->ws->conf->limit;

    if (collab_limit_strike(&s->limit_strikes, ngx_current_msec,
                            NGX_HTTP_COLLAB_LIMIT_WINDOW, lc->abuse))
    {
        (void) ngx_atomic_fetch_add(&ctx->sh->closed, 1);

        ngx_log_error(NGX_LOG_INFO, s->ws->connection->log, 0,
                      "collab: \"%V\" closed: %ui ops refused within %ui s "
                      "(zone \"%V\")", &s->principal, lc->abuse,
                      (ngx_uint_t) NGX_HTTP_COLLAB_LIMIT_WINDOW / 1000,
                      &lc->zone->shm.name);

        ngx_http_collab_ws_close(s->ws, NGX_HTTP_COLLAB_LIMIT_CLOSE,
                                 "op rate limit exceeded");
        return NGX_DONE;
    }

    (void) ngx_atomic_fetch_add(&ctx->sh->refused, 1);

    ngx_http_collab_session_error(s, msg, NGX_HTTP_COLLAB_ERR_RATE_LIMITED,
                                  "Too many ops: past the rate limit's "
                                  "burst");
    return NGX_DONE;
}


/* "u" and the principal, or "a" and the binary address */
static ngx_str_t *
ngx_http_collab_limit_key(ngx_http_collab_session_t *s,
    ngx_http_collab_limit_ctx_t *ctx, ngx_str_t *key, u_char *buf)
{
    ngx_md5_t             md5;
    struct sockaddr      *sa;
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    key->data = buf;

    if (ctx->key == NGX_HTTP_COLLAB_LIMIT_KEY_USER && s->principal.len) {
        buf[0] = 'u';

        if (s->principal.len > NGX_HTTP_COLLAB_LIMIT_KEY_MAX) {
            ngx_md5_init(&md5);
            ngx_md5_update(&md5, s->principal.data, s->principal.len);
            ngx_md5_final(buf + 1, &md5);
            key->len = 1 + 16;
            return key;
        }

        ngx_memcpy(buf + 1, s->principal.data, s->principal.len);
        key->len = 1 + s->principal.len;
        return key;
    }

    buf[0] = 'a';
    key->len = 1;
    sa = s->ws->connection->sockaddr;

    switch (sa->sa_family) {

    case AF_INET:
        sin = (struct sockaddr_in *) sa;
        ngx_memcpy(buf + 1, &sin->sin_addr, 4);
        key->len += 4;
        break;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) sa;
        ngx_memcpy(buf + 1, &sin6->sin6_addr, 16);
        key->len += 16;
        break;
#endif

    default:
        /* a unix socket: every client is one */
        break;
    }

    return key;
}


/* under the zone's lock: the node of key, made if new; NULL if no room */
static ngx_http_collab_limit_node_t *
ngx_http_collab_limit_lookup(ngx_http_collab_limit_ctx_t *ctx,
    ngx_str_t *key)
{
    size_t                         size;
    uint32_t                       hash;
    ngx_str_node_t                *sn;
    ngx_http_collab_limit_node_t  *node;

    hash = ngx_crc32_short(key->data, key->len);

    sn = ngx_str_rbtree_lookup(&ctx->sh->rbtree, key, hash);

    if (sn) {
        node = (ngx_http_collab_limit_node_t *) sn;
        ngx_queue_remove(&node->queue);
        ngx_queue_insert_head(&ctx->sh->queue, &node->queue);
        return node;
    }

    /* as limit_req: each new key expires a stale one or two */
    ngx_http_collab_limit_expire(ctx, 0);

    size = offsetof(ngx_http_collab_limit_node_t, data) + key->len;

    node = ngx_slab_alloc_locked(ctx->shpool, size);

    if (node == NULL) {
        ngx_http_collab_limit_expire(ctx, 1);

        node = ngx_slab_alloc_locked(ctx->shpool, size);
        if (node == NULL) {
            return NULL;
        }
    }

    ngx_memzero(node, size);
    ngx_memcpy(node->data, key->data, key->len);

    node->sn.node.key = hash;
    node->sn.str.data = node->data;
    node->sn.str.len = key->len;

    ngx_rbtree_insert(&ctx->sh->rbtree, &node->sn.node);
    ngx_queue_insert_head(&ctx->sh->queue, &node->queue);

    return node;
}


/* frees least recently used nodes idle long enough: 2, or all (all) */
static void
ngx_http_collab_limit_expire(ngx_http_collab_limit_ctx_t *ctx,
    ngx_uint_t all)
{
    uint64_t                       last;
    ngx_uint_t                     n;
    ngx_queue_t                   *q;
    ngx_http_collab_limit_node_t  *node;

    for (n = 0; all || n < 2; n++) {

        if (ngx_queue_empty(&ctx->sh->queue)) {
            return;
        }

        q = ngx_queue_last(&ctx->sh->queue);
        node = ngx_queue_data(q, ngx_http_collab_limit_node_t, queue);

        last = ngx_max(node->ops.last, node->presence.last);

        if (ngx_current_msec - last < NGX_HTTP_COLLAB_LIMIT_IDLE
            || !collab_limit_idle(&node->ops, ngx_current_msec, ctx->rate))
        {
            return;
        }

        ngx_queue_remove(q);
        ngx_rbtree_delete(&ctx->sh->rbtree, &node->sn.node);
        ngx_slab_free_locked(ctx->shpool, node);
    }
}


static ngx_int_t
ngx_http_collab_limit_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_collab_limit_ctx_t  *octx = data;

    size_t                        len;
    ngx_http_collab_limit_ctx_t  *ctx;

    ctx = shm_zone->data;

    if (octx) {
        /* a reload keeps the buckets, unless the zone counts otherwise */
        if (octx->key != ctx->key) {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "collab: limit zone \"%V\" was keyed by %s, now "
                          "by %s: rename it", &shm_zone->shm.name,
                          octx->key ? "addr" : "user",
                          ctx->key ? "addr" : "user");
            return NGX_ERROR;
        }

        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        ctx->sh = ctx->shpool->data;
        return NGX_OK;
    }

    ctx->sh = ngx_slab_alloc(ctx->shpool, sizeof(ngx_http_collab_limit_sh_t));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(ctx->sh, sizeof(ngx_http_collab_limit_sh_t));
    ctx->shpool->data = ctx->sh;

    ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&ctx->sh->queue);

    len = sizeof(" in collab_limit_ops_zone \"\"") + shm_zone->shm.name.len;

    ctx->shpool->log_ctx = ngx_slab_alloc(ctx->shpool, len);
    if (ctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->shpool->log_ctx, " in collab_limit_ops_zone \"%V\"%Z",
                &shm_zone->shm.name);

    ctx->shpool->log_nomem = 0;

    return NGX_OK;
}


/* "Nr/s" or "Nr/m" into 1/1000 requests a second */
static ngx_int_t
ngx_http_collab_limit_parse_rate(ngx_str_t *v, ngx_uint_t *rate)
{
    ngx_int_t  n, scale;

    if (v->len < 4 || v->data[v->len - 3] != 'r'
        || v->data[v->len - 2] != '/')
    {
        return NGX_ERROR;
    }

    if (v->data[v->len - 1] == 's') {
        scale = 1;

    } else if (v->data[v->len - 1] == 'm') {
        scale = 60;

    } else {
        return NGX_ERROR;
    }

    n = ngx_atoi(v->data, v->len - 3);

    if (n <= 0 || n > NGX_HTTP_COLLAB_LIMIT_RATE_MAX) {
        return NGX_ERROR;
    }

    *rate = n * 1000 / scale;

    return *rate ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_http_collab_limit_parse_num(ngx_str_t *v, ngx_uint_t *n)
{
    ngx_int_t  rc;

    rc = ngx_atoi(v->data, v->len);

    if (rc == NGX_ERROR || rc > NGX_HTTP_COLLAB_LIMIT_RATE_MAX) {
        return NGX_ERROR;
    }

    *n = rc;

    return NGX_OK;
}


/* the counters of every zone, summed: they are the host's, not a worker's */
static void
ngx_http_collab_limit_status(ngx_http_collab_status_t *st)
{
    uint64_t                      delayed, refused, closed, dropped;
    ngx_uint_t                    i;
    ngx_list_part_t              *part;
    ngx_shm_zone_t               *zone;
    ngx_http_collab_limit_ctx_t  *ctx;

    delayed = 0;
    refused = 0;
    closed = 0;
    dropped = 0;

    part = (ngx_list_part_t *) &ngx_cycle->shared_memory.part;
    zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            zone = part->elts;
            i = 0;
        }

        if (zone[i].tag != &ngx_http_collab_module
            || zone[i].init != ngx_http_collab_limit_init_zone)
        {
            continue;
        }

        ctx = zone[i].data;

        delayed += ctx->sh->delayed;
        refused += ctx->sh->refused;
        closed += ctx->sh->closed;
        dropped += ctx->sh->presence_dropped;
    }

    ngx_http_collab_status_counter(st, "ops_delayed", delayed);
    ngx_http_collab_status_counter(st, "ops_refused", refused);
    ngx_http_collab_status_counter(st, "closed_4429", closed);
    ngx_http_collab_status_counter(st, "presence_dropped", dropped);
}
