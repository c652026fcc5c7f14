/*
 * The Redis read cache: the value format and the only-if-newer write are
 * described in ngx_http_collab_cache.h.  Writes and reads are single
 * commands on the command connection, so a write never waits for the lock
 * connection's WATCH sequences and is never on an ack's path.
 */

#include "ngx_http_collab.h"
#include "redis/ngx_http_collab_redis.h"
#include "status/ngx_http_collab_status.h"
#include "protocol/collab_msg.h"
#include "cache/ngx_http_collab_cache.h"


#define NGX_HTTP_COLLAB_CACHE_DELETED  "-"


/* a lookup in flight */
typedef struct {
    ngx_http_collab_cache_pt   handler;
    void                      *data;
    ngx_str_t                  key;          /* heap: checks the value */
} ngx_http_collab_cache_get_t;


/* a write in flight: the key and the newest version it has put */
typedef struct {
    ngx_str_t                  key;          /* heap, after the struct */
    uint64_t                   v;
} ngx_http_collab_cache_put_t;


typedef struct {
    uint64_t                   hits;
    uint64_t                   misses;
    uint64_t                   writes;
    uint64_t                   rewrites;     /* newer values put back */
    uint64_t                   errors;
    uint64_t                   forged;       /* not signed by us: unused */
} ngx_http_collab_cache_stats_t;


static ngx_int_t ngx_http_collab_cache_key(ngx_str_t *name, ngx_str_t *key);
static ngx_int_t ngx_http_collab_cache_parse(u_char *p, size_t len,
    uint64_t *v, ngx_str_t *type, ngx_str_t *text);
static void ngx_http_collab_cache_got(redisReply *reply, void *data);
static ngx_int_t ngx_http_collab_cache_set(ngx_http_collab_cache_put_t *put,
    u_char *value, size_t len);
static void ngx_http_collab_cache_set_done(redisReply *reply, void *data);
static void ngx_http_collab_cache_status(ngx_http_collab_status_t *st);


static ngx_http_collab_main_conf_t    *ngx_http_collab_cache_conf;
static ngx_http_collab_cache_stats_t   ngx_http_collab_cache_stats;


ngx_int_t
ngx_http_collab_cache_init_process(ngx_cycle_t *cycle,
    ngx_http_collab_main_conf_t *cmcf)
{
    ngx_memzero(&ngx_http_collab_cache_stats,
                sizeof(ngx_http_collab_cache_stats_t));

    ngx_http_collab_cache_conf = cmcf;

    if (!ngx_http_collab_cache_enabled()) {
        return NGX_OK;
    }

    return ngx_http_collab_status_add_section("cache",
                                              ngx_http_collab_cache_status);
}


ngx_uint_t
ngx_http_collab_cache_enabled(void)
{
    return ngx_http_collab_cache_conf && ngx_http_collab_cache_conf->cache
           && ngx_http_collab_redis_enabled();
}


ngx_int_t
ngx_http_collab_cache_get(ngx_str_t *name, ngx_http_collab_cache_pt handler,
    void *data)
{
    size_t                        argvlen[2];
    ngx_int_t                     rc;
    ngx_str_t                     key;
    const char                   *argv[2];
    ngx_http_collab_cache_get_t  *get;

    if (!ngx_http_collab_cache_enabled()) {
        return NGX_DECLINED;
    }

    get = ngx_alloc(sizeof(ngx_http_collab_cache_get_t), ngx_cycle->log);
    if (get == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_collab_cache_key(name, &key) != NGX_OK) {
        ngx_free(get);
        return NGX_ERROR;
    }

    get->handler = handler;
    get->data = data;
    get->key = key;

    argv[0] = "GET";
    argvlen[0] = 3;
    argv[1] = (const char *) key.data;
    argvlen[1] = key.len;

    rc = ngx_http_collab_redis_command(2, argv, argvlen,
                                       ngx_http_collab_cache_got, get);

    if (rc != NGX_OK) {
        ngx_free(key.data);
        ngx_free(get);
        return rc;
    }

    return NGX_OK;
}


