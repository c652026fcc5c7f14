/*
 * Reading a JSON body without blocking: the content handler asks, nginx
 * reads, and the handler runs again from the post handler with the body
 * joined into one NUL-terminated buffer, the state kept in the module's
 * request ctx.
 */

#include "ngx_http_collab.h"
#include "api/ngx_http_collab_api.h"
#include "api/ngx_http_collab_api_body.h"


typedef struct {
    ngx_str_t    body;
    unsigned     read:1;
    unsigned     too_large:1;
} ngx_http_collab_api_body_t;


static ngx_int_t ngx_http_collab_api_body_json(ngx_http_request_t *r);
static void ngx_http_collab_api_body_read(ngx_http_request_t *r);
static ngx_int_t ngx_http_collab_api_body_join(ngx_http_request_t *r,
    ngx_http_collab_api_body_t *ctx);


ngx_int_t
ngx_http_collab_api_read_body(ngx_http_request_t *r, ngx_str_t *body)
{
    ngx_int_t                    rc;
    ngx_http_collab_api_body_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_collab_module);

    if (ctx && ctx->read) {
        if (ctx->too_large) {
            return ngx_http_collab_api_fail(r,
                                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                   "too_large", "the body is too large");
        }

        *body = ctx->body;
        return NGX_DECLINED;
    }

    if (ctx) {
        /* the handler ran again (a role looked up) while nginx reads */
        return NGX_DONE;
    }

    /* refused before a byte of it is read */
    if (ngx_http_collab_api_body_json(r) != NGX_OK) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_collab_api_fail(r,
                                   NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                   "unsupported_media_type",
                                   "the body must be application/json");
    }

    if (r->headers_in.content_length_n > NGX_HTTP_COLLAB_API_BODY_MAX) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_collab_api_fail(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                        "too_large", "the body is too large");
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_collab_api_body_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_collab_module);

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_collab_api_body_read);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    /* the post handler answers, maybe already from inside the call */
    return NGX_DONE;
}


/* Content-Type: application/json, with parameters or not, any case */
static ngx_int_t
ngx_http_collab_api_body_json(ngx_http_request_t *r)
{
    size_t            len;
    u_char           *p;
    ngx_table_elt_t  *ct;

    ct = r->headers_in.content_type;
    if (ct == NULL) {
        return NGX_DECLINED;
    }

    len = sizeof("application/json") - 1;
    p = ct->value.data;

    if (ct->value.len < len
        || ngx_strncasecmp(p, (u_char *) "application/json", len) != 0)
    {
        return NGX_DECLINED;
    }

    if (ct->value.len > len && p[len] != ';' && p[len] != ' ') {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_http_collab_api_body_read(ngx_http_request_t *r)
{
    ngx_http_collab_api_body_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_collab_module);

    if (ngx_http_collab_api_body_join(r, ctx) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->read = 1;

    ngx_http_finalize_request(r, ngx_http_collab_api_handler(r));
}


static ngx_int_t
ngx_http_collab_api_body_join(ngx_http_request_t *r,
    ngx_http_collab_api_body_t *ctx)
{
    off_t         len;
    u_char       *p;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    len = 0;

    if (r->request_body && r->request_body->temp_file) {
        /* past client_body_buffer_size: not read back from disk */
        ctx->too_large = 1;
        return NGX_OK;
    }

    for (cl = r->request_body ? r->request_body->bufs : NULL;
         cl;
         cl = cl->next)
    {
        b = cl->buf;

        if (b->in_file) {
            ctx->too_large = 1;
            return NGX_OK;
        }

        len += b->last - b->pos;
    }

    if (len > NGX_HTTP_COLLAB_API_BODY_MAX) {
        ctx->too_large = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->body.data = p;
    ctx->body.len = len;

    for (cl = r->request_body ? r->request_body->bufs : NULL;
         cl;
         cl = cl->next)
    {
        b = cl->buf;
        p = ngx_cpymem(p, b->pos, b->last - b->pos);
    }

    *p = '\0';

    return NGX_OK;
}
