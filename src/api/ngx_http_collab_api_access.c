/*
 * Roles on the REST endpoints (docs/access.md): a document the user may
 * not read is 404, as if it did not exist; one it may read but not at the
 * level asked for is 403.  A role not cached yet is looked up while the
 * request waits; the handler then runs again and finds it cached.
 */

#include "ngx_http_collab.h"
#include "access/ngx_http_collab_access.h"
#include "api/ngx_http_collab_api.h"


typedef struct {
    ngx_http_collab_access_wait_t  w;
    ngx_http_request_t            *r;
} ngx_http_collab_api_wait_t;


static ngx_int_t ngx_http_collab_api_lookup(ngx_http_request_t *r,
    ngx_http_collab_auth_t *who, ngx_str_t *c, ngx_str_t *d,
    ngx_http_collab_access_t *a);
static ngx_int_t ngx_http_collab_api_hidden(ngx_http_request_t *r,
    ngx_http_collab_auth_t *who, ngx_str_t *c, ngx_str_t *d,
    ngx_uint_t snapshot);
static void ngx_http_collab_api_access_ready(
    ngx_http_collab_access_wait_t *w);
static void ngx_http_collab_api_access_cleanup(void *data);


ngx_int_t
ngx_http_collab_api_access(ngx_http_request_t *r, ngx_http_collab_auth_t *who,
    ngx_str_t *c, ngx_str_t *d, ngx_uint_t need, ngx_uint_t snapshot)
{
    ngx_int_t                    rc;
    ngx_uint_t                   role;
    ngx_http_collab_access_t     a;
    ngx_http_collab_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_collab_module);

    if (ngx_http_collab_access_quick(clcf, who->admin, c, need) == NGX_OK) {
        return NGX_DECLINED;
    }

    rc = ngx_http_collab_api_lookup(r, who, c, d, &a);
    if (rc == NGX_DECLINED) {
        return ngx_http_collab_api_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         "database unavailable");
    }

    if (rc != NGX_OK) {
        return rc;
    }

    if (!a.exists) {
        /* nothing to hide: the route answers as for anyone */
        return NGX_DECLINED;
    }

    role = ngx_http_collab_access_role(clcf, c, a.role);

    if (role < NGX_HTTP_COLLAB_ROLE_VIEWER) {
        return ngx_http_collab_api_hidden(r, who, c, d, snapshot);
    }

    if (role < need) {
        return ngx_http_collab_api_error(r, NGX_HTTP_FORBIDDEN,
                                         need >= NGX_HTTP_COLLAB_ROLE_OWNER
                                         ? "forbidden: only the owner may "
                                           "do that"
                                         : "forbidden: history needs the "
                                           "editor role");
    }

    return NGX_DECLINED;
}


/* GET <api>/<c>/<d>/role: {"role", "exists"} of the asking user */
ngx_int_t
ngx_http_collab_api_role(ngx_http_request_t *r, ngx_http_collab_auth_t *who,
    ngx_str_t *c, ngx_str_t *d)
{
    u_char                       buf[64], *p;
    ngx_int_t                    rc;
    ngx_uint_t                   role;
    ngx_http_collab_access_t     a;
    ngx_http_collab_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_collab_module);

    if (!clcf->auth.enabled || who->admin) {
        /* no roles here, or all of them: whether it exists is not read */
        p = ngx_sprintf(buf, "{\"role\":\"owner\",\"exists\":null}\n");
        return ngx_http_collab_api_send(r, NGX_HTTP_OK, buf, p - buf);
    }

    rc = ngx_http_collab_api_lookup(r, who, c, d, &a);
    if (rc == NGX_DECLINED) {
        return ngx_http_collab_api_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         "database unavailable");
    }

    if (rc != NGX_OK) {
        return rc;
    }

    role = ngx_http_collab_access_role(clcf, c, a.role);

    if (a.exists && role < NGX_HTTP_COLLAB_ROLE_VIEWER) {
        return ngx_http_collab_api_hidden(r, who, c, d, 0);
    }

    p = ngx_sprintf(buf, "{\"role\":\"%s\",\"exists\":%s}\n",
                    ngx_http_collab_access_role_name(role),
                    a.exists ? "true" : "false");

    return ngx_http_collab_api_send(r, NGX_HTTP_OK, buf, p - buf);
}


/*
 * The member role of who on (c, d): NGX_OK with *a; NGX_DECLINED when the
 * database cannot say; else what the handler returns (NGX_DONE while it is
 * looked up: the handler then runs again).
 */
static ngx_int_t
ngx_http_collab_api_lookup(ngx_http_request_t *r, ngx_http_collab_auth_t *who,
    ngx_str_t *c, ngx_str_t *d, ngx_http_collab_access_t *a)
{
    ngx_int_t                    rc;
    ngx_pool_cleanup_t          *cln;
    ngx_http_collab_api_wait_t  *aw;

    aw = ngx_pcalloc(r->pool, sizeof(ngx_http_collab_api_wait_t));
    if (aw == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    aw->r = r;
    aw->w.handler = ngx_http_collab_api_access_ready;
    aw->w.data = aw;

    rc = ngx_http_collab_access_lookup(c, d, &who->principal, a, &aw->w);

    switch (rc) {

    case NGX_OK:
        return NGX_OK;

    case NGX_AGAIN:
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            ngx_http_collab_access_cancel(&aw->w);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* the client may go first */
        cln->handler = ngx_http_collab_api_access_cleanup;
        cln->data = aw;

        r->main->count++;
        return NGX_DONE;

    case NGX_DECLINED:
        return NGX_DECLINED;

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}


/* a document the user may not read: as if it did not exist */
static ngx_int_t
ngx_http_collab_api_hidden(ngx_http_request_t *r, ngx_http_collab_auth_t *who,
    ngx_str_t *c, ngx_str_t *d, ngx_uint_t snapshot)
{
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "collab: \"%V\" may not read \"%V\" in \"%V\"",
                  &who->principal, d, c);

    /* byte for byte what the route says of a document not made yet */
    if (snapshot) {
        return ngx_http_collab_api_send(r, NGX_HTTP_NOT_FOUND,
                                        (u_char *) "{\"v\":0,"
                                        "\"type\":null}", 19);
    }

    return ngx_http_collab_api_error(r, NGX_HTTP_NOT_FOUND,
                                     "no such document");
}


/* the role is cached now: the whole request runs again */
static void
ngx_http_collab_api_access_ready(ngx_http_collab_access_wait_t *w)
{
    ngx_http_collab_api_wait_t  *aw = w->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = aw->r;
    c = r->connection;

    ngx_http_finalize_request(r, ngx_http_collab_api_handler(r));
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_collab_api_access_cleanup(void *data)
{
    ngx_http_collab_api_wait_t  *aw = data;

    ngx_http_collab_access_cancel(&aw->w);
}
