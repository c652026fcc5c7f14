/*
 * The snapshot endpoint.  The fast path (the registry is current) answers
 * from inside the content handler and allocates nothing but the response:
 * the body is sized with one pass over the text's chunks and written with
 * a second into one buffer.  Otherwise a heap context holds the request
 * (count++) while the registry loads or catches up, or while the op log
 * is replayed; a cleanup on the request pool cancels the wait, or leaves
 * the context to the statement's callback, if the request goes first.
 */

#include "ngx_http_collab.h"
#include "store/ngx_http_collab_store.h"
#include "redis/ngx_http_collab_redis.h"
#include "engine/collab_ot_json.h"
#include "engine/collab_text.h"
#include "protocol/collab_msg_tree.h"
#include "doc/ngx_http_collab_doc.h"
#include "doc/ngx_http_collab_fanout.h"
#include "api/collab_api_json.h"
#include "api/ngx_http_collab_api.h"
#include "api/ngx_http_collab_api_snapshot.h"


#define NGX_HTTP_COLLAB_API_TYPE  "http://sharejs.org/types/text-unicode"


/* a request waiting for the registry or replaying the log */
typedef struct {
    ngx_http_request_t          *request;    /* NULL: it went away */
    ngx_http_collab_doc_req_t    req;
    ngx_event_t                  timeout;
    ngx_str_t                    c;           /* in r->uri */
    ngx_str_t                    d;
    uint64_t                     v;           /* replay: the target */
    uint64_t                     at;          /* replay: version reached */
    collab_text_t               *text;        /* replay: NULL, none */
    unsigned                     reading:1;   /* a statement in flight */
} ngx_http_collab_api_snap_t;


static ngx_uint_t ngx_http_collab_api_snap_current(
    ngx_http_collab_doc_t *doc);
static ngx_http_collab_api_snap_t *ngx_http_collab_api_snap_ctx(
    ngx_http_request_t *r, ngx_str_t *c, ngx_str_t *d);
static void ngx_http_collab_api_snap_ready(ngx_http_collab_doc_req_t *req,
    ngx_int_t rc);
static void ngx_http_collab_api_snap_timeout(ngx_event_t *ev);
static ngx_int_t ngx_http_collab_api_snap_replay(
    ngx_http_collab_api_snap_t *ctx);
static void ngx_http_collab_api_snap_ops(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res);
static void ngx_http_collab_api_snap_finish(ngx_http_collab_api_snap_t *ctx,
    ngx_int_t rc);
static void ngx_http_collab_api_snap_cleanup(void *data);
static void ngx_http_collab_api_snap_free(ngx_http_collab_api_snap_t *ctx);
static ngx_int_t ngx_http_collab_api_snap_send(ngx_http_request_t *r,
    ngx_str_t *c, ngx_str_t *d, uint64_t v, collab_text_t *text);
static ngx_int_t ngx_http_collab_api_snap_headers(ngx_http_request_t *r,
    ngx_str_t *c, ngx_str_t *d, uint64_t v);
static u_char *ngx_http_collab_api_snap_etag_name(u_char *p, ngx_str_t *s);


