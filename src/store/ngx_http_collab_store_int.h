/*
 * What the statement files share (ngx_http_collab_store.c: documents;
 * _members.c: members and users): the statement numbers, the request
 * block and its parameter and result helpers.  Private to
 * src/store/ngx_http_collab_store*.c.
 */

#ifndef _NGX_HTTP_COLLAB_STORE_INT_H_INCLUDED_
#define _NGX_HTTP_COLLAB_STORE_INT_H_INCLUDED_


#include "ngx_http_collab.h"
#include "store/ngx_http_collab_pg.h"
#include "store/ngx_http_collab_store.h"


#define NGX_HTTP_COLLAB_STORE_MAX_PARAMS  13

#define NGX_HTTP_COLLAB_PG_TEXTOID        25
#define NGX_HTTP_COLLAB_PG_INT8OID        20

#define NGX_HTTP_COLLAB_STORE_INT64_MAX   ((int64_t) 0x7fffffffffffffffLL)


/* the pool prepares them in this order: store.c's table, then _members.c's */
enum {
    NGX_HTTP_COLLAB_STMT_LOAD = 0,
    NGX_HTTP_COLLAB_STMT_OPS,
    NGX_HTTP_COLLAB_STMT_COMMIT,
    NGX_HTTP_COLLAB_STMT_DUP,
    NGX_HTTP_COLLAB_STMT_CREATE,
    NGX_HTTP_COLLAB_STMT_FIND,
    NGX_HTTP_COLLAB_STMT_SNAPSHOT,
    NGX_HTTP_COLLAB_STMT_HEADS,
    NGX_HTTP_COLLAB_STMT_LIST,
    NGX_HTTP_COLLAB_STMT_COMMIT_MULTI,
    NGX_HTTP_COLLAB_STMT_PING,
    NGX_HTTP_COLLAB_STMT_ACCESS,
    NGX_HTTP_COLLAB_STMT_USER_SEEN,
    NGX_HTTP_COLLAB_STMT_LOGIN_GET,
    NGX_HTTP_COLLAB_STMT_LOGIN_ADD,

    NGX_HTTP_COLLAB_STMT_MEMBERS,              /* first of _members.c */
    NGX_HTTP_COLLAB_STMT_MEMBER_PUT,
    NGX_HTTP_COLLAB_STMT_MEMBER_DEL,
    NGX_HTTP_COLLAB_STMT_OWNER,
    NGX_HTTP_COLLAB_STMT_USERS,

    NGX_HTTP_COLLAB_STMT_N
};


typedef struct {
    ngx_http_collab_pg_req_t          req;
    ngx_uint_t                        n;        /* commit batch size */
    int64_t                           base;
    ngx_http_collab_store_handler_pt  handler;
    void                             *data;

    const char                       *values[NGX_HTTP_COLLAB_STORE_MAX_PARAMS];
    int                               lengths[NGX_HTTP_COLLAB_STORE_MAX_PARAMS];
    int                               formats[NGX_HTTP_COLLAB_STORE_MAX_PARAMS];

    u_char                           *pos;
    u_char                           *end;
    u_char                           *array;    /* array being written */
} ngx_http_collab_store_ctx_t;


/* statement i of either table */
ngx_http_collab_pg_stmt_t *ngx_http_collab_store_stmt(ngx_uint_t i);

/* _members.c's table, NGX_HTTP_COLLAB_STMT_MEMBERS onwards */
ngx_http_collab_pg_stmt_t *ngx_http_collab_store_members_stmts(
    ngx_uint_t *n);

/* the result of a _members.c statement (see store_members.h) */
ngx_http_collab_store_result_t *ngx_http_collab_store_members_result(
    PGresult *res);

ngx_http_collab_store_ctx_t *ngx_http_collab_store_ctx(ngx_uint_t stmt,
    size_t size, ngx_http_collab_store_handler_pt handler, void *data);
void ngx_http_collab_store_text(ngx_http_collab_store_ctx_t *ctx,
    ngx_uint_t i, ngx_str_t *s);
void ngx_http_collab_store_int(ngx_http_collab_store_ctx_t *ctx,
    ngx_uint_t i, int64_t v);
ngx_int_t ngx_http_collab_store_send(ngx_http_collab_store_ctx_t *ctx);

/* one heap block: the result, nops op slots, nheads heads, the strings */
ngx_http_collab_store_result_t *ngx_http_collab_store_result(PGresult *res,
    ngx_uint_t nops, ngx_uint_t nheads, u_char **strings);
void ngx_http_collab_store_copy(u_char **p, PGresult *res, int row, int col,
    ngx_str_t *dst);
int64_t ngx_http_collab_store_get_int(PGresult *res, int row, int col);
ngx_uint_t ngx_http_collab_store_get_bool(PGresult *res, int row, int col);


#endif /* _NGX_HTTP_COLLAB_STORE_INT_H_INCLUDED_ */
