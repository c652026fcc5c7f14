/*
 * {"a":"auth","token":...}: a WebSocket's identity is fixed at the
 * upgrade, but its token may be renewed without reconnecting.  The new
 * token is verified as on the upgrade and must name the same user; the
 * session then ends at the new token's exp (+ leeway) instead.  Its admin
 * claim counts from now on: an admin no longer gets its subscriptions
 * checked again.  The name others see stays the one of the upgrade.
 * Replies: {"a":"auth","exp":N} or {"a":"auth","error":{code,message}};
 * a refused token leaves the session as it was (the old one still runs
 * out at its time).
 */

#include "ngx_http_collab.h"
#include "auth/ngx_http_collab_auth.h"
#include "protocol/ngx_http_collab_session.h"


#define NGX_HTTP_COLLAB_ERR_TOKEN  "ERR_TOKEN_INVALID"


void
ngx_http_collab_session_renew(ngx_http_collab_session_t *s,
    collab_msg_t *msg)
{
    time_t                        left;
    ngx_int_t                     rc;
    ngx_str_t                     token;
    ngx_uint_t                    demoted;
    ngx_pool_t                   *pool;
    const char                   *reason;
    ngx_connection_t             *c;
    ngx_http_collab_auth_t        who;
    ngx_http_collab_auth_conf_t  *acf;

    c = s->ws->connection;
    acf = &s->ws->conf->auth;

    if (!acf->enabled) {
        ngx_http_collab_session_auth_reply(s, 0, NGX_HTTP_COLLAB_ERR_TOKEN,
                                           "tokens are not used here");
        return;
    }

    /* what verification allocates goes when it is done */
    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, c->log);
    if (pool == NULL) {
        ngx_http_collab_ws_close(s->ws, 1011, "internal error");
        return;
    }

    token.data = (u_char *) msg->token.data;
    token.len = msg->token.len;

    rc = ngx_http_collab_auth_verify_token(pool, acf, &token, &who, &reason);

    if (rc == NGX_ERROR) {
        ngx_destroy_pool(pool);
        ngx_http_collab_ws_close(s->ws, 1011, "internal error");
        return;
    }

    if (rc != NGX_OK) {
        ngx_destroy_pool(pool);

        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "collab: auth: token rejected: %s", reason);

        ngx_http_collab_session_auth_reply(s, 0, NGX_HTTP_COLLAB_ERR_TOKEN,
                                           reason);
        return;
    }

    if (who.principal.len != s->principal.len
        || ngx_memcmp(who.principal.data, s->principal.data,
                      s->principal.len) != 0)
    {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "collab: auth: a token of \"%V\" on the connection of "
                      "\"%V\" refused", &who.principal, &s->principal);

        ngx_destroy_pool(pool);

        ngx_http_collab_session_auth_reply(s, 0, NGX_HTTP_COLLAB_ERR_TOKEN,
                                           "another user's token: "
                                           "reconnect to change users");
        return;
    }

    ngx_destroy_pool(pool);

    demoted = s->admin && !who.admin;
    s->admin = who.admin;

    if (s->expiry.timer_set) {
        ngx_del_timer(&s->expiry);
    }

    s->expiry.handler = ngx_http_collab_session_expired;
    s->expiry.data = s;
    s->expiry.log = c->log;
    s->expiry.cancelable = 1;

    left = who.expires - ngx_time();
    ngx_add_timer(&s->expiry, left > 0 ? (ngx_msec_t) left * 1000 : 1);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "collab: auth: \"%V\" renewed for %T s",
                   &s->principal, left);

    ngx_http_collab_session_auth_reply(s, who.expires, NULL, NULL);

    if (demoted) {
        ngx_http_collab_session_access_recheck(NULL, NULL, s);
    }
}
