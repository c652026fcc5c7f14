/*
 * Health endpoints (see ngx_http_collab_health.h).
 *
 * Readiness is checked by this worker, on its own connections: one
 * SELECT 1 through the PostgreSQL pool and one PING on the Redis command
 * connection (when collab_redis is set).  The answer is kept for
 * NGX_HTTP_COLLAB_HEALTH_FRESH ms; requests that come while a check runs
 * wait for it, at most NGX_HTTP_COLLAB_HEALTH_TIMEOUT ms, after which
 * what did not answer counts as failed.
 */

#include "ngx_http_collab.h"
#include "store/ngx_http_collab_store.h"
#include "redis/ngx_http_collab_redis.h"
#include "status/ngx_http_collab_health.h"


#define NGX_HTTP_COLLAB_HEALTH_LIVE     1
#define NGX_HTTP_COLLAB_HEALTH_READY    2

#define NGX_HTTP_COLLAB_HEALTH_FRESH    1000
#define NGX_HTTP_COLLAB_HEALTH_TIMEOUT  2000


typedef struct {
    ngx_queue_t                queue;
    ngx_http_request_t        *request;
} ngx_http_collab_health_wait_t;


typedef struct {
    ngx_msec_t                 checked;     /* when the last check ended */
    ngx_queue_t                waiting;
    ngx_event_t                timeout;
    ngx_uint_t                 pending;     /* answers still out */
    unsigned                   valid:1;
    unsigned                   running:1;
    unsigned                   pg_ok:1;
    unsigned                   redis_ok:1;
    unsigned                   inited:1;
} ngx_http_collab_health_state_t;


static ngx_int_t ngx_http_collab_health_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_collab_health_start(void);
static void ngx_http_collab_health_pg_done(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res);
static void ngx_http_collab_health_redis_done(redisReply *reply, void *data);
static void ngx_http_collab_health_timeout(ngx_event_t *ev);
static void ngx_http_collab_health_done(void);
static ngx_int_t ngx_http_collab_health_send(ngx_http_request_t *r,
    ngx_uint_t ready);


static ngx_http_collab_health_state_t  ngx_http_collab_health_state;
static ngx_connection_t                ngx_http_collab_health_conn;


char *
ngx_http_collab_health(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_collab_loc_conf_t  *clcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *hclcf;

    if (clcf->health) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "live") == 0) {
        clcf->health = NGX_HTTP_COLLAB_HEALTH_LIVE;

    } else if (ngx_strcmp(value[1].data, "ready") == 0) {
        clcf->health = NGX_HTTP_COLLAB_HEALTH_READY;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: \"collab_health\" takes \"live\" or "
                           "\"ready\", not \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    hclcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    hclcf->handler = ngx_http_collab_health_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_collab_health_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_http_collab_health_wait_t   *w;
    ngx_http_collab_loc_conf_t      *clcf;
    ngx_http_collab_health_state_t  *h;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_collab_module);

    if (clcf->health == NGX_HTTP_COLLAB_HEALTH_LIVE) {
        return ngx_http_collab_health_send(r, 1);
    }

    h = &ngx_http_collab_health_state;

    if (!h->inited) {
        ngx_queue_init(&h->waiting);
        ngx_http_collab_health_conn.fd = (ngx_socket_t) -1;
        h->timeout.handler = ngx_http_collab_health_timeout;
        h->timeout.data = &ngx_http_collab_health_conn;
        h->timeout.log = ngx_cycle->log;
        h->timeout.cancelable = 1;
        h->inited = 1;
    }

    if (h->valid && !h->running
        && ngx_current_msec - h->checked < NGX_HTTP_COLLAB_HEALTH_FRESH)
    {
        return ngx_http_collab_health_send(r, h->pg_ok && h->redis_ok);
    }

    w = ngx_palloc(r->pool, sizeof(ngx_http_collab_health_wait_t));
    if (w == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    w->request = r;
    ngx_queue_insert_tail(&h->waiting, &w->queue);
    r->main->count++;

    if (!h->running && ngx_http_collab_health_start() != NGX_OK) {
        ngx_http_collab_health_done();
    }

    return NGX_DONE;
}


