/*
 * The router of "collab_api" locations, the list and the history
 * endpoints: parse the path and the version range, ask the store, and
 * write the rows as JSON with yajl_gen.  The request is held
 * (count++) while the statement runs and finalized from the store's
 * callback.
 */

#include <yajl/yajl_gen.h>

#include "ngx_http_collab.h"
#include "store/ngx_http_collab_store.h"
#include "engine/collab_utf8.h"
#include "auth/ngx_http_collab_auth.h"
#include "api/ngx_http_collab_api.h"
#include "api/ngx_http_collab_api_snapshot.h"
#include "api/ngx_http_collab_api_body.h"
#include "api/ngx_http_collab_api_members.h"
#include "access/ngx_http_collab_access.h"
#include "protocol/ngx_http_collab_src.h"


typedef ngx_int_t (*ngx_http_collab_api_json_pt)(ngx_http_request_t *r,
    ngx_http_collab_store_result_t *res);


static ngx_int_t ngx_http_collab_api_name_ok(ngx_str_t *name);
static ngx_int_t ngx_http_collab_api_path(ngx_http_request_t *r,
    ngx_str_t *parts);
static void ngx_http_collab_api_list_done(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res);
static void ngx_http_collab_api_done(ngx_http_request_t *r, ngx_int_t rc,
    ngx_http_collab_store_result_t *res, ngx_http_collab_api_json_pt json,
    char *not_found);
static ngx_int_t ngx_http_collab_api_list_json(ngx_http_request_t *r,
    ngx_http_collab_store_result_t *res);
static ngx_int_t ngx_http_collab_api_version(ngx_http_request_t *r,
    char *name, size_t len, int64_t *v);
static void ngx_http_collab_api_ops_done(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res);
static ngx_int_t ngx_http_collab_api_ops_json(ngx_http_request_t *r,
    ngx_http_collab_store_result_t *res);
static void ngx_http_collab_api_gen_int(yajl_gen g, int64_t n);
static void ngx_http_collab_api_gen_raw(yajl_gen g, ngx_str_t *json);
static ngx_int_t ngx_http_collab_api_gen_send(ngx_http_request_t *r,
    yajl_gen g);


#define ngx_http_collab_api_gen_str(g, s)                                    \
    yajl_gen_string(g, (const unsigned char *) (s), sizeof(s) - 1)


