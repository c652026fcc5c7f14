/*
 * Who may do what on a document: roles (sql/002_access.sql) read from
 * PostgreSQL into a per-worker cache, and the policy that turns a role
 * into allowed actions.  See docs/access.md.
 *
 * The cache keeps, per (document, principal), whether the document exists
 * and the member role, for collab_access_cache_ttl.  A change is announced
 * on the Redis channel "<prefix>access" (JSON ["<c>","<d>"], ["<c>"] or
 * []); every worker then drops what it cached and re-checks the live
 * subscribers of what changed.  A forged announcement only makes workers
 * read PostgreSQL again: it grants nothing.
 */

#ifndef _NGX_HTTP_COLLAB_ACCESS_H_INCLUDED_
#define _NGX_HTTP_COLLAB_ACCESS_H_INCLUDED_


#include "ngx_http_collab.h"
#include "auth/ngx_http_collab_auth.h"


/* role levels, ordered: each may do what the ones below may */
#define NGX_HTTP_COLLAB_ROLE_NONE       0
#define NGX_HTTP_COLLAB_ROLE_VIEWER     1
#define NGX_HTTP_COLLAB_ROLE_COMMENTER  2
#define NGX_HTTP_COLLAB_ROLE_EDITOR     3
#define NGX_HTTP_COLLAB_ROLE_OWNER      4

/* sharedb-style error code for a refused read or write */
#define NGX_HTTP_COLLAB_ERR_FORBIDDEN   "ERR_FORBIDDEN"

/* a lookup that found PostgreSQL away is not repeated sooner than this */
#define NGX_HTTP_COLLAB_ACCESS_RETRY    250

/* most (document, principal) entries a worker caches */
#define NGX_HTTP_COLLAB_ACCESS_MAX      20000


/* collab_collection_role <collection> <role> */
typedef struct {
    ngx_str_t                  collection;   /* "*": every other one */
    ngx_uint_t                 role;
} ngx_http_collab_collection_role_t;


/* what a lookup found */
typedef struct {
    ngx_uint_t                 role;         /* the member role only */
    unsigned                   exists:1;     /* a row, maybe deleted */
    unsigned                   deleted:1;
} ngx_http_collab_access_t;


typedef struct ngx_http_collab_access_wait_s  ngx_http_collab_access_wait_t;

/* the lookup waited for is over: ask again (the answer is cached now) */
typedef void (*ngx_http_collab_access_pt)(ngx_http_collab_access_wait_t *w);

struct ngx_http_collab_access_wait_s {
    ngx_queue_t                queue;        /* private */
    void                      *entry;        /* private: NULL when idle */
    ngx_http_collab_access_pt  handler;
    void                      *data;
};


char *ngx_http_collab_access_collection_role(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);

ngx_int_t ngx_http_collab_access_init_process(ngx_cycle_t *cycle,
    ngx_http_collab_main_conf_t *cmcf);
void ngx_http_collab_access_exit_process(ngx_cycle_t *cycle);

/*
 * Whether need on collection c is granted without asking PostgreSQL:
 * NGX_OK when auth is off, for an admin, or when the collection's default
 * role reaches need; NGX_DECLINED when the member role must be looked up.
 */
ngx_int_t ngx_http_collab_access_quick(ngx_http_collab_loc_conf_t *clcf,
    ngx_uint_t admin, ngx_str_t *c, ngx_uint_t need);

/* the collection's default role joined with a member role */
ngx_uint_t ngx_http_collab_access_role(ngx_http_collab_loc_conf_t *clcf,
    ngx_str_t *c, ngx_uint_t member);

/*
 * (c, d) for principal: NGX_OK with *a from the cache; NGX_AGAIN: w is
 * queued and its handler runs once (never from inside this call) when
 * the lookup is over; NGX_DECLINED: PostgreSQL was away a moment ago (try
 * again later); NGX_ERROR: out of memory.
 */
ngx_int_t ngx_http_collab_access_lookup(ngx_str_t *c, ngx_str_t *d,
    ngx_str_t *principal, ngx_http_collab_access_t *a,
    ngx_http_collab_access_wait_t *w);

/* a queued w is dropped without its handler */
void ngx_http_collab_access_cancel(ngx_http_collab_access_wait_t *w);

/*
 * Roles of (c, d) changed (d NULL: all of c; c NULL: everything): tells
 * every worker of every host through Redis, and this one at once.
 */
void ngx_http_collab_access_changed(ngx_str_t *c, ngx_str_t *d);

const char *ngx_http_collab_access_role_name(ngx_uint_t role);


#endif /* _NGX_HTTP_COLLAB_ACCESS_H_INCLUDED_ */
