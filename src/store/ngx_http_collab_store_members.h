/*
 * Member statements (docs/api.md): a document's members, a role granted
 * or changed, a member removed, ownership moved, users found by name.
 * Calls and results as in ngx_http_collab_store.h.  A user is its
 * collab_users id.  Each write is one statement: it happens entirely or
 * not at all.  "Exactly one owner" holds under concurrency: the document
 * row is locked for the write, the owner's row is never the target of a
 * put or delete (re-checked on the locked row), and the unique index
 * collab_members_one_owner turns a lost race into CONFLICT.
 *
 * res->exists says whether the document exists; members[] holds the
 * rows (for a write: the member as it is now, none when refused).
 */

#ifndef _NGX_HTTP_COLLAB_STORE_MEMBERS_H_INCLUDED_
#define _NGX_HTTP_COLLAB_STORE_MEMBERS_H_INCLUDED_


#include "ngx_http_collab.h"
#include "store/ngx_http_collab_store.h"


/* the members, the owner first */
ngx_int_t ngx_http_collab_store_members(ngx_str_t *collection,
    ngx_str_t *doc, ngx_http_collab_store_handler_pt handler, void *data);

/*
 * user gets role (not "owner"), granted by principal: user_found says
 * whether the user exists, done whether it was added (not changed); no
 * member back means user is the owner (refused)
 */
ngx_int_t ngx_http_collab_store_member_put(ngx_str_t *collection,
    ngx_str_t *doc, int64_t user, ngx_str_t *role, ngx_str_t *principal,
    ngx_http_collab_store_handler_pt handler, void *data);

/*
 * user's membership removed: user_found says whether it was a member,
 * done whether it was removed (not: it is the owner)
 */
ngx_int_t ngx_http_collab_store_member_del(ngx_str_t *collection,
    ngx_str_t *doc, int64_t user,
    ngx_http_collab_store_handler_pt handler, void *data);

/*
 * user becomes the owner and the owner before it an editor; user_found
 * says whether the user exists; CONFLICT if another transfer won
 */
ngx_int_t ngx_http_collab_store_owner(ngx_str_t *collection, ngx_str_t *doc,
    int64_t user, ngx_str_t *principal,
    ngx_http_collab_store_handler_pt handler, void *data);

/* at most limit users whose name or principal contains q, any case */
ngx_int_t ngx_http_collab_store_users(ngx_str_t *q, ngx_uint_t limit,
    ngx_http_collab_store_handler_pt handler, void *data);


#endif /* _NGX_HTTP_COLLAB_STORE_MEMBERS_H_INCLUDED_ */