ngx_int_t
ngx_http_collab_api_snapshot(ngx_http_request_t *r, ngx_str_t *c,
    ngx_str_t *d)
{
    u_char                       *p;
    uint64_t                      v;
    ngx_int_t                     n, rc;
    ngx_str_t                     value;
    ngx_uint_t                    has_v;
    ngx_http_collab_doc_t        *doc;
    ngx_http_collab_api_snap_t   *ctx;
    ngx_http_collab_main_conf_t  *cmcf;
    u_char                        buf[NGX_INT64_LEN + 32];

    v = 0;
    has_v = 0;

    if (ngx_http_arg(r, (u_char *) "v", 1, &value) == NGX_OK) {
        n = ngx_atoi(value.data, value.len);
        if (n == NGX_ERROR) {
            return ngx_http_collab_api_error(r, NGX_HTTP_BAD_REQUEST,
                                             "v must be a version");
        }

        v = (uint64_t) n;
        has_v = 1;
    }

    if (c->len + d->len > NGX_HTTP_COLLAB_API_MAX_NAME) {
        return ngx_http_collab_api_error(r, NGX_HTTP_BAD_REQUEST,
                                         "document name too long");
    }

    if (has_v && v == 0) {
        /* before its create op no document exists */
        p = ngx_sprintf(buf, "{\"v\":0,\"type\":null}");
        return ngx_http_collab_api_send(r, NGX_HTTP_NOT_FOUND, buf, p - buf);
    }

    doc = ngx_http_collab_doc_get(c, d);
    if (doc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (doc->state == NGX_HTTP_COLLAB_DOC_LOADING && doc->refs == 0) {
        /* its load failed and no new one could start */
        ngx_http_collab_doc_idle(doc);
        return ngx_http_collab_api_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         "database unavailable");
    }

    /* keeps the copy in memory current for this read and the next ones */
    if (ngx_http_collab_redis_enabled()) {
        ngx_http_collab_fanout_channel_on(doc);
    }

    if (ngx_http_collab_api_snap_current(doc)) {

        if (!has_v || v == doc->v) {
            rc = ngx_http_collab_api_snap_send(r, c, d, doc->v,
                                               doc->exists ? doc->text
                                                           : NULL);
            ngx_http_collab_doc_idle(doc);
            return rc;
        }

        if (v > doc->v) {
            ngx_http_collab_doc_idle(doc);
            return ngx_http_collab_api_error(r, NGX_HTTP_NOT_FOUND,
                                             "no such version");
        }
    }

    ctx = ngx_http_collab_api_snap_ctx(r, c, d);
    if (ctx == NULL) {
        ngx_http_collab_doc_idle(doc);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (has_v) {
        /* an older version: the registry keeps the head only */
        ngx_http_collab_doc_idle(doc);

        ctx->v = v;

        if (ngx_http_collab_api_snap_replay(ctx) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        r->main->count++;

        return NGX_DONE;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_collab_module);

    /* a load and a catch-up, each bounded by the statement timeout */
    ngx_add_timer(&ctx->timeout, 2 * cmcf->pg_timeout + 1000);

    ctx->req.handler = ngx_http_collab_api_snap_ready;
    ctx->req.data = ctx;

    /* an HTTP client gets its 503 (and retries) rather than a long wait */
    ctx->req.no_wait = 1;

    /*
     * A loading document will be as fresh as its load; a loaded one not
     * kept current by its channel reads what was committed since.
     */
    ctx->req.fresh = (doc->state == NGX_HTTP_COLLAB_DOC_READY
                      && !doc->catching_up && doc->seen_v <= doc->v);

    /* the handler may run before doc_wait() returns */
    r->main->count++;

    ngx_http_collab_doc_wait(doc, &ctx->req);

    return NGX_DONE;
}


/* whether the registry's copy is the document's latest version */

static ngx_uint_t
ngx_http_collab_api_snap_current(ngx_http_collab_doc_t *doc)
{
    if (doc->state != NGX_HTTP_COLLAB_DOC_READY || doc->catching_up
        || doc->seen_v > doc->v)
    {
        return 0;
    }

    /* without Redis this worker is the only writer */
    return !ngx_http_collab_redis_enabled() || doc->channel_active;
}


static ngx_http_collab_api_snap_t *
ngx_http_collab_api_snap_ctx(ngx_http_request_t *r, ngx_str_t *c,
    ngx_str_t *d)
{
    ngx_pool_cleanup_t          *cln;
    ngx_http_collab_api_snap_t  *ctx;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    ctx = ngx_alloc(sizeof(ngx_http_collab_api_snap_t), r->connection->log);
    if (ctx == NULL) {
        return NULL;
    }

    ngx_memzero(ctx, sizeof(ngx_http_collab_api_snap_t));

    ctx->request = r;
    ctx->c = *c;
    ctx->d = *d;

    ctx->timeout.handler = ngx_http_collab_api_snap_timeout;
    ctx->timeout.data = ctx;
    ctx->timeout.log = r->connection->log;
    ctx->timeout.cancelable = 1;

    cln->handler = ngx_http_collab_api_snap_cleanup;
    cln->data = ctx;

    return ctx;
}


static void
ngx_http_collab_api_snap_ready(ngx_http_collab_doc_req_t *req, ngx_int_t rc)
{
    ngx_http_collab_api_snap_t  *ctx = req->data;

    ngx_http_collab_doc_t  *doc;

    doc = req->doc;

    if (rc != NGX_OK) {
        rc = ngx_http_collab_api_error(ctx->request,
                                       NGX_HTTP_SERVICE_UNAVAILABLE,
                                       "database unavailable");

    } else {
        rc = ngx_http_collab_api_snap_send(ctx->request, &ctx->c, &ctx->d,
                                           doc->v,
                                           doc->exists ? doc->text : NULL);
    }

    ngx_http_collab_api_snap_finish(ctx, rc);
}


/* only a registry that never answers gets here */

static void
ngx_http_collab_api_snap_timeout(ngx_event_t *ev)
{
    ngx_http_collab_api_snap_t  *ctx = ev->data;

    ngx_int_t  rc;

    ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                  "collab: snapshot of \"%V/%V\" not ready in time",
                  &ctx->c, &ctx->d);

    ngx_http_collab_doc_cancel(&ctx->req);

    rc = ngx_http_collab_api_error(ctx->request,
                                   NGX_HTTP_SERVICE_UNAVAILABLE,
                                   "database unavailable");

    ngx_http_collab_api_snap_finish(ctx, rc);
}


/* the ops of versions at + 1 .. v, a chunk at a time */

static ngx_int_t
ngx_http_collab_api_snap_replay(ngx_http_collab_api_snap_t *ctx)
{
    if (ngx_http_collab_store_ops(&ctx->c, &ctx->d, (int64_t) ctx->at + 1,
                                  (int64_t) ctx->v + 1,
                                  NGX_HTTP_COLLAB_API_REPLAY_CHUNK,
                                  ngx_http_collab_api_snap_ops, ctx)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ctx->reading = 1;

    return NGX_OK;
}


static void
ngx_http_collab_api_snap_ops(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res)
{
    ngx_http_collab_api_snap_t  *ctx = data;

    ngx_uint_t           more;
    ngx_http_request_t  *r;

    ctx->reading = 0;

    r = ctx->request;

    if (r == NULL) {
        ngx_http_collab_store_result_free(res);
        ngx_http_collab_api_snap_free(ctx);
        return;
    }

    if (rc != NGX_HTTP_COLLAB_STORE_OK) {
        ngx_http_collab_store_result_free(res);
        rc = ngx_http_collab_api_store_error(r, rc, "no such version");
        ngx_http_collab_api_snap_finish(ctx, rc);
        return;
    }

    if (ngx_http_collab_doc_replay(&ctx->text, &ctx->at, res)
        != COLLAB_OT_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "collab: the op log of \"%V/%V\" cannot be replayed "
                      "to v%uL", &ctx->c, &ctx->d, ctx->at + 1);
        ngx_http_collab_store_result_free(res);
        rc = ngx_http_collab_api_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                       "the op log cannot be replayed");
        ngx_http_collab_api_snap_finish(ctx, rc);
        return;
    }

    more = (res->nops == NGX_HTTP_COLLAB_API_REPLAY_CHUNK);

    ngx_http_collab_store_result_free(res);

    if (more && ctx->at < ctx->v) {
        if (ngx_http_collab_api_snap_replay(ctx) == NGX_OK) {
            return;
        }

        ngx_http_collab_api_snap_finish(ctx,
                                        NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ctx->at < ctx->v) {
        /* the log ends before v: ShareDB refuses a version past the head */
        rc = ngx_http_collab_api_error(r, NGX_HTTP_NOT_FOUND,
                                       "no such version");

    } else {
        rc = ngx_http_collab_api_snap_send(r, &ctx->c, &ctx->d, ctx->v,
                                           ctx->text);
    }

    ngx_http_collab_api_snap_finish(ctx, rc);
}


static void
ngx_http_collab_api_snap_finish(ngx_http_collab_api_snap_t *ctx,
    ngx_int_t rc)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    if (ctx->timeout.timer_set) {
        ngx_del_timer(&ctx->timeout);
    }

    r = ctx->request;
    c = r->connection;

    /* the request pool's cleanup may free ctx from here on */

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_collab_api_snap_cleanup(void *data)
{
    ngx_http_collab_api_snap_t  *ctx = data;

    if (ctx->timeout.timer_set) {
        ngx_del_timer(&ctx->timeout);
    }

    ngx_http_collab_doc_cancel(&ctx->req);

    if (ctx->reading) {
        /* the statement's callback frees it */
        ctx->request = NULL;
        return;
    }

    ngx_http_collab_api_snap_free(ctx);
}


static void
ngx_http_collab_api_snap_free(ngx_http_collab_api_snap_t *ctx)
{
    if (ctx->text) {
        collab_text_free(ctx->text);
    }

    ngx_free(ctx);
}


/*
 * {"v":N,"type":"<uri>","data":"<text>"} or, with no text, ShareDB's
 * snapshot of a missing document, {"v":N,"type":null}, as a 404
 */

static ngx_int_t
ngx_http_collab_api_snap_send(ngx_http_request_t *r, ngx_str_t *c,
    ngx_str_t *d, uint64_t v, collab_text_t *text)
{
    u_char              *p;
    size_t               len, n;
    ngx_int_t            rc;
    ngx_buf_t           *b;
    const char          *s;
    collab_text_iter_t   it;
    u_char               head[NGX_INT64_LEN + 64];

    if (text == NULL) {
        p = ngx_sprintf(head, "{\"v\":%uL,\"type\":null}", v);
        return ngx_http_collab_api_send(r, NGX_HTTP_NOT_FOUND, head,
                                        p - head);
    }

    p = ngx_sprintf(head, "{\"v\":%uL,\"type\":\"" NGX_HTTP_COLLAB_API_TYPE
                    "\",\"data\":\"", v);

    len = (p - head) + sizeof("\"}") - 1;

    collab_text_iter_init(text, &it);

    while (collab_text_iter_next(&it, &s, &n)) {
        len += collab_api_json_escaped_len(s, n);
    }

    if (ngx_http_collab_api_snap_headers(r, c, d, v) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* If-None-Match -> 304 happens in here (nginx's not_modified filter) */
    rc = ngx_http_collab_api_body(r, NGX_HTTP_OK, len, &b);

    if (b == NULL) {
        return rc;
    }

    b->last = ngx_cpymem(b->last, head, p - head);

    collab_text_iter_init(text, &it);

    while (collab_text_iter_next(&it, &s, &n)) {
        b->last = (u_char *) collab_api_json_escape((char *) b->last, s, n);
    }

    *b->last++ = '"';
    *b->last++ = '}';

    return ngx_http_collab_api_output(r, b);
}


/* ETag "<collection>/<doc>/v<version>" and Cache-Control: no-cache */

static ngx_int_t
ngx_http_collab_api_snap_headers(ngx_http_request_t *r, ngx_str_t *c,
    ngx_str_t *d, uint64_t v)
{
    u_char           *p;
    ngx_table_elt_t  *etag, *cc;

    etag = ngx_list_push(&r->headers_out.headers);
    if (etag == NULL) {
        return NGX_ERROR;
    }

    /* a name byte takes up to 3 ("%xx") */
    p = ngx_pnalloc(r->pool, 3 * (c->len + d->len) + NGX_INT64_LEN + 5);
    if (p == NULL) {
        etag->hash = 0;
        return NGX_ERROR;
    }

    etag->hash = 1;
    ngx_str_set(&etag->key, "ETag");
    etag->value.data = p;

    *p++ = '"';
    p = ngx_http_collab_api_snap_etag_name(p, c);
    *p++ = '/';
    p = ngx_http_collab_api_snap_etag_name(p, d);
    p = ngx_sprintf(p, "/v%uL\"", v);

    etag->value.len = p - etag->value.data;

    r->headers_out.etag = etag;

    cc = ngx_list_push(&r->headers_out.headers);
    if (cc == NULL) {
        return NGX_ERROR;
    }

    cc->hash = 1;
    ngx_str_set(&cc->key, "Cache-Control");
    ngx_str_set(&cc->value, "no-cache");

    return NGX_OK;
}


/*
 * An entity-tag holds visible ASCII but '"': '"', '%', spaces, controls
 * and non-ASCII bytes of a name are percent-encoded
 */

static u_char *
ngx_http_collab_api_snap_etag_name(u_char *p, ngx_str_t *s)
{
    u_char      ch;
    ngx_uint_t  i;

    static u_char  hex[] = "0123456789ABCDEF";

    for (i = 0; i < s->len; i++) {
        ch = s->data[i];

        if (ch > 0x20 && ch < 0x7f && ch != '"' && ch != '%') {
            *p++ = ch;
            continue;
        }

        *p++ = '%';
        *p++ = hex[ch >> 4];
        *p++ = hex[ch & 0x0f];
    }

    return p;
}