static ngx_int_t
ngx_http_collab_health_start(void)
{
    const char                      *argv[1];
    size_t                           argvlen[1];
    ngx_http_collab_health_state_t  *h;

    h = &ngx_http_collab_health_state;

    h->running = 1;
    h->pg_ok = 0;
    h->redis_ok = !ngx_http_collab_redis_enabled();
    h->pending = 0;

    ngx_add_timer(&h->timeout, NGX_HTTP_COLLAB_HEALTH_TIMEOUT);

    if (ngx_http_collab_store_ping(ngx_http_collab_health_pg_done, h)
        == NGX_OK)
    {
        h->pending++;
    }

    if (!h->redis_ok) {
        argv[0] = "PING";
        argvlen[0] = 4;

        if (ngx_http_collab_redis_command(1, argv, argvlen,
                                          ngx_http_collab_health_redis_done,
                                          h)
            == NGX_OK)
        {
            h->pending++;
        }
    }

    return h->pending ? NGX_OK : NGX_DECLINED;
}


static void
ngx_http_collab_health_pg_done(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res)
{
    ngx_http_collab_health_state_t  *h = data;

    ngx_http_collab_store_result_free(res);

    if (!h->running) {
        /* the timeout answered already */
        return;
    }

    h->pg_ok = (rc == NGX_HTTP_COLLAB_STORE_OK);

    if (--h->pending == 0) {
        ngx_http_collab_health_done();
    }
}


static void
ngx_http_collab_health_redis_done(redisReply *reply, void *data)
{
    ngx_http_collab_health_state_t  *h = data;

    if (!h->running) {
        return;
    }

    h->redis_ok = (reply && reply->type == REDIS_REPLY_STATUS
                   && reply->len == 4
                   && ngx_strncmp(reply->str, "PONG", 4) == 0);

    if (--h->pending == 0) {
        ngx_http_collab_health_done();
    }
}


static void
ngx_http_collab_health_timeout(ngx_event_t *ev)
{
    ngx_http_collab_health_done();
}


/* the check ended: every waiting request gets its answer */
static void
ngx_http_collab_health_done(void)
{
    ngx_queue_t                     *q;
    ngx_http_request_t              *r;
    ngx_http_collab_health_wait_t   *w;
    ngx_http_collab_health_state_t  *h;

    h = &ngx_http_collab_health_state;

    if (h->timeout.timer_set) {
        ngx_del_timer(&h->timeout);
    }

    h->running = 0;
    h->valid = 1;
    h->checked = ngx_current_msec;
    h->pending = 0;

    while (!ngx_queue_empty(&h->waiting)) {
        q = ngx_queue_head(&h->waiting);
        ngx_queue_remove(q);

        w = ngx_queue_data(q, ngx_http_collab_health_wait_t, queue);
        r = w->request;

        ngx_http_finalize_request(r, ngx_http_collab_health_send(r,
                                             h->pg_ok && h->redis_ok));
    }
}


static ngx_int_t
ngx_http_collab_health_send(ngx_http_request_t *r, ngx_uint_t ready)
{
    u_char                          *p;
    ngx_int_t                        rc;
    ngx_buf_t                       *b;
    ngx_chain_t                      out;
    ngx_http_collab_loc_conf_t      *clcf;
    ngx_http_collab_health_state_t  *h;

    h = &ngx_http_collab_health_state;
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_collab_module);

    b = ngx_create_temp_buf(r->pool, 256);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->last;

    if (clcf->health == NGX_HTTP_COLLAB_HEALTH_LIVE) {
        p = ngx_sprintf(p, "{\"status\":\"pass\"}\n");

    } else {
        p = ngx_sprintf(p, "{\"status\":\"%s\",\"checks\":{"
                        "\"postgres\":{\"status\":\"%s\"}",
                        ready ? "pass" : "fail", h->pg_ok ? "pass" : "fail");

        if (ngx_http_collab_redis_enabled()) {
            p = ngx_sprintf(p, ",\"redis\":{\"status\":\"%s\"}",
                            h->redis_ok ? "pass" : "fail");
        }

        p = ngx_sprintf(p, "}}\n");
    }

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = ready ? NGX_HTTP_OK
                                  : NGX_HTTP_SERVICE_UNAVAILABLE;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/health+json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    /* a probe must never be answered from a cache */
    r->headers_out.last_modified_time = -1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
