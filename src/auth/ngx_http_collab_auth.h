/*
 * Who is asking: a JSON Web Token on the upgrade and on every REST request
 * (collab_auth_jwt), verified before anything else is done for it.
 *
 * The token comes from "Authorization: Bearer", then a cookie, then a
 * query argument (each configurable; two different tokens are refused).
 * Its header is read first (collab_jwt.c): the key is chosen by kid (or is
 * the only one), the token's alg must be the one pinned for that key, and
 * only then does libjwt check the signature with it (and its alg is
 * checked again); the claims are ours (exp required, nbf, iat, iss, aud,
 * leeway).  The principal is "<iss> <sub>" (or "<sub>" without iss).
 */

#ifndef _NGX_HTTP_COLLAB_AUTH_H_INCLUDED_
#define _NGX_HTTP_COLLAB_AUTH_H_INCLUDED_


#include "ngx_http_collab.h"


/*
 * $collab_jwt_sub and $collab_jwt_claim_<name>: from the request's token,
 * verified as the location verifies it when the variable is first read
 * (so limit_req and log_format can key by user); empty without a valid
 * token.  Values cached per request by nginx.
 */
ngx_int_t ngx_http_collab_auth_add_variables(ngx_conf_t *cf);

/* directive handlers (location context, see docs/directives.md) */
char *ngx_http_collab_auth_key_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_collab_auth_audience(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_collab_auth_admin_claim(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* collab_auth_jwt_jwks_file (ngx_http_collab_auth_jwks.c) */
char *ngx_http_collab_auth_jwks_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * For the key readers: a key added to acf, checked for its algorithm (alg)
 * as nginx -t would, from (a file's name) in messages.  key: a secret's
 * bytes, or a PEM public key, NUL-ended and kept.
 */
char *ngx_http_collab_auth_add_key(ngx_conf_t *cf,
    ngx_http_collab_auth_conf_t *acf, ngx_str_t *alg, ngx_str_t *kid,
    ngx_str_t *key, ngx_str_t *from);

void ngx_http_collab_auth_create_conf(ngx_http_collab_auth_conf_t *acf);
char *ngx_http_collab_auth_merge_conf(ngx_conf_t *cf,
    ngx_http_collab_auth_conf_t *prev, ngx_http_collab_auth_conf_t *conf);

/*
 * The close code of a WebSocket whose token expired (exp + leeway): the
 * client reconnects with a fresh token and resends what was not acked.
 */
#define NGX_HTTP_COLLAB_CLOSE_EXPIRED  4401


/* who asked: strings from r->pool, empty (and expires 0) when auth is off */
typedef struct {
    ngx_str_t                  principal;   /* "<iss> <sub>" or "<sub>" */
    ngx_str_t                  iss;
    ngx_str_t                  sub;
    ngx_str_t                  name;        /* name / preferred_username */
    ngx_str_t                  email;
    time_t                     expires;     /* exp + leeway */
    ngx_str_t                  claims;      /* the payload, decoded */
    ngx_uint_t                 admin;       /* collab_auth_admin_claim */
} ngx_http_collab_auth_t;


/*
 * NGX_OK: allowed (*who set); NGX_HTTP_UNAUTHORIZED: *reason says why
 * (NULL: no token); NGX_ERROR: out of memory.
 */
ngx_int_t ngx_http_collab_auth_check(ngx_http_request_t *r,
    ngx_http_collab_auth_conf_t *acf, ngx_http_collab_auth_t *who,
    const char **reason);

/* the same, whether or not collab_auth_jwt is on for the location */
ngx_int_t ngx_http_collab_auth_verify(ngx_http_request_t *r,
    ngx_http_collab_auth_conf_t *acf, ngx_http_collab_auth_t *who,
    const char **reason);

/* the same for a token given (auth on a WebSocket), from pool */
ngx_int_t ngx_http_collab_auth_verify_token(ngx_pool_t *pool,
    ngx_http_collab_auth_conf_t *acf, ngx_str_t *token,
    ngx_http_collab_auth_t *who, const char **reason);

/*
 * A token for sub (and name, when not empty) until exp, signed with the
 * location's first key (ngx_http_collab_auth_can_sign: an HS* secret),
 * with its kid, collab_auth_jwt_issuer and the first audience; from
 * r->pool.
 */
ngx_int_t ngx_http_collab_auth_sign(ngx_http_request_t *r,
    ngx_http_collab_auth_conf_t *acf, ngx_str_t *sub, ngx_str_t *name,
    time_t exp, ngx_str_t *token);
ngx_uint_t ngx_http_collab_auth_can_sign(ngx_http_collab_auth_conf_t *acf);

/* the 401: WWW-Authenticate (RFC 6750) and a short JSON reason */
ngx_int_t ngx_http_collab_auth_deny(ngx_http_request_t *r,
    const char *reason);


#endif /* _NGX_HTTP_COLLAB_AUTH_H_INCLUDED_ */
