/*
 * WebSocket sessions inside nginx workers.
 *
 * The handler checks the upgrade request, asks the protocol layer
 * (ngx_http_collab_session_pre_upgrade) and sends the 101; from then on the
 * connection's read and write handlers are ours.  Once the 101 is out the
 * request is freed (it is logged then) with its pool and header buffers:
 * an idle socket keeps only the connection, its small pool and our heap
 * context.  Input is read into one per-worker buffer and parsed in place,
 * a message split over several reads is assembled in a heap buffer sized
 * from the declared frame length and freed at the end of the message, and
 * output is a ring of shared, refcounted frames written with one writev.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_sha1.h>

#include "ngx_http_collab.h"
#include "ws/collab_ws_frame.h"
#include "ws/ngx_http_collab_ws.h"
#include "auth/ngx_http_collab_auth.h"
#include "protocol/ngx_http_collab_session.h"


#define NGX_HTTP_COLLAB_WS_GUID     "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* one per worker: every read lands here and is parsed before the next */
#define NGX_HTTP_COLLAB_WS_RBUF     16384

/* reads per event before yielding to other connections */
#define NGX_HTTP_COLLAB_WS_READS    16

/* frames handed to one send_chain() call */
#define NGX_HTTP_COLLAB_WS_IOVS     64

/* how long we wait for the peer's close frame after sending ours */
#define NGX_HTTP_COLLAB_WS_LINGER   2000

#define NGX_HTTP_COLLAB_WS_UPGRADE_REQUIRED  426

/* the ring of queued frames starts (and stays, when idle) this small */
#define NGX_HTTP_COLLAB_WS_RING     8


typedef struct {
    ngx_http_collab_ws_t        ws;          /* first: the public part */

    ngx_queue_t                 queue;       /* the worker's sessions */
    ngx_pool_cleanup_t         *cln;         /* in r->pool until detached */
    ngx_event_t                 timer;       /* ping, pong, linger */
    ngx_msec_t                  pong_wait;   /* of the ping sent */
    ngx_msec_t                  last_recv;

    collab_ws_parser_t          parser;

    u_char                     *msg;         /* message being assembled */
    size_t                      msg_len;
    size_t                      msg_cap;

    ngx_http_collab_frame_t   **out;         /* ring of queued frames */
    ngx_uint_t                  out_head;
    ngx_uint_t                  out_n;
    ngx_uint_t                  out_cap;
    size_t                      out_pos;     /* written of the head frame */
    size_t                      out_bytes;   /* queued and not written */

    unsigned                    opened:1;    /* session_open succeeded */
    unsigned                    closed:1;    /* torn down */
    unsigned                    in_handler:1;
    unsigned                    destroy:1;   /* tear down when unwound */
    unsigned                    ping_sent:1;
    unsigned                    probe:1;     /* ping now, answer soon */
    unsigned                    close_sent:1;
    unsigned                    close_flushed:1;
    unsigned                    close_received:1;
    unsigned                    failed:1;    /* protocol error: discard */
    unsigned                    linger:1;
} ngx_http_collab_ws_ctx_t;


static ngx_int_t ngx_http_collab_ws_check(ngx_http_request_t *r,
    ngx_http_collab_loc_conf_t *clcf, ngx_str_t *key, const char **name,
    const char **value);
static ngx_table_elt_t *ngx_http_collab_ws_header(ngx_http_request_t *r,
    const char *name, size_t len, const char *token);
static ngx_int_t ngx_http_collab_ws_origin_allowed(ngx_http_request_t *r,
    ngx_http_collab_loc_conf_t *clcf);
static ngx_int_t ngx_http_collab_ws_refuse(ngx_http_request_t *r,
    ngx_uint_t status, const char *line, const char *name,
    const char *value);
static ngx_int_t ngx_http_collab_ws_add_header(ngx_http_request_t *r,
    const char *name, u_char *value, size_t len);
static ngx_int_t ngx_http_collab_ws_accept(ngx_http_request_t *r,
    ngx_str_t *key);
static void ngx_http_collab_ws_upgrade_handler(ngx_event_t *ev);
static void ngx_http_collab_ws_detach(ngx_http_collab_ws_ctx_t *ctx);
static void ngx_http_collab_ws_free_buffers(ngx_connection_t *c,
    ngx_http_connection_t *hc);
static void ngx_http_collab_ws_read_handler(ngx_event_t *rev);
static void ngx_http_collab_ws_write_handler(ngx_event_t *wev);
static void ngx_http_collab_ws_timer_handler(ngx_event_t *ev);
static void ngx_http_collab_ws_input(ngx_http_collab_ws_ctx_t *ctx,
    u_char *p, size_t len);
static void ngx_http_collab_ws_data(ngx_http_collab_ws_ctx_t *ctx,
    collab_ws_event_t *ev);
static void ngx_http_collab_ws_control(ngx_http_collab_ws_ctx_t *ctx,
    collab_ws_event_t *ev);
static void ngx_http_collab_ws_fail(ngx_http_collab_ws_ctx_t *ctx,
    ngx_uint_t code, const char *reason);
static ngx_int_t ngx_http_collab_ws_enqueue(ngx_http_collab_ws_ctx_t *ctx,
    ngx_http_collab_frame_t *f);
static ngx_int_t ngx_http_collab_ws_send_control(
    ngx_http_collab_ws_ctx_t *ctx, int opcode, const u_char *payload,
    size_t len);
static void ngx_http_collab_ws_flush(ngx_http_collab_ws_ctx_t *ctx);
static void ngx_http_collab_ws_flushed_close(ngx_http_collab_ws_ctx_t *ctx);
static void ngx_http_collab_ws_set_timer(ngx_http_collab_ws_ctx_t *ctx,
    ngx_msec_t ms, ngx_uint_t cancelable);
static void ngx_http_collab_ws_finalize(ngx_http_collab_ws_ctx_t *ctx);
static void ngx_http_collab_ws_teardown(ngx_http_collab_ws_ctx_t *ctx);
static void ngx_http_collab_ws_cleanup(void *data);
static ngx_http_collab_frame_t *ngx_http_collab_ws_frame(int opcode,
    const u_char *payload, size_t len, ngx_log_t *log);


