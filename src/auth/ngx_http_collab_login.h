/*
 * The built-in sign-in of "collab_auth_login" locations, for deployments
 * without an identity provider (docs/access.md):
 *
 *     POST <location>/login    {"user", "password"}
 *     POST <location>/signup   {"user", "password", "name"?}  (when on)
 *     POST <location>/refresh  with a valid token of ours
 *     POST <location>/logout
 *
 * answer {"token", "expires_at", "user": {"sub", "name"}} and set the
 * token cookie (collab_auth_jwt_cookie; HttpOnly, SameSite=Strict), so
 * that the browser's WebSocket and REST calls carry it.  The tokens are
 * signed with the location's first collab_auth_jwt_key_file (an HS*
 * secret) and verified like anyone else's.  Passwords are argon2id
 * (libsodium crypto_pwhash_str), hashed and checked in nginx's thread
 * pool, never on the event loop; attempts are counted per client address
 * and per user name in Redis.
 */

#ifndef _NGX_HTTP_COLLAB_LOGIN_H_INCLUDED_
#define _NGX_HTTP_COLLAB_LOGIN_H_INCLUDED_


#include "ngx_http_collab.h"


/* attempts per client address a minute, per user name a quarter hour */
#define NGX_HTTP_COLLAB_LOGIN_MAX_PER_ADDR  30
#define NGX_HTTP_COLLAB_LOGIN_MAX_PER_USER  10

/* the largest request body (JSON) a sign-in takes */
#define NGX_HTTP_COLLAB_LOGIN_MAX_BODY      4096


char *ngx_http_collab_login(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* nginx -t: the location can sign what it hands out */
char *ngx_http_collab_login_merge(ngx_conf_t *cf,
    ngx_http_collab_loc_conf_t *prev, ngx_http_collab_loc_conf_t *conf);

ngx_int_t ngx_http_collab_login_init_process(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_COLLAB_LOGIN_H_INCLUDED_ */
