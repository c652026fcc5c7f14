/*
 * The members routes of "collab_api" locations (docs/api.md), all for the
 * document's owner (or an admin):
 *
 *     GET    <location>/<c>/<d>/members          the members
 *     PUT    <location>/<c>/<d>/members/<user>   {"role"}: add or change
 *     DELETE <location>/<c>/<d>/members/<user>   remove
 *     POST   <location>/<c>/<d>/owner            {"user"}: transfer
 *
 * and, for any signed-in user, with collab_auth_jwt on:
 *
 *     GET    <location>/users?q=<text>           users for a share dialog
 *
 * <user> is the collab_users id, as the search and the members list say.
 */

#ifndef _NGX_HTTP_COLLAB_API_MEMBERS_H_INCLUDED_
#define _NGX_HTTP_COLLAB_API_MEMBERS_H_INCLUDED_


#include "ngx_http_collab.h"
#include "auth/ngx_http_collab_auth.h"


/* most users one search names */
#define NGX_HTTP_COLLAB_API_MAX_USERS  20


/*
 * The methods of the members route parts[0..n) names, and its Allow
 * header; 0 for another route
 */
ngx_uint_t ngx_http_collab_api_members_methods(ngx_str_t *parts,
    ngx_int_t n, ngx_str_t *allow);

/*
 * parts[0..n) of the path: NGX_DECLINED when they name no members route,
 * else what the content handler returns
 */
ngx_int_t ngx_http_collab_api_members(ngx_http_request_t *r,
    ngx_http_collab_auth_t *who, ngx_str_t *parts, ngx_int_t n);

/* GET <location>/users?q= */
ngx_int_t ngx_http_collab_api_users(ngx_http_request_t *r);


#endif /* _NGX_HTTP_COLLAB_API_MEMBERS_H_INCLUDED_ */