static ngx_queue_t   ngx_http_collab_ws_sessions;
static ngx_uint_t    ngx_http_collab_ws_inited;
static u_char       *ngx_http_collab_ws_rbuf;


ngx_int_t
ngx_http_collab_ws_init_process(ngx_cycle_t *cycle)
{
    ngx_queue_init(&ngx_http_collab_ws_sessions);
    ngx_http_collab_ws_inited = 1;

    return NGX_OK;
}


void
ngx_http_collab_ws_exit_process(ngx_cycle_t *cycle)
{
    size_t                     n;
    u_char                     buf[2 + COLLAB_WS_MAX_CONTROL];
    ngx_queue_t               *q;
    ngx_connection_t          *c;
    ngx_http_collab_ws_ctx_t  *ctx;

    if (!ngx_http_collab_ws_inited) {
        return;
    }

    /*
     * Sessions still open here did not finish their close handshake in
     * time: send 1001 when nothing is half written, then drop them.
     */

    while (!ngx_queue_empty(&ngx_http_collab_ws_sessions)) {
        q = ngx_queue_head(&ngx_http_collab_ws_sessions);
        ctx = ngx_queue_data(q, ngx_http_collab_ws_ctx_t, queue);
        c = ctx->ws.connection;

        if (!ctx->close_sent && ctx->out_pos == 0 && !c->error) {
            n = collab_ws_encode_close(buf, COLLAB_WS_CLOSE_GOING_AWAY,
                                       "server shutting down", 20);
            (void) c->send(c, buf, n);
        }

        ctx->in_handler = 0;
        ngx_http_collab_ws_finalize(ctx);
    }

    if (ngx_http_collab_ws_rbuf) {
        ngx_free(ngx_http_collab_ws_rbuf);
        ngx_http_collab_ws_rbuf = NULL;
    }
}


char *
ngx_http_collab_ws_allowed_origins(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_collab_loc_conf_t  *clcf = conf;

    u_char      *p, *host;
    ngx_str_t   *value, *o;
    ngx_uint_t   i;

    if (clcf->allowed_origins != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    clcf->allowed_origins = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                             sizeof(ngx_str_t));
    if (clcf->allowed_origins == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        /* browsers send the scheme, host and port, lowercase, no path */

        if (!(value[i].len == 1 && value[i].data[0] == '*')) {
            p = ngx_strlcasestrn(value[i].data,
                                 value[i].data + value[i].len,
                                 (u_char *) "://", 2);
            host = p ? p + 3 : NULL;

            if (p == NULL || p == value[i].data
                || host == value[i].data + value[i].len
                || ngx_strlchr(host, value[i].data + value[i].len, '/')
                   != NULL)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "collab: invalid origin \"%V\" in "
                                   "\"collab_allowed_origins\": expected "
                                   "\"*\" or scheme://host[:port]",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }
        }

        o = ngx_array_push(clcf->allowed_origins);
        if (o == NULL) {
            return NGX_CONF_ERROR;
        }

        *o = value[i];
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_collab_ws_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_str_t                    key;
    ngx_http_collab_auth_t       who;
    const char                  *name, *value, *reason, *reject;
    ngx_connection_t            *c;
    ngx_pool_cleanup_t          *cln;
    ngx_http_collab_ws_ctx_t    *ctx;
    ngx_http_core_loc_conf_t    *hclcf;
    ngx_http_collab_loc_conf_t  *clcf;

    c = r->connection;
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_collab_module);

    ngx_str_null(&key);
    name = NULL;
    value = NULL;
    reject = NULL;

    rc = ngx_http_collab_ws_check(r, clcf, &key, &name, &value);

    if (rc == NGX_HTTP_COLLAB_WS_UPGRADE_REQUIRED) {
        /* nginx has no reason phrase or page for 426: our own response */
        return ngx_http_collab_ws_refuse(r, rc, "426 Upgrade Required",
                                         name, value);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_collab_session_pre_upgrade(r, &who, &reason);

    if (rc == NGX_HTTP_UNAUTHORIZED) {
        if (!clcf->auth.close) {
            return ngx_http_collab_auth_deny(r, reason);
        }

        /*
         * A browser cannot read a refused upgrade's status: upgrade,
         * then close with 4401 and the reason, before any message.
         */
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "collab: token rejected: %s (closed with 4401)",
                      reason ? reason : "no token");
        reject = reason ? reason : "no token";
        ngx_memzero(&who, sizeof(ngx_http_collab_auth_t));
        ngx_str_set(&who.principal, "");

    } else if (rc != NGX_OK) {
        return (rc == NGX_ERROR) ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc;
    }


    if (!ngx_http_collab_ws_inited) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_collab_ws_rbuf == NULL) {
        ngx_http_collab_ws_rbuf = ngx_alloc(NGX_HTTP_COLLAB_WS_RBUF, c->log);
        if (ngx_http_collab_ws_rbuf == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /* on the heap: it outlives the request */

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = ngx_calloc(sizeof(ngx_http_collab_ws_ctx_t), c->log);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->ws.request = r;
    ctx->ws.who = who;
    ctx->ws.connection = c;
    ctx->ws.conf = clcf;
    ctx->ws.priv = ctx;
    ctx->closed = 1;              /* until it is in the session list */

    ctx->cln = cln;
    cln->handler = ngx_http_collab_ws_cleanup;
    cln->data = ctx;

    if (ngx_http_collab_ws_accept(r, &key) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_collab_module);

    ngx_http_discard_request_body(r);

    r->keepalive = 0;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_send_special(r, NGX_HTTP_FLUSH) == NGX_ERROR) {
        return NGX_ERROR;
    }

    /* the connection is ours from here on */

    r->main->count++;

    c->log->action = "handling WebSocket";

    /*
     * The request is freed from a posted event, once this call chain has
     * unwound (nginx still uses the request after this handler returns)
     */
    c->read->handler = ngx_http_collab_ws_upgrade_handler;
    c->write->handler = ngx_http_collab_ws_upgrade_handler;

    /* ngx_close_idle_connections() reaches us on shutdown and reload */
    c->idle = 1;

    hclcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
    if (hclcf->tcp_nodelay) {
        (void) ngx_tcp_nodelay(c);
    }

    collab_ws_parser_init(&ctx->parser, clcf->max_message_size);

    ctx->timer.handler = ngx_http_collab_ws_timer_handler;
    ctx->timer.data = ctx;
    ctx->timer.log = c->log;
    ctx->last_recv = ngx_current_msec;

    ctx->closed = 0;
    ngx_queue_insert_tail(&ngx_http_collab_ws_sessions, &ctx->queue);

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0, "collab ws: upgraded");

    if (clcf->ping_interval) {
        ngx_http_collab_ws_set_timer(ctx, clcf->ping_interval, 1);
    }

    ctx->in_handler = 1;

    if (ngx_http_collab_session_open(&ctx->ws) != NGX_OK) {
        ngx_http_collab_ws_fail(ctx, COLLAB_WS_CLOSE_INTERNAL,
                                "session open failed");

    } else {
        ctx->opened = 1;

        if (reject) {
            ngx_http_collab_ws_close(&ctx->ws, NGX_HTTP_COLLAB_CLOSE_EXPIRED,
                                     reject);
        }
    }

    ctx->in_handler = 0;

    /* even a failed session is closed from there: nginx still uses r */
    ngx_post_event(c->write, &ngx_posted_events);

    return NGX_DONE;
}