ngx_int_t
ngx_http_collab_api_handler(ngx_http_request_t *r)
{
    int64_t                      from, to;
    ngx_int_t                    rc, n, i;
    ngx_str_t                    parts[4], v, allow, body, *member;
    ngx_uint_t                   need, methods;
    ngx_http_collab_auth_t       who;
    const char                  *reason;
    ngx_http_collab_loc_conf_t  *clcf;

    n = ngx_http_collab_api_path(r, parts);

    methods = ngx_http_collab_api_members_methods(parts, n, &allow);
    if (methods == 0) {
        methods = NGX_HTTP_GET|NGX_HTTP_HEAD;
        ngx_str_set(&allow, "GET, HEAD");
    }

    if (!(r->method & methods)) {
        return ngx_http_collab_api_not_allowed(r, &allow);
    }

    /* a body to act on is in memory before anything else is asked */
    if (r->method & (NGX_HTTP_PUT|NGX_HTTP_POST)) {
        rc = ngx_http_collab_api_read_body(r, &body);
        if (rc != NGX_DECLINED) {
            return rc;
        }

    } else {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    /* every request says who asks, before anything is read for it */
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_collab_module);

    rc = ngx_http_collab_auth_check(r, &clcf->auth, &who, &reason);
    if (rc == NGX_HTTP_UNAUTHORIZED) {
        return ngx_http_collab_auth_deny(r, reason);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* names the database could not store: the client's mistake */
    for (i = 0; i < n && i < 2; i++) {
        if (ngx_http_collab_api_name_ok(&parts[i]) != NGX_OK) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "collab: API request with a name that is not "
                          "UTF-8 text: \"%V\"", &r->uri);
            return ngx_http_collab_api_error(r, NGX_HTTP_BAD_REQUEST,
                                             "bad name: not UTF-8 text");
        }
    }

    /* signed in, no document: the share dialog's search, not a list */
    if (n == 1 && clcf->auth.enabled && parts[0].len == 5
        && ngx_strncmp(parts[0].data, "users", 5) == 0)
    {
        return ngx_http_collab_api_users(r);
    }

    rc = ngx_http_collab_api_members(r, &who, parts, n);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (n == 3 && parts[2].len == 4
        && ngx_strncmp(parts[2].data, "role", 4) == 0)
    {
        return ngx_http_collab_api_role(r, &who, &parts[0], &parts[1]);
    }

    /* roles: who may read or change this document (docs/access.md) */
    if (n == 2 || n == 3) {
        need = (n == 3 || ngx_http_arg(r, (u_char *) "v", 1, &v) == NGX_OK)
               ? NGX_HTTP_COLLAB_ROLE_EDITOR : NGX_HTTP_COLLAB_ROLE_VIEWER;

        rc = ngx_http_collab_api_access(r, &who, &parts[0], &parts[1], need,
                                        n == 2);
        if (rc != NGX_DECLINED) {
            /* answered (404, 403, 503), or waiting for the role */
            return rc;
        }
    }

    switch (n) {

    case 1:
        /* a list names only what the user may read */
        member = (ngx_http_collab_access_quick(clcf, who.admin, &parts[0],
                                               NGX_HTTP_COLLAB_ROLE_VIEWER)
                  == NGX_OK) ? NULL : &who.principal;

        if (ngx_http_collab_store_list(&parts[0],
                                       NGX_HTTP_COLLAB_API_MAX_DOCS, member,
                                       ngx_http_collab_api_list_done, r)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        r->main->count++;

        return NGX_DONE;

    case 2:
        return ngx_http_collab_api_snapshot(r, &parts[0], &parts[1]);

    case 3:
        if (parts[2].len == 3 && ngx_strncmp(parts[2].data, "ops", 3) == 0) {
            break;
        }

        /* fall through */

    default:
        return ngx_http_collab_api_error(r, NGX_HTTP_NOT_FOUND,
                                         "no such endpoint");
    }

    from = 0;
    to = -1;

    if (ngx_http_collab_api_version(r, "from", 4, &from) != NGX_OK
        || ngx_http_collab_api_version(r, "to", 2, &to) != NGX_OK
        || (to >= 0 && to < from))
    {
        return ngx_http_collab_api_error(r, NGX_HTTP_BAD_REQUEST,
                                         "from and to must be versions "
                                         "with from <= to");
    }

    if (ngx_http_collab_store_ops(&parts[0], &parts[1], from, to,
                                  NGX_HTTP_COLLAB_API_MAX_OPS,
                                  ngx_http_collab_api_ops_done, r)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* held until the store answers; it always does, asynchronously */
    r->main->count++;

    return NGX_DONE;
}


/*
 * <location>/<collection>[/<doc>[/<what>[/<which>]]]: the number of parts
 * (each non-empty), or 0 for any other path; a trailing slash is allowed
 * after the collection alone
 */

static ngx_int_t
ngx_http_collab_api_path(ngx_http_request_t *r, ngx_str_t *parts)
{
    u_char                    *p, *last, *slash;
    ngx_int_t                  n;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    p = r->uri.data;
    last = r->uri.data + r->uri.len;

    if (!clcf->regex && clcf->name.len <= r->uri.len) {
        p += clcf->name.len;
    }

    for (n = 0; n < 4; n++) {
        while (p < last && *p == '/') {
            p++;
        }

        if (p == last) {
            break;
        }

        slash = ngx_strlchr(p, last, '/');
        if (slash == NULL) {
            slash = last;
        }

        parts[n].data = p;
        parts[n].len = slash - p;
        p = slash;
    }

    if (p != last) {
        return 0;
    }

    /* "c/d/" and "c/d/ops/" name nothing */
    if (n > 1 && parts[n - 1].data + parts[n - 1].len != last) {
        return 0;
    }

    return n;
}


/* a collection or document name: UTF-8, no NUL (PostgreSQL text) */
static ngx_int_t
ngx_http_collab_api_name_ok(ngx_str_t *name)
{
    size_t  ncp;

    if (ngx_strlchr(name->data, name->data + name->len, '\0') != NULL
        || collab_utf8_count((const char *) name->data, name->len, &ncp)
           != 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_http_collab_api_list_done(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res)
{
    ngx_http_collab_api_done(data, rc, res, ngx_http_collab_api_list_json,
                             NULL);
}


/* the response to a store answer; the request was held for it */

static void
ngx_http_collab_api_done(ngx_http_request_t *r, ngx_int_t rc,
    ngx_http_collab_store_result_t *res, ngx_http_collab_api_json_pt json,
    char *not_found)
{
    ngx_int_t          status;
    ngx_connection_t  *c;

    c = r->connection;

    if (rc == NGX_HTTP_COLLAB_STORE_OK) {
        status = json(r, res);

    } else {
        status = ngx_http_collab_api_store_error(r, rc, not_found);
    }

    ngx_http_collab_store_result_free(res);

    ngx_http_finalize_request(r, status);
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_collab_api_list_json(ngx_http_request_t *r,
    ngx_http_collab_store_result_t *res)
{
    ngx_uint_t                    i;
    yajl_gen                      g;
    ngx_http_collab_store_doc_t  *d;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_array_open(g);

    for (i = 0; i < res->ndocs; i++) {
        d = &res->docs[i];

        yajl_gen_map_open(g);

        /* names are whatever clients chose: yajl escapes them */
        ngx_http_collab_api_gen_str(g, "id");
        yajl_gen_string(g, d->name.data, d->name.len);

        ngx_http_collab_api_gen_str(g, "v");
        ngx_http_collab_api_gen_int(g, d->version);

        ngx_http_collab_api_gen_str(g, "type");
        yajl_gen_string(g, d->type.data, d->type.len);

        ngx_http_collab_api_gen_str(g, "updated");
        ngx_http_collab_api_gen_int(g, d->updated);

        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);

    return ngx_http_collab_api_gen_send(r, g);
}


static ngx_int_t
ngx_http_collab_api_version(ngx_http_request_t *r, char *name, size_t len,
    int64_t *v)
{
    ngx_int_t  n;
    ngx_str_t  value;

    if (ngx_http_arg(r, (u_char *) name, len, &value) != NGX_OK) {
        return NGX_OK;
    }

    n = ngx_atoi(value.data, value.len);
    if (n == NGX_ERROR) {
        return NGX_ERROR;
    }

    *v = n;

    return NGX_OK;
}


static void
ngx_http_collab_api_ops_done(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res)
{
    ngx_http_collab_api_done(data, rc, res, ngx_http_collab_api_ops_json,
                             "no such document");
}


static ngx_int_t
ngx_http_collab_api_ops_json(ngx_http_request_t *r,
    ngx_http_collab_store_result_t *res)
{
    ngx_uint_t                   i;
    yajl_gen                     g;
    ngx_http_collab_store_op_t  *op;
    u_char                       pub[NGX_HTTP_COLLAB_SRC_LEN];

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_array_open(g);

    for (i = 0; i < res->nops; i++) {
        op = &res->ops[i];

        yajl_gen_map_open(g);

        ngx_http_collab_api_gen_str(g, "v");
        ngx_http_collab_api_gen_int(g, op->version);

        /* an author's src is its own secret: the public form */
        ngx_http_collab_api_gen_str(g, "src");

        if (op->src.len) {
            ngx_http_collab_src_public(op->src.data, op->src.len, pub);
            yajl_gen_string(g, pub, sizeof(pub));

        } else {
            yajl_gen_string(g, op->src.data, 0);
        }

        ngx_http_collab_api_gen_str(g, "seq");
        ngx_http_collab_api_gen_int(g, op->seq);

        /*
         * yajl_gen_number() writes its text verbatim: that is how the raw
         * op JSON, stored as the module received and validated it, goes
         * out without a parse and re-encode
         */

        switch (op->kind) {

        case NGX_HTTP_COLLAB_STORE_CREATE:
            ngx_http_collab_api_gen_str(g, "create");
            yajl_gen_map_open(g);
            ngx_http_collab_api_gen_str(g, "type");
            yajl_gen_string(g, op->create_type.data, op->create_type.len);
            ngx_http_collab_api_gen_str(g, "data");
            ngx_http_collab_api_gen_raw(g, &op->create_data);
            yajl_gen_map_close(g);
            break;

        case NGX_HTTP_COLLAB_STORE_DEL:
            ngx_http_collab_api_gen_str(g, "del");
            yajl_gen_bool(g, 1);
            break;

        default:
            ngx_http_collab_api_gen_str(g, "op");
            ngx_http_collab_api_gen_raw(g, &op->op);
            break;
        }

        ngx_http_collab_api_gen_str(g, "time");
        ngx_http_collab_api_gen_int(g, op->time);

        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);

    return ngx_http_collab_api_gen_send(r, g);
}


static void
ngx_http_collab_api_gen_int(yajl_gen g, int64_t n)
{
    u_char  *p;
    u_char   num[NGX_INT64_LEN];

    p = ngx_sprintf(num, "%L", n);
    yajl_gen_number(g, (const char *) num, p - num);
}


/* stored JSON text, verbatim (yajl_gen_number() does not look at it) */

static void
ngx_http_collab_api_gen_raw(yajl_gen g, ngx_str_t *json)
{
    if (json->len) {
        yajl_gen_number(g, (const char *) json->data, json->len);

    } else {
        yajl_gen_null(g);
    }
}


/* sends what g holds as a 200 and frees g */

static ngx_int_t
ngx_http_collab_api_gen_send(ngx_http_request_t *r, yajl_gen g)
{
    size_t                len;
    ngx_int_t             rc;
    const unsigned char  *buf;

    if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
        yajl_gen_free(g);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_collab_api_send(r, NGX_HTTP_OK, buf, len);

    yajl_gen_free(g);

    return rc;
}


ngx_int_t
ngx_http_collab_api_store_error(ngx_http_request_t *r, ngx_int_t rc,
    char *not_found)
{
    switch (rc) {

    case NGX_HTTP_COLLAB_STORE_NOT_FOUND:
        if (not_found == NULL) {
            break;
        }

        return ngx_http_collab_api_error(r, NGX_HTTP_NOT_FOUND, not_found);

    case NGX_HTTP_COLLAB_STORE_UNAVAILABLE:
    case NGX_HTTP_COLLAB_STORE_UNKNOWN:
        return ngx_http_collab_api_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         "database unavailable");

    default:
        break;
    }

    return ngx_http_collab_api_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     "database error");
}


ngx_int_t
ngx_http_collab_api_error(ngx_http_request_t *r, ngx_uint_t status,
    char *msg)
{
    u_char  *p, *last;
    u_char   body[128];

    last = body + sizeof(body);
    p = ngx_slprintf(body, last, "{\"error\":\"%s\"}\n", msg);

    return ngx_http_collab_api_send(r, status, body, p - body);
}


ngx_int_t
ngx_http_collab_api_fail(ngx_http_request_t *r, ngx_uint_t status,
    char *error, char *msg)
{
    u_char  *p, *last;
    u_char   body[256];

    last = body + sizeof(body);
    p = ngx_slprintf(body, last, "{\"error\":\"%s\",\"message\":\"%s\"}\n",
                     error, msg);

    return ngx_http_collab_api_send(r, status, body, p - body);
}


ngx_int_t
ngx_http_collab_api_not_allowed(ngx_http_request_t *r, ngx_str_t *allow)
{
    ngx_int_t         rc;
    ngx_table_elt_t  *h;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Allow");
    h->value = *allow;

    return ngx_http_collab_api_error(r, NGX_HTTP_NOT_ALLOWED,
                                     "method not allowed");
}


ngx_int_t
ngx_http_collab_api_send(ngx_http_request_t *r, ngx_uint_t status,
    const u_char *body, size_t len)
{
    ngx_int_t   rc;
    ngx_buf_t  *b;

    rc = ngx_http_collab_api_body(r, status, len, &b);

    if (b == NULL) {
        return rc;
    }

    b->last = ngx_cpymem(b->last, body, len);

    return ngx_http_collab_api_output(r, b);
}


ngx_int_t
ngx_http_collab_api_body(ngx_http_request_t *r, ngx_uint_t status,
    size_t len, ngx_buf_t **bp)
{
    ngx_int_t   rc;
    ngx_buf_t  *b;

    *bp = NULL;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    /* with an ETag, If-None-Match -> 304 happens in here (not_modified) */
    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *bp = b;

    return NGX_OK;
}


ngx_int_t
ngx_http_collab_api_output(ngx_http_request_t *r, ngx_buf_t *b)
{
    ngx_chain_t  out;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
