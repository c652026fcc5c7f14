/*
 * Read-only REST endpoints of "collab_api" locations:
 *
 *     GET <location>/<collection>/<doc>[?v=N]
 *
 * returns the document as ShareDB's fetch sees it (see
 * ngx_http_collab_api_snapshot.h).
 *
 *     GET <location>/<collection>/<doc>/ops?from=N&to=M
 *
 * returns the committed ops with N <= v < M as a JSON array (versions as
 * stored: the create op is version 1, an op's v is the document version it
 * produced).
 *
 *     GET <location>/<collection>/<doc>/role
 *
 * says what the asking user may do: {"role", "exists"} (docs/access.md).
 *
 *     GET <location>/<collection>
 *
 * lists the collection's documents that are not deleted, most recently
 * updated first: [{"id", "v" (head version), "type", "updated" (ms)}].
 *
 * The members routes and the user search are in
 * ngx_http_collab_api_members.h; docs/api.md describes every route.
 */

#ifndef _NGX_HTTP_COLLAB_API_H_INCLUDED_
#define _NGX_HTTP_COLLAB_API_H_INCLUDED_


#include "ngx_http_collab.h"
#include "auth/ngx_http_collab_auth.h"


/* most ops in one response; page on with from=<last v + 1> */
#define NGX_HTTP_COLLAB_API_MAX_OPS   10000

/* most documents one list response names */
#define NGX_HTTP_COLLAB_API_MAX_DOCS  1000


/* content handler of "collab_api" locations */
ngx_int_t ngx_http_collab_api_handler(ngx_http_request_t *r);

/*
 * Whether who may act at level need on (c, d): NGX_DECLINED to go on;
 * else what the handler returns (the 404/403/503 sent, or NGX_DONE while the
 * role is looked up: the handler then runs again).
 */
ngx_int_t ngx_http_collab_api_access(ngx_http_request_t *r,
    ngx_http_collab_auth_t *who, ngx_str_t *c, ngx_str_t *d,
    ngx_uint_t need, ngx_uint_t snapshot);

/* GET <location>/<c>/<d>/role: {"role", "exists"} for the asking user */
ngx_int_t ngx_http_collab_api_role(ngx_http_request_t *r,
    ngx_http_collab_auth_t *who, ngx_str_t *c, ngx_str_t *d);

/* {"error":"<msg>"} with that status */
ngx_int_t ngx_http_collab_api_error(ngx_http_request_t *r,
    ngx_uint_t status, char *msg);

/* {"error":"<error>","message":"<msg>"}: the write routes' errors */
ngx_int_t ngx_http_collab_api_fail(ngx_http_request_t *r,
    ngx_uint_t status, char *error, char *msg);

/* 405 with that Allow header */
ngx_int_t ngx_http_collab_api_not_allowed(ngx_http_request_t *r,
    ngx_str_t *allow);

/*
 * The error response to a store callback's rc (not NGX_HTTP_COLLAB_STORE_OK):
 * 404 {"error":"<not_found>"} for NOT_FOUND when not_found is not NULL,
 * 503 when PostgreSQL is unreachable, else 500.
 */
ngx_int_t ngx_http_collab_api_store_error(ngx_http_request_t *r,
    ngx_int_t rc, char *not_found);

/* a JSON body with that status; the headers first, then one buffer */
ngx_int_t ngx_http_collab_api_send(ngx_http_request_t *r, ngx_uint_t status,
    const u_char *body, size_t len);

/*
 * The two halves of api_send() for a body written in place: the headers
 * of a JSON body of len bytes, then (*bp not NULL) a buffer of len bytes
 * to fill; with *bp NULL the response is over and rc is final.
 */
ngx_int_t ngx_http_collab_api_body(ngx_http_request_t *r, ngx_uint_t status,
    size_t len, ngx_buf_t **bp);
ngx_int_t ngx_http_collab_api_output(ngx_http_request_t *r, ngx_buf_t *b);


#endif /* _NGX_HTTP_COLLAB_API_H_INCLUDED_ */