static void
ngx_http_collab_ws_upgrade_handler(ngx_event_t *ev)
{
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_collab_ws_ctx_t  *ctx;

    c = ev->data;
    r = c->data;
    ctx = ngx_http_get_module_ctx(r, ngx_http_collab_module);

    ngx_http_collab_ws_detach(ctx);
}


/*
 * Once the 101 is written, free the request: its pool (with the request
 * struct, header lists and module contexts) and the header buffers are
 * most of an idle socket's memory.  Bytes pipelined behind the request are
 * parsed first, then the connection's handlers are the WebSocket ones.
 */

static void
ngx_http_collab_ws_detach(ngx_http_collab_ws_ctx_t *ctx)
{
    ngx_buf_t              *b;
    ngx_connection_t       *c;
    ngx_http_request_t     *r;
    ngx_http_connection_t  *hc;

    c = ctx->ws.connection;
    r = ctx->ws.request;

    if (ctx->destroy) {
        ngx_http_collab_ws_finalize(ctx);
        return;
    }

    if (c->buffered) {
        if (ngx_http_output_filter(r, NULL) == NGX_ERROR) {
            c->error = 1;
            ngx_http_collab_ws_finalize(ctx);
            return;
        }

        if (c->buffered) {
            if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
                ngx_http_collab_ws_finalize(ctx);
            }

            return;
        }
    }

    b = r->header_in;
    hc = r->http_connection;

    ctx->cln->handler = NULL;
    ctx->cln = NULL;
    ctx->ws.request = NULL;

    ngx_http_free_request(r, 0);

    c->data = ctx;
    c->read->handler = ngx_http_collab_ws_read_handler;
    c->write->handler = ngx_http_collab_ws_write_handler;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "collab ws: request freed");

    /* header buffers live in c->pool: parse what follows, then free */

    if (b->pos < b->last) {
        ctx->in_handler = 1;
        ngx_http_collab_ws_input(ctx, b->pos, b->last - b->pos);
        ctx->in_handler = 0;
    }

    ngx_http_collab_ws_free_buffers(c, hc);

    if (ctx->destroy) {
        ngx_http_collab_ws_finalize(ctx);
        return;
    }

    if (c->read->ready || c->close) {
        ngx_http_collab_ws_read_handler(c->read);
        return;
    }

    ngx_http_collab_ws_flush(ctx);

    if (ctx->destroy) {
        ngx_http_collab_ws_finalize(ctx);
    }
}


/* what ngx_http_set_keepalive() frees, for good */

static void
ngx_http_collab_ws_free_buffers(ngx_connection_t *c,
    ngx_http_connection_t *hc)
{
    ngx_chain_t  *cl, *ln;

    for (cl = hc->busy; cl; /* void */) {
        ln = cl;
        cl = cl->next;
        ngx_pfree(c->pool, ln->buf->start);
        ngx_free_chain(c->pool, ln);
    }

    for (cl = hc->free; cl; /* void */) {
        ln = cl;
        cl = cl->next;
        ngx_pfree(c->pool, ln->buf->start);
        ngx_free_chain(c->pool, ln);
    }

    hc->busy = NULL;
    hc->free = NULL;
    hc->nbusy = 0;

    if (c->buffer && c->buffer->start
        && ngx_pfree(c->pool, c->buffer->start) == NGX_OK)
    {
        c->buffer->start = NULL;
        c->buffer->pos = NULL;
        c->buffer->last = NULL;
        c->buffer->end = NULL;
    }

#if (NGX_HTTP_SSL)
    if (c->ssl) {
        ngx_ssl_free_buffer(c);
    }
#endif
}