void
ngx_http_collab_cache_put(ngx_str_t *name, uint64_t v, collab_text_t *text)
{
    u_char                       *value, *p, *signed_value;
    size_t                        len, tlen;
    ngx_time_t                   *tp;
    ngx_http_collab_cache_put_t  *put;

    if (!ngx_http_collab_cache_enabled()) {
        return;
    }

    tlen = text ? collab_text_bytes(text) : 0;

    len = NGX_INT64_LEN + 1 + NGX_INT64_LEN + 1
          + sizeof(COLLAB_MSG_TYPE_TEXT_UNICODE) + tlen;

    put = ngx_alloc(sizeof(ngx_http_collab_cache_put_t), ngx_cycle->log);
    value = ngx_alloc(len + 1, ngx_cycle->log);

    if (put == NULL || value == NULL
        || ngx_http_collab_cache_key(name, &put->key) != NGX_OK)
    {
        ngx_http_collab_cache_stats.errors++;

        if (put) {
            ngx_free(put);
        }

        if (value) {
            ngx_free(value);
        }

        return;
    }

    put->v = v;

    tp = ngx_timeofday();

    p = ngx_sprintf(value, "%uL:%M:%s:", v,
                    (ngx_msec_t) (tp->sec * 1000 + tp->msec),
                    text ? COLLAB_MSG_TYPE_TEXT_UNICODE
                         : NGX_HTTP_COLLAB_CACHE_DELETED);

    if (text) {
        collab_text_copy(text, (char *) p);
        p += tlen;
    }

    /* signed as the bus is: a value nobody else could have written */
    signed_value = ngx_http_collab_redis_sign(&put->key, value, p - value,
                                              &len);

    if (signed_value == NULL
        || ngx_http_collab_cache_set(put, signed_value, len) != NGX_OK)
    {
        ngx_http_collab_cache_stats.errors++;
        ngx_free(put->key.data);
        ngx_free(put);

    } else {
        ngx_http_collab_cache_stats.writes++;
    }

    ngx_free(value);
}


static ngx_int_t
ngx_http_collab_cache_key(ngx_str_t *name, ngx_str_t *key)
{
    return ngx_http_collab_redis_name(NULL, NGX_HTTP_COLLAB_REDIS_CACHE,
                                      name, key);
}


/* "<v>:<ms>:<type>:<text>"; NGX_DECLINED if it is not that shape */
static ngx_int_t
ngx_http_collab_cache_parse(u_char *p, size_t len, uint64_t *v,
    ngx_str_t *type, ngx_str_t *text)
{
    u_char    *last, *colon;
    uint64_t   n;

    last = p + len;
    n = 0;

    if (p == last || *p < '0' || *p > '9') {
        return NGX_DECLINED;
    }

    while (p < last && *p >= '0' && *p <= '9') {
        if (n > (UINT64_MAX - 9) / 10) {
            return NGX_DECLINED;
        }

        n = n * 10 + (*p++ - '0');
    }

    if (p == last || *p++ != ':') {
        return NGX_DECLINED;
    }

    /* the commit time: for operators, not needed to serve */
    colon = ngx_strlchr(p, last, ':');
    if (colon == NULL) {
        return NGX_DECLINED;
    }

    p = colon + 1;

    /* the type URI has colons of its own: the known ones are matched */
    if ((size_t) (last - p) >= sizeof(COLLAB_MSG_TYPE_TEXT_UNICODE)
        && ngx_strncmp(p, COLLAB_MSG_TYPE_TEXT_UNICODE ":",
                       sizeof(COLLAB_MSG_TYPE_TEXT_UNICODE)) == 0)
    {
        type->len = sizeof(COLLAB_MSG_TYPE_TEXT_UNICODE) - 1;

    } else if (last - p >= 2 && p[0] == '-' && p[1] == ':') {
        type->len = 1;

    } else {
        return NGX_DECLINED;
    }

    type->data = p;

    text->data = p + type->len + 1;
    text->len = last - text->data;

    *v = n;

    return NGX_OK;
}


