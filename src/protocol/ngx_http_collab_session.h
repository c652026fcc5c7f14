/*
 * The protocol layer's hooks, called by the WebSocket layer
 * (ws/ngx_http_collab_ws.c), and the per-connection ShareDB session.
 * Implemented in ngx_http_collab_session.c (hs, pp, s/f/u, bulk, op, nf,
 * queries) and ngx_http_collab_presence.c (p/ps/pu/pr).
 */

#ifndef _NGX_HTTP_COLLAB_SESSION_H_INCLUDED_
#define _NGX_HTTP_COLLAB_SESSION_H_INCLUDED_


#include "ngx_http_collab.h"
#include "ws/ngx_http_collab_ws.h"
#include "protocol/ngx_http_collab_src.h"
#include "protocol/ngx_http_collab_src_live.h"
#include "protocol/collab_msg.h"
#include "protocol/collab_limit.h"
#include "doc/ngx_http_collab_doc.h"


/* sharedb's code for refused reads: subscriptions over the limit */
#define NGX_HTTP_COLLAB_ERR_READS_REJECTED  "ERR_SNAPSHOT_READS_REJECTED"


typedef struct {
    ngx_http_collab_ws_t      *ws;
    /* its own src, and what others see of it (ngx_http_collab_src.h) */
    ngx_str_t                  src;
    u_char                     src_buf[NGX_HTTP_COLLAB_SRC_LEN];
    ngx_str_t                  src_public;
    u_char                     src_public_buf[NGX_HTTP_COLLAB_SRC_LEN];

    /* who is connected: empty for anonymous (set by the auth layer) */
    ngx_str_t                  principal;
    ngx_uint_t                 admin;       /* collab_auth_admin_claim */
    ngx_str_t                  name;        /* shown in presence, or "" */

    /*
     * Access checks (ngx_http_collab_session_access.c): the first held
     * message waits for access_pending role lookups, or for access_retry
     * while PostgreSQL is away (since access_since).
     */
    ngx_queue_t                access_checks;
    ngx_uint_t                 access_pending;
    ngx_event_t                access_retry;
    ngx_msec_t                 access_since;

    /*
     * src is held live while the session lasts; claim is the previous src
     * an hs asked for, while Redis says whether it is live elsewhere;
     * while its holder is live, the claim is asked again every
     * claim_retry until claim_until.  Messages that come meanwhile wait
     * in held, in order, and are processed one per event (drain) after
     * the hs reply.
     */
    ngx_http_collab_src_live_t *live;
    ngx_http_collab_src_live_t *claim;
    u_char                     claim_src[NGX_HTTP_COLLAB_SRC_LEN];
    ngx_msec_t                 claim_until;
    ngx_event_t                claim_retry;
    unsigned                   claiming:1;

    /* closes the socket when the token expires (collab_auth_jwt) */
    ngx_event_t                expiry;
    ngx_queue_t                held;
    ngx_uint_t                 nheld;
    ngx_event_t                drain;

    /*
     * collab_limit_ops: the first held message may be an op delayed
     * until a given time (limit_wait runs drain then); limit_admitted
     * says whether the message being processed was counted already.
     */
    ngx_event_t                limit_wait;
    collab_limit_strikes_t     limit_strikes;
    unsigned                   limit_admitted:1;

    ngx_queue_t                subs;        /* ngx_http_collab_doc_sub_t */
    ngx_queue_t                submits;     /* ops waiting for commit */
    ngx_queue_t                reqs;        /* s/f/bulk/nf in progress */
    ngx_queue_t                presence;    /* presence subscriptions */

    /* what the per-connection limits count */
    ngx_uint_t                 nsubs;       /* entries in subs */
    ngx_uint_t                 npending;    /* documents of reqs */
    ngx_uint_t                 npresence;   /* entries in presence */

    /* the last seq submitted per document: a reused seq is refused */
    ngx_rbtree_t               seqs;
    ngx_rbtree_node_t          seqs_sentinel;
    ngx_queue_t                seqs_lru;
    ngx_uint_t                 nseqs;
} ngx_http_collab_session_t;


/*
 * Before the 101 is sent: who is asking (collab_auth_jwt).  Returns
 * NGX_OK to upgrade (*principal set, from r->pool, empty if anonymous),
 * NGX_HTTP_UNAUTHORIZED with *reason (NULL: no token) to refuse, or
 * NGX_ERROR; nothing has been sent yet.
 */
ngx_int_t ngx_http_collab_session_pre_upgrade(ngx_http_request_t *r,
    ngx_http_collab_auth_t *who, const char **reason);

/* after the 101 was sent; NGX_ERROR closes the socket (1011) */
ngx_int_t ngx_http_collab_session_open(ngx_http_collab_ws_t *ws);

/*
 * One complete, UTF-8 valid text message.  data stays valid only for the
 * duration of the call.
 */
void ngx_http_collab_session_message(ngx_http_collab_ws_t *ws,
    u_char *data, size_t len);

/*
 * The socket is going away (any reason); called exactly once, after which
 * ws must not be used.
 */
void ngx_http_collab_session_close(ngx_http_collab_ws_t *ws);

/* whether src is this socket's own (it then gets its ops with it) */
ngx_uint_t ngx_http_collab_session_owns(ngx_http_collab_ws_t *ws,
    ngx_str_t *src);

/*
 * The access gate (ngx_http_collab_session_access.c), before dispatch:
 * NGX_OK to go on, NGX_DONE when the message was answered (refused) or
 * is held until its roles are known.
 */
ngx_int_t ngx_http_collab_session_gate(ngx_http_collab_session_t *s,
    collab_msg_t *msg, u_char *data, size_t len);
void ngx_http_collab_session_access_init(ngx_http_collab_session_t *s);
void ngx_http_collab_session_access_close(ngx_http_collab_session_t *s);
ngx_uint_t ngx_http_collab_session_access_waiting(
    ngx_http_collab_session_t *s);

/* roles of (c, d) changed (NULL: all): live subscriptions are re-checked */
void ngx_http_collab_session_access_changed(ngx_str_t *c, ngx_str_t *d);
void ngx_http_collab_session_access_recheck(ngx_str_t *c, ngx_str_t *d,
    ngx_http_collab_session_t *only);

/*
 * auth: a new token for the same user, verified as on the upgrade; it
 * moves the session's expiry (ngx_http_collab_session_auth.c)
 */
void ngx_http_collab_session_renew(ngx_http_collab_session_t *s,
    collab_msg_t *msg);
void ngx_http_collab_session_expired(ngx_event_t *ev);
void ngx_http_collab_session_auth_reply(ngx_http_collab_session_t *s,
    time_t exp, const char *code, const char *message);

/* keeps a message ahead of all held ones; release() processes them */
void ngx_http_collab_session_hold_first(ngx_http_collab_session_t *s,
    u_char *data, size_t len);
void ngx_http_collab_session_release(ngx_http_collab_session_t *s);

/* the session's subscription to doc, or NULL */
ngx_http_collab_doc_sub_t *ngx_http_collab_session_sub(
    ngx_http_collab_session_t *s, ngx_http_collab_doc_t *doc);

/* sends the error reply to a decoded request */
void ngx_http_collab_session_error(ngx_http_collab_session_t *s,
    void *msg, const char *code, const char *message);


#endif /* _NGX_HTTP_COLLAB_SESSION_H_INCLUDED_ */