static ngx_int_t
ngx_http_collab_ws_check(ngx_http_request_t *r,
    ngx_http_collab_loc_conf_t *clcf, ngx_str_t *key, const char **name,
    const char **value)
{
    u_char            buf[24];
    ngx_str_t         decoded;
    ngx_table_elt_t  *h;

    if (r != r->main) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->http_version != NGX_HTTP_VERSION_11) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "collab: WebSocket upgrade needs HTTP/1.1");
        return NGX_HTTP_BAD_REQUEST;
    }

    if (r->method != NGX_HTTP_GET) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    h = r->headers_in.upgrade;

    if (h == NULL
        || ngx_strlcasestrn(h->value.data, h->value.data + h->value.len,
                            (u_char *) "websocket", sizeof("websocket") - 2)
           == NULL
        || ngx_http_collab_ws_header(r, "Connection",
                                     sizeof("Connection") - 1, "upgrade")
           == NULL)
    {
        *name = "Upgrade";
        *value = "websocket";
        return NGX_HTTP_COLLAB_WS_UPGRADE_REQUIRED;
    }

    h = ngx_http_collab_ws_header(r, "Sec-WebSocket-Version",
                                  sizeof("Sec-WebSocket-Version") - 1, NULL);

    if (h == NULL || h->value.len != 2
        || ngx_strncmp(h->value.data, "13", 2) != 0)
    {
        *name = "Sec-WebSocket-Version";
        *value = "13";
        return NGX_HTTP_COLLAB_WS_UPGRADE_REQUIRED;
    }

    /* the key must be base64 of exactly 16 bytes */

    h = ngx_http_collab_ws_header(r, "Sec-WebSocket-Key",
                                  sizeof("Sec-WebSocket-Key") - 1, NULL);

    if (h == NULL || h->value.len != 24
        || h->value.data[22] != '=' || h->value.data[23] != '=')
    {
        return NGX_HTTP_BAD_REQUEST;
    }

    decoded.data = buf;

    if (ngx_decode_base64(&decoded, &h->value) != NGX_OK
        || decoded.len != 16)
    {
        return NGX_HTTP_BAD_REQUEST;
    }

    *key = h->value;

    if (ngx_http_collab_ws_origin_allowed(r, clcf) != NGX_OK) {
        return NGX_HTTP_FORBIDDEN;
    }

    return NGX_OK;
}


/*
 * The first request header named name, or with token not NULL the first
 * such header whose value contains token (any case): nginx does not keep
 * "Connection", and there may be several of them
 */

static ngx_table_elt_t *
ngx_http_collab_ws_header(ngx_http_request_t *r, const char *name,
    size_t len, const char *token)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != len
            || ngx_strncasecmp(h[i].key.data, (u_char *) name, len) != 0)
        {
            continue;
        }

        if (token == NULL
            || ngx_strlcasestrn(h[i].value.data,
                                h[i].value.data + h[i].value.len,
                                (u_char *) token, ngx_strlen(token) - 1)
               != NULL)
        {
            return &h[i];
        }
    }
}


static ngx_int_t
ngx_http_collab_ws_origin_allowed(ngx_http_request_t *r,
    ngx_http_collab_loc_conf_t *clcf)
{
    ngx_str_t        *o;
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    if (clcf->allowed_origins == NULL) {
        return NGX_OK;
    }

    o = clcf->allowed_origins->elts;

    for (i = 0; i < clcf->allowed_origins->nelts; i++) {
        if (o[i].len == 1 && o[i].data[0] == '*') {
            return NGX_OK;
        }
    }

    /* a list is configured: an absent Origin is refused too */

    h = ngx_http_collab_ws_header(r, "Origin", sizeof("Origin") - 1, NULL);

    if (h != NULL) {
        for (i = 0; i < clcf->allowed_origins->nelts; i++) {
            if (o[i].len == h->value.len
                && ngx_strncasecmp(o[i].data, h->value.data, o[i].len) == 0)
            {
                return NGX_OK;
            }
        }
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "collab: WebSocket origin \"%V\" not allowed",
                  h ? &h->value : &r->headers_in.server);

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_collab_ws_refuse(ngx_http_request_t *r, ngx_uint_t status,
    const char *line, const char *name, const char *value)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    ngx_http_discard_request_body(r);

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = (u_char *) line + 4;
    b->last = b->pos + ngx_strlen(b->pos);
    b->memory = 1;
    b->last_buf = 1;

    if (ngx_http_collab_ws_add_header(r, name, (u_char *) value,
                                      ngx_strlen(value))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    r->headers_out.status = status;
    r->headers_out.status_line.data = (u_char *) line;
    r->headers_out.status_line.len = ngx_strlen(line);
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "text/plain");

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_collab_ws_add_header(ngx_http_request_t *r, const char *name,
    u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value.data = value;
    h->value.len = len;

    return NGX_OK;
}


static ngx_int_t
ngx_http_collab_ws_accept(ngx_http_request_t *r, ngx_str_t *key)
{
    u_char       *p, digest[20];
    ngx_str_t     src, dst;
    ngx_sha1_t    sha1;

    p = ngx_pnalloc(r->pool, ngx_base64_encoded_length(20));
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, key->data, key->len);
    ngx_sha1_update(&sha1, NGX_HTTP_COLLAB_WS_GUID,
                    sizeof(NGX_HTTP_COLLAB_WS_GUID) - 1);
    ngx_sha1_final(digest, &sha1);

    src.data = digest;
    src.len = 20;
    dst.data = p;

    ngx_encode_base64(&dst, &src);

    r->headers_out.status = NGX_HTTP_SWITCHING_PROTOCOLS;
    ngx_str_set(&r->headers_out.status_line, "101 Switching Protocols");

    if (ngx_http_collab_ws_add_header(r, "Upgrade", (u_char *) "websocket",
                                      sizeof("websocket") - 1)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_collab_ws_add_header(r, "Sec-WebSocket-Accept",
                                         dst.data, dst.len);
}


static void
ngx_http_collab_ws_read_handler(ngx_event_t *rev)
{
    ssize_t                    n;
    ngx_uint_t                 i;
    ngx_connection_t          *c;
    ngx_http_collab_ws_ctx_t  *ctx;

    c = rev->data;
    ctx = c->data;

    if (c->close) {

        /* ngx_close_idle_connections() or the shutdown timer */

        c->close = 0;

        if (c->error || ctx->close_sent) {
            ngx_http_collab_ws_finalize(ctx);
            return;
        }

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "collab ws: worker shutting down, close 1001");

        ngx_http_collab_ws_close(&ctx->ws, COLLAB_WS_CLOSE_GOING_AWAY,
                                 "server shutting down");
        return;
    }

    ctx->in_handler = 1;

    for (i = 0; i < NGX_HTTP_COLLAB_WS_READS && !ctx->destroy; i++) {

        n = c->recv(c, ngx_http_collab_ws_rbuf, NGX_HTTP_COLLAB_WS_RBUF);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
                ctx->destroy = 1;
            }

            break;
        }

        if (n == 0 || n == NGX_ERROR) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                           "collab ws: peer closed the connection");
            rev->eof = 1;
            ctx->destroy = 1;
            break;
        }

        ctx->last_recv = ngx_current_msec;
        ctx->ping_sent = 0;

        ngx_http_collab_ws_input(ctx, ngx_http_collab_ws_rbuf, n);
    }

    if (i == NGX_HTTP_COLLAB_WS_READS && rev->ready) {
        /* let other connections run; we come back to this one */
        ngx_post_event(rev, &ngx_posted_events);
    }

    ctx->in_handler = 0;

    if (!ctx->destroy) {
        ngx_http_collab_ws_flush(ctx);
    }

    if (ctx->destroy) {
        ngx_http_collab_ws_finalize(ctx);
    }
}