static void
ngx_http_collab_cache_got(redisReply *reply, void *data)
{
    ngx_http_collab_cache_get_t  *get = data;

    void                      *hdata;
    u_char                    *p;
    size_t                     len;
    uint64_t                   v;
    ngx_str_t                  type, text;
    ngx_http_collab_cache_pt   handler;

    handler = get->handler;
    hdata = get->data;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_free(get->key.data);
        ngx_free(get);
        ngx_http_collab_cache_stats.errors++;
        handler(hdata, NGX_DECLINED, 0, NULL, 0);
        return;
    }

    p = (u_char *) reply->str;
    len = reply->len;

    if (reply->type == REDIS_REPLY_STRING
        && ngx_http_collab_redis_verify(&get->key, &p, &len) != NGX_OK)
    {
        /* written by someone without the key: never served */
        ngx_http_collab_cache_stats.forged++;
        len = 0;
    }

    ngx_free(get->key.data);
    ngx_free(get);

    if (reply->type != REDIS_REPLY_STRING
        || len == 0
        || ngx_http_collab_cache_parse(p, len, &v, &type, &text)
           != NGX_OK
        || v == 0
        || type.len != sizeof(COLLAB_MSG_TYPE_TEXT_UNICODE) - 1
        || ngx_strncmp(type.data, COLLAB_MSG_TYPE_TEXT_UNICODE, type.len)
           != 0)
    {
        /* absent, a tombstone, or not ours */
        ngx_http_collab_cache_stats.misses++;
        handler(hdata, NGX_DECLINED, 0, NULL, 0);
        return;
    }

    ngx_http_collab_cache_stats.hits++;
    handler(hdata, NGX_OK, v, text.data, text.len);
}


/* SET key value PX ttl GET: the reply is the value displaced */
static ngx_int_t
ngx_http_collab_cache_set(ngx_http_collab_cache_put_t *put, u_char *value,
    size_t len)
{
    u_char      *p;
    size_t       argvlen[6];
    const char  *argv[6];
    u_char       ttl[NGX_INT_T_LEN];

    p = ngx_sprintf(ttl, "%M", ngx_http_collab_cache_conf->cache_ttl);

    argv[0] = "SET";
    argvlen[0] = 3;
    argv[1] = (const char *) put->key.data;
    argvlen[1] = put->key.len;
    argv[2] = (const char *) value;
    argvlen[2] = len;
    argv[3] = "PX";
    argvlen[3] = 2;
    argv[4] = (const char *) ttl;
    argvlen[4] = p - ttl;
    argv[5] = "GET";
    argvlen[5] = 3;

    return ngx_http_collab_redis_command(6, argv, argvlen,
                                         ngx_http_collab_cache_set_done,
                                         put);
}


static void
ngx_http_collab_cache_set_done(redisReply *reply, void *data)
{
    ngx_http_collab_cache_put_t  *put = data;

    u_char     *p;
    size_t      len;
    uint64_t    v;
    ngx_str_t   type, text;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        /* the entry may be old now: its TTL bounds that */
        if (reply) {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "collab: cache write of \"%V\" failed: %s",
                          &put->key, reply->str);
        }

        ngx_http_collab_cache_stats.errors++;
        goto done;
    }

    p = (u_char *) reply->str;
    len = reply->len;

    if (reply->type == REDIS_REPLY_STRING
        && ngx_http_collab_redis_verify(&put->key, &p, &len) == NGX_OK
        && ngx_http_collab_cache_parse(p, len, &v, &type, &text) == NGX_OK
        && v > put->v)
    {
        /* it displaced a newer value: that goes back, then it is done */
        put->v = v;
        ngx_http_collab_cache_stats.rewrites++;

        if (ngx_http_collab_cache_set(put, (u_char *) reply->str,
                                      reply->len)
            == NGX_OK)
        {
            return;
        }

        ngx_http_collab_cache_stats.errors++;
    }

done:

    ngx_free(put->key.data);
    ngx_free(put);
}


static void
ngx_http_collab_cache_status(ngx_http_collab_status_t *st)
{
    ngx_http_collab_cache_stats_t  *cs;

    cs = &ngx_http_collab_cache_stats;

    ngx_http_collab_status_counter(st, "hits", cs->hits);
    ngx_http_collab_status_counter(st, "misses", cs->misses);
    ngx_http_collab_status_counter(st, "writes", cs->writes);
    ngx_http_collab_status_counter(st, "rewrites", cs->rewrites);
    ngx_http_collab_status_counter(st, "errors", cs->errors);
    ngx_http_collab_status_counter(st, "forged", cs->forged);
}