static void
ngx_http_collab_ws_write_handler(ngx_event_t *wev)
{
    ngx_connection_t          *c;
    ngx_http_collab_ws_ctx_t  *ctx;

    c = wev->data;
    ctx = c->data;

    if (wev->timedout) {
        /* it stopped reading: its queued frames go with it */
        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                      "collab: client read nothing of %uz queued bytes "
                      "for %M ms, closing", ctx->out_bytes,
                      ctx->ws.conf->send_timeout);
        c->timedout = 1;
        ctx->destroy = 1;
        ngx_http_collab_ws_finalize(ctx);
        return;
    }

    ngx_http_collab_ws_flush(ctx);

    if (ctx->destroy) {
        ngx_http_collab_ws_finalize(ctx);
    }
}


static void
ngx_http_collab_ws_timer_handler(ngx_event_t *ev)
{
    ngx_msec_t                   elapsed;
    ngx_connection_t            *c;
    ngx_http_collab_ws_ctx_t    *ctx;
    ngx_http_collab_loc_conf_t  *clcf;

    ctx = ev->data;
    c = ctx->ws.connection;
    clcf = ctx->ws.conf;

    if (ctx->close_sent) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "collab ws: close handshake timed out");
        ngx_http_collab_ws_finalize(ctx);
        return;
    }

    if (ctx->ping_sent) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "collab: no pong within %M ms, closing",
                      ctx->pong_wait);
        c->timedout = 1;
        ngx_http_collab_ws_finalize(ctx);
        return;
    }

    if (!ctx->probe && clcf->ping_interval == 0) {
        /* a probe was answered; no keepalive */
        return;
    }

    elapsed = ngx_current_msec - ctx->last_recv;

    if (!ctx->probe && elapsed < clcf->ping_interval) {
        ngx_http_collab_ws_set_timer(ctx, clcf->ping_interval - elapsed, 1);
        return;
    }

    if (ngx_http_collab_ws_send_control(ctx, COLLAB_WS_OP_PING, NULL, 0)
        != NGX_OK)
    {
        return;
    }

    if (ctx->probe) {
        ctx->probe = 0;
        ctx->ping_sent = 1;
        ctx->pong_wait = clcf->pong_timeout
                         ? ngx_min(clcf->pong_timeout,
                                   NGX_HTTP_COLLAB_WS_PROBE_WAIT)
                         : NGX_HTTP_COLLAB_WS_PROBE_WAIT;
        ngx_http_collab_ws_set_timer(ctx, ctx->pong_wait, 1);

    } else if (clcf->pong_timeout) {
        ctx->ping_sent = 1;
        ctx->pong_wait = clcf->pong_timeout;
        ngx_http_collab_ws_set_timer(ctx, clcf->pong_timeout, 1);

    } else {
        ngx_http_collab_ws_set_timer(ctx, clcf->ping_interval, 1);
    }

    ngx_http_collab_ws_flush(ctx);

    if (ctx->destroy) {
        ngx_http_collab_ws_finalize(ctx);
    }
}


static void
ngx_http_collab_ws_input(ngx_http_collab_ws_ctx_t *ctx, u_char *p,
    size_t len)
{
    size_t             n;
    collab_ws_event_t  ev;

    while (!ctx->destroy && !ctx->failed) {

        n = collab_ws_parse(&ctx->parser, p, len, &ev);
        p += n;
        len -= n;

        switch (ev.type) {

        case COLLAB_WS_EV_NONE:
            return;

        case COLLAB_WS_EV_ERROR:
            ngx_log_error(NGX_LOG_INFO, ctx->ws.connection->log, 0,
                          "collab: closing WebSocket with %d: %s",
                          (int) ev.close_code, ev.error);
            ngx_http_collab_ws_fail(ctx, ev.close_code, ev.error);
            return;

        case COLLAB_WS_EV_DATA:
            ngx_http_collab_ws_data(ctx, &ev);
            break;

        default: /* COLLAB_WS_EV_CONTROL */
            ngx_http_collab_ws_control(ctx, &ev);
            break;
        }
    }
}


static void
ngx_http_collab_ws_data(ngx_http_collab_ws_ctx_t *ctx, collab_ws_event_t *ev)
{
    u_char            *m;
    size_t             cap, max;
    ngx_connection_t  *c;

    c = ctx->ws.connection;

    if (ctx->close_sent) {
        /* closing: data is read only to reach the peer's close frame */
        return;
    }

    if (ev->message_start && ev->message_end) {

        /* the whole message is in the read buffer: no copy */

        c->log->action = "processing a WebSocket message";
        ngx_http_collab_session_message(&ctx->ws, (u_char *) ev->data,
                                        ev->len);
        c->log->action = "handling WebSocket";
        return;
    }

    if (ctx->msg_len + ev->len > ctx->msg_cap) {

        /*
         * The first allocation is the declared length of the first frame
         * (the parser has checked it against the maximum); later fragments
         * double it, never beyond the maximum message size.
         */

        max = ctx->ws.conf->max_message_size;

        if (ctx->msg_cap == 0) {
            cap = ngx_max((size_t) ev->frame_len, 256);

        } else {
            cap = ctx->msg_cap * 2;
        }

        cap = ngx_max(cap, ctx->msg_len + ev->len);
        cap = ngx_min(cap, ngx_max(max, ctx->msg_len + ev->len));

        m = ngx_alloc(cap, c->log);
        if (m == NULL) {
            ngx_http_collab_ws_fail(ctx, COLLAB_WS_CLOSE_INTERNAL,
                                    "out of memory");
            return;
        }

        if (ctx->msg) {
            ngx_memcpy(m, ctx->msg, ctx->msg_len);
            ngx_free(ctx->msg);
        }

        ctx->msg = m;
        ctx->msg_cap = cap;
    }

    if (ev->len) {
        ngx_memcpy(ctx->msg + ctx->msg_len, ev->data, ev->len);
        ctx->msg_len += ev->len;
    }

    if (!ev->message_end) {
        return;
    }

    c->log->action = "processing a WebSocket message";
    ngx_http_collab_session_message(&ctx->ws, ctx->msg, ctx->msg_len);
    c->log->action = "handling WebSocket";

    /* large buffers never outlive their message */

    if (ctx->msg) {
        ngx_free(ctx->msg);
        ctx->msg = NULL;
    }

    ctx->msg_len = 0;
    ctx->msg_cap = 0;
}


static void
ngx_http_collab_ws_control(ngx_http_collab_ws_ctx_t *ctx,
    collab_ws_event_t *ev)
{
    size_t   n;
    u_char   buf[2 + COLLAB_WS_MAX_CONTROL];

    switch (ev->opcode) {

    case COLLAB_WS_OP_PING:
        if (!ctx->close_sent) {
            (void) ngx_http_collab_ws_send_control(ctx, COLLAB_WS_OP_PONG,
                                                   ev->data, ev->len);
        }
        return;

    case COLLAB_WS_OP_PONG:
        /* any input already reset the pong timer */
        return;

    default: /* COLLAB_WS_OP_CLOSE */

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->ws.connection->log, 0,
                       "collab ws: close %d received", (int) ev->close_code);

        ctx->close_received = 1;

        if (ctx->close_sent) {
            /* the peer answered our close */
            ctx->destroy = 1;
            return;
        }

        /* echo the code (an empty close gets an empty close) */

        n = collab_ws_encode_close(buf, ev->close_code,
                                   (const char *) ev->reason,
                                   ev->reason_len);

        if (ngx_http_collab_ws_send_control(ctx, COLLAB_WS_OP_CLOSE,
                                            buf + 2, n - 2)
            == NGX_OK)
        {
            ctx->close_sent = 1;
        }

        return;
    }
}


static void
ngx_http_collab_ws_fail(ngx_http_collab_ws_ctx_t *ctx, ngx_uint_t code,
    const char *reason)
{
    ctx->failed = 1;
    ngx_http_collab_ws_close(&ctx->ws, code, reason);
}


void
ngx_http_collab_ws_probe(ngx_http_collab_ws_t *ws)
{
    ngx_http_collab_ws_ctx_t  *ctx;

    ctx = ws->priv;

    if (ctx->closed || ctx->close_sent || ctx->destroy || ctx->ping_sent
        || ctx->probe)
    {
        return;
    }

    /* from the timer, in the socket's own event */
    ctx->probe = 1;
    ngx_http_collab_ws_set_timer(ctx, 0, 1);
}


ngx_int_t
ngx_http_collab_ws_enter(ngx_http_collab_ws_t *ws)
{
    ngx_http_collab_ws_ctx_t  *ctx;

    ctx = ws->priv;

    if (ctx->closed || ctx->close_sent || ctx->destroy || ctx->in_handler) {
        return NGX_DECLINED;
    }

    ctx->in_handler = 1;

    return NGX_OK;
}


void
ngx_http_collab_ws_leave(ngx_http_collab_ws_t *ws)
{
    ngx_http_collab_ws_ctx_t  *ctx;

    ctx = ws->priv;

    ctx->in_handler = 0;

    if (!ctx->destroy) {
        ngx_http_collab_ws_flush(ctx);
    }

    if (ctx->destroy) {
        ngx_http_collab_ws_finalize(ctx);
    }
}


void
ngx_http_collab_ws_close(ngx_http_collab_ws_t *ws, ngx_uint_t code,
    const char *reason)
{
    size_t                     n;
    u_char                     buf[2 + COLLAB_WS_MAX_CONTROL];
    ngx_http_collab_ws_ctx_t  *ctx;

    ctx = ws->priv;

    if (ctx->closed || ctx->close_sent) {
        return;
    }

    n = collab_ws_encode_close(buf, (uint16_t) code, reason,
                               reason ? ngx_strlen(reason) : 0);

    if (ngx_http_collab_ws_send_control(ctx, COLLAB_WS_OP_CLOSE, buf + 2,
                                        n - 2)
        != NGX_OK)
    {
        return;
    }

    ctx->close_sent = 1;

    if (ctx->in_handler) {
        return;
    }

    ngx_http_collab_ws_flush(ctx);

    if (ctx->destroy) {
        ngx_http_collab_ws_finalize(ctx);
    }
}


ngx_http_collab_frame_t *
ngx_http_collab_frame_text(const u_char *payload, size_t len, ngx_log_t *log)
{
    return ngx_http_collab_ws_frame(COLLAB_WS_OP_TEXT, payload, len, log);
}


static ngx_http_collab_frame_t *
ngx_http_collab_ws_frame(int opcode, const u_char *payload, size_t len,
    ngx_log_t *log)
{
    size_t                    h;
    ngx_http_collab_frame_t  *f;

    f = ngx_alloc(sizeof(ngx_http_collab_frame_t) + 10 + len, log);
    if (f == NULL) {
        return NULL;
    }

    f->refcount = 1;
    f->data = (u_char *) (f + 1);

    h = collab_ws_encode_header(f->data, opcode, 1, len);

    if (len) {
        ngx_memcpy(f->data + h, payload, len);
    }

    f->len = h + len;

    return f;
}


u_char *
ngx_http_collab_frame_payload(ngx_http_collab_frame_t *f, size_t *len)
{
    size_t  h;

    /* a server frame is never masked: 2, 4 or 10 header bytes */
    switch (f->data[1] & 0x7f) {

    case 126:
        h = 4;
        break;

    case 127:
        h = 10;
        break;

    default:
        h = 2;
        break;
    }

    *len = f->len - h;

    return f->data + h;
}


void
ngx_http_collab_frame_retain(ngx_http_collab_frame_t *f)
{
    f->refcount++;
}


void
ngx_http_collab_frame_release(ngx_http_collab_frame_t *f)
{
    if (--f->refcount == 0) {
        ngx_free(f);
    }
}


ngx_int_t
ngx_http_collab_ws_send(ngx_http_collab_ws_t *ws, ngx_http_collab_frame_t *f)
{
    ngx_http_collab_ws_ctx_t  *ctx;

    ctx = ws->priv;

    if (ctx->closed || ctx->close_sent || ctx->destroy) {
        return NGX_ERROR;
    }

    if (ngx_http_collab_ws_enqueue(ctx, f) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!ctx->in_handler) {
        /* batch: every frame queued in this event loop turn, one writev */
        ngx_post_event(ws->connection->write, &ngx_posted_events);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_collab_ws_send_text(ngx_http_collab_ws_t *ws, const u_char *payload,
    size_t len)
{
    ngx_int_t                 rc;
    ngx_http_collab_frame_t  *f;

    f = ngx_http_collab_frame_text(payload, len, ws->connection->log);
    if (f == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_collab_ws_send(ws, f);

    ngx_http_collab_frame_release(f);

    return rc;
}


size_t
ngx_http_collab_ws_queued(ngx_http_collab_ws_t *ws)
{
    ngx_http_collab_ws_ctx_t  *ctx;

    ctx = ws->priv;

    return ctx->out_bytes;
}


static ngx_int_t
ngx_http_collab_ws_send_control(ngx_http_collab_ws_ctx_t *ctx, int opcode,
    const u_char *payload, size_t len)
{
    ngx_int_t                 rc;
    ngx_http_collab_frame_t  *f;

    f = ngx_http_collab_ws_frame(opcode, payload, len,
                                 ctx->ws.connection->log);
    if (f == NULL) {
        ctx->destroy = 1;
        return NGX_ERROR;
    }

    rc = ngx_http_collab_ws_enqueue(ctx, f);

    ngx_http_collab_frame_release(f);

    return rc;
}


static ngx_int_t
ngx_http_collab_ws_enqueue(ngx_http_collab_ws_ctx_t *ctx,
    ngx_http_collab_frame_t *f)
{
    ngx_uint_t                  i, cap;
    ngx_connection_t           *c;
    ngx_http_collab_frame_t   **out;

    c = ctx->ws.connection;

    /*
     * The limit bounds the backlog of a client that does not read: one
     * frame larger than the limit (a big snapshot) still goes out when
     * nothing else is queued.
     */

    if (ctx->out_bytes
        && ctx->out_bytes + f->len > ctx->ws.conf->send_queue_limit)
    {

        ngx_log_error(NGX_LOG_WARN, c->log, 0,
                      "collab: send queue limit of %uz bytes exceeded, "
                      "closing a client that does not read",
                      ctx->ws.conf->send_queue_limit);

        /*
         * A 1008 can only go out when no frame is half written; it gets
         * one non-blocking try since the peer is not reading anyway.
         */

        if (ctx->out_pos == 0 && !ctx->close_sent) {
            u_char  buf[2 + COLLAB_WS_MAX_CONTROL];
            size_t  n;

            n = collab_ws_encode_close(buf, COLLAB_WS_CLOSE_POLICY,
                                       "send queue limit exceeded", 25);
            (void) c->send(c, buf, n);
        }

        ctx->close_sent = 1;
        ctx->destroy = 1;

        if (!ctx->in_handler) {
            ngx_http_collab_ws_finalize(ctx);
        }

        return NGX_ERROR;
    }

    if (ctx->out_n == ctx->out_cap) {
        cap = ctx->out_cap ? ctx->out_cap * 2 : NGX_HTTP_COLLAB_WS_RING;

        out = ngx_alloc(cap * sizeof(ngx_http_collab_frame_t *), c->log);
        if (out == NULL) {
            ctx->destroy = 1;
            return NGX_ERROR;
        }

        for (i = 0; i < ctx->out_n; i++) {
            out[i] = ctx->out[(ctx->out_head + i) % ctx->out_cap];
        }

        if (ctx->out) {
            ngx_free(ctx->out);
        }

        ctx->out = out;
        ctx->out_cap = cap;
        ctx->out_head = 0;
    }

    ctx->out[(ctx->out_head + ctx->out_n) % ctx->out_cap] = f;
    ctx->out_n++;
    ctx->out_bytes += f->len;

    ngx_http_collab_frame_retain(f);

    return NGX_OK;
}


static void
ngx_http_collab_ws_flush(ngx_http_collab_ws_ctx_t *ctx)
{
    size_t                    n, left, before;
    ngx_buf_t                 bufs[NGX_HTTP_COLLAB_WS_IOVS];
    ngx_uint_t                i, k;
    ngx_chain_t               chain[NGX_HTTP_COLLAB_WS_IOVS], *cl;
    ngx_connection_t         *c;
    ngx_http_request_t       *r;
    ngx_http_collab_frame_t  *f;

    c = ctx->ws.connection;
    r = ctx->ws.request;

    if (ctx->closed || ctx->destroy) {
        return;
    }

    before = ctx->out_bytes;

    if (c->buffered && r) {
        /* the rest of the 101 response goes first */

        if (ngx_http_output_filter(r, NULL) == NGX_ERROR) {
            ctx->destroy = 1;
            return;
        }

        if (c->buffered) {
            return;
        }
    }

    if (c->buffered && r == NULL) {
        /* what TLS holds of earlier frames (a flush with no new data) */

        if (!c->write->ready) {
            goto again;
        }

        if (c->send_chain(c, NULL, 0) == NGX_CHAIN_ERROR) {
            c->error = 1;
            ctx->destroy = 1;
            return;
        }

        if (c->buffered) {
            goto again;
        }
    }

    while (ctx->out_n) {

        if (!c->write->ready) {
            break;
        }

        k = ngx_min(ctx->out_n, NGX_HTTP_COLLAB_WS_IOVS);

        for (i = 0; i < k; i++) {
            f = ctx->out[(ctx->out_head + i) % ctx->out_cap];

            ngx_memzero(&bufs[i], sizeof(ngx_buf_t));
            bufs[i].pos = f->data + (i == 0 ? ctx->out_pos : 0);
            bufs[i].last = f->data + f->len;
            bufs[i].memory = 1;

            chain[i].buf = &bufs[i];
            chain[i].next = (i + 1 < k) ? &chain[i + 1] : NULL;
        }

        /* TLS keeps a record buffer: this says write it out now */
        bufs[k - 1].flush = 1;

        cl = c->send_chain(c, chain, 0);

        if (cl == NGX_CHAIN_ERROR) {
            c->error = 1;
            ctx->destroy = 1;
            return;
        }

        /*
         * What was taken: written to the socket, or copied into the TLS
         * buffer (c->sent counts neither exactly that), so it is done with.
         */

        left = 0;

        for (i = 0; i < k; i++) {
            f = ctx->out[(ctx->out_head + i) % ctx->out_cap];
            left += bufs[i].pos - (f->data + (i == 0 ? ctx->out_pos : 0));
        }

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "collab ws: wrote %uz of %uz queued bytes",
                       left, ctx->out_bytes);

        ctx->out_bytes -= left;

        while (left) {
            f = ctx->out[ctx->out_head];
            n = f->len - ctx->out_pos;

            if (left < n) {
                ctx->out_pos += left;
                break;
            }

            left -= n;
            ctx->out_pos = 0;
            ctx->out_head = (ctx->out_head + 1) % ctx->out_cap;
            ctx->out_n--;

            ngx_http_collab_frame_release(f);
        }

        if (cl != NULL || c->buffered) {
            break;
        }
    }

    if (ctx->out_n || c->buffered) {
        goto again;
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

#if (NGX_HTTP_SSL)
    if (c->ssl) {
        /* idle: the TLS record buffer goes until the next write */
        ngx_ssl_free_buffer(c);
    }
#endif

    /* an idle connection keeps only a small ring */

    if (ctx->out_cap > NGX_HTTP_COLLAB_WS_RING) {
        ngx_free(ctx->out);
        ctx->out = NULL;
        ctx->out_cap = 0;
        ctx->out_head = 0;
    }

    if (ctx->close_sent && !ctx->close_flushed) {
        ngx_http_collab_ws_flushed_close(ctx);
    }

    return;

again:

    /* collab_send_timeout: from the last write that made progress */
    if (ctx->ws.conf->send_timeout
        && (ctx->out_bytes < before || !c->write->timer_set))
    {
        ngx_add_timer(c->write, ctx->ws.conf->send_timeout);
    }

    if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
        ctx->destroy = 1;
    }
}


static void
ngx_http_collab_ws_flushed_close(ngx_http_collab_ws_ctx_t *ctx)
{
    ngx_connection_t  *c;

    c = ctx->ws.connection;

    ctx->close_flushed = 1;

    if (ctx->close_received) {
        ctx->destroy = 1;
        return;
    }

    /*
     * Our close is out: send FIN so the peer sees the end of the stream,
     * and keep reading (to catch its close frame and to avoid a reset
     * that could destroy our close frame) until it answers or the linger
     * timer fires.  The timer is not cancelable: an exiting worker waits
     * for it, briefly.
     */

    if (c->ssl == NULL) {
        (void) ngx_shutdown_socket(c->fd, NGX_WRITE_SHUTDOWN);
    }

    ctx->linger = 1;
    ngx_http_collab_ws_set_timer(ctx, NGX_HTTP_COLLAB_WS_LINGER, 0);

    if (c->read->ready) {
        ngx_post_event(c->read, &ngx_posted_events);
    }
}


static void
ngx_http_collab_ws_set_timer(ngx_http_collab_ws_ctx_t *ctx, ngx_msec_t ms,
    ngx_uint_t cancelable)
{
    if (ctx->timer.timer_set) {
        ngx_del_timer(&ctx->timer);
    }

    ctx->timer.cancelable = cancelable;
    ngx_add_timer(&ctx->timer, ms);
}


static void
ngx_http_collab_ws_finalize(ngx_http_collab_ws_ctx_t *ctx)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    if (ctx->in_handler) {
        ctx->destroy = 1;
        return;
    }

    if (ctx->closed) {
        return;
    }

    c = ctx->ws.connection;
    r = ctx->ws.request;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0, "collab ws: finalize");

    ngx_http_collab_ws_teardown(ctx);

    if (r) {
        /* not detached yet: what ngx_http_close_request() does */
        ctx->cln->handler = NULL;
        ngx_http_free_request(r, 0);
    }

    ngx_free(ctx);

    ngx_http_close_connection(c);
}


static void
ngx_http_collab_ws_teardown(ngx_http_collab_ws_ctx_t *ctx)
{
    ngx_http_collab_frame_t  *f;

    ctx->closed = 1;

    if (ctx->timer.timer_set) {
        ngx_del_timer(&ctx->timer);
    }

    if (ctx->timer.posted) {
        ngx_delete_posted_event(&ctx->timer);
    }

    ngx_queue_remove(&ctx->queue);

    if (ctx->opened) {
        ctx->opened = 0;
        ngx_http_collab_session_close(&ctx->ws);
    }

    while (ctx->out_n) {
        f = ctx->out[ctx->out_head];
        ctx->out_head = (ctx->out_head + 1) % ctx->out_cap;
        ctx->out_n--;
        ngx_http_collab_frame_release(f);
    }

    if (ctx->out) {
        ngx_free(ctx->out);
        ctx->out = NULL;
    }

    if (ctx->msg) {
        ngx_free(ctx->msg);
        ctx->msg = NULL;
    }

    ctx->out_bytes = 0;
}


static void
ngx_http_collab_ws_cleanup(void *data)
{
    ngx_http_collab_ws_ctx_t  *ctx = data;

    /* the request went away, before the detach, by a path not ours */

    if (!ctx->closed) {
        ngx_http_collab_ws_teardown(ctx);
    }

    ngx_free(ctx);
}
