/*
 * The ShareDB v1.2 session of one WebSocket: decodes each message
 * (collab_msg.c) and dispatches it by action.
 *
 *   hs            the src id: a fresh one, or the client's previous one if
 *                 it was issued to the same principal (the id carries a
 *                 digest of principal and random part) and no other
 *                 connection holds it (ngx_http_collab_src_live.h); nobody
 *                 else ever sees it (ngx_http_collab_src.h)
 *   s, f, bs, bf  wait for the document(s) in the registry, then answer a
 *                 snapshot, or the ops since v followed by the reply; a
 *                 subscription is linked at the very moment its snapshot
 *                 or ops are taken, so no op falls in between
 *   u, bu         unlink
 *   op            queued on the document's commit path
 *   nf            the ops up to v read from PostgreSQL, applied in order
 *   p, ps, pu, pr presence relay (ngx_http_collab_presence.c)
 *   qf, qs, qu    refused: this server has no queries
 *
 * Everything a pending request needs is owned by the request or the
 * document; closing the session detaches it, so a late callback never
 * touches the freed session.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_parse.h>
#include <yajl/yajl_gen.h>

#include "ngx_http_collab.h"
#include "ws/ngx_http_collab_ws.h"
#include "store/ngx_http_collab_store.h"
#include "engine/collab_ot_json.h"
#include "protocol/collab_msg.h"
#include "protocol/collab_msg_enc.h"
#include "doc/ngx_http_collab_doc.h"
#include "doc/ngx_http_collab_commit.h"
#include "protocol/ngx_http_collab_session.h"
#include "auth/ngx_http_collab_auth.h"
#include "protocol/ngx_http_collab_presence.h"
#include "protocol/ngx_http_collab_limit_ops.h"


/* ops a document may have waiting for commit at once */
#define NGX_HTTP_COLLAB_SESSION_MAX_SUBMITS  65536

/* ops read per query when building a snapshot at a version */
#define NGX_HTTP_COLLAB_NF_CHUNK             10000

/* documents whose last seq a session remembers (least recently used go) */
#define NGX_HTTP_COLLAB_SESSION_MAX_SEQS     1024

/* messages a session keeps while its hs waits for Redis */
#define NGX_HTTP_COLLAB_SESSION_MAX_HELD     64

/* top-level keys echoed when a message cannot be decoded into a tree */
#define NGX_HTTP_COLLAB_SALVAGE_KEYS         8


typedef struct ngx_http_collab_sreq_s  ngx_http_collab_sreq_t;


/* one document of an s/f/bs/bf request */
typedef struct {
    ngx_http_collab_doc_req_t  req;
    ngx_http_collab_sreq_t    *sreq;
    ngx_http_collab_doc_t     *doc;         /* referenced once ready */
    ngx_str_t                  d;
    uint64_t                   v;
    ngx_int_t                  rc;
    unsigned                   has_v:1;
    unsigned                   unsubscribed:1;  /* "u" came meanwhile */
} ngx_http_collab_sitem_t;


struct ngx_http_collab_sreq_s {
    ngx_queue_t                sq;          /* in session->reqs */
    ngx_http_collab_session_t *session;     /* NULL once it closed */
    collab_msg_action_e        action;
    ngx_str_t                  raw;
    ngx_str_t                  c;
    ngx_uint_t                 n;
    ngx_uint_t                 left;
    ngx_uint_t                 count;       /* in session->npending */
    unsigned                   versions:1;  /* bulk with {id: v} */

    /* nf */
    ngx_str_t                  d;
    uint64_t                   v;
    uint64_t                   at;          /* version of text */
    collab_text_t             *text;
    unsigned                   has_v:1;
    unsigned                   nf:1;

    ngx_http_collab_sitem_t    items[1];
};


/*
 * A message that came while the hs claim was out, or behind one at the
 * gate, or an op delayed by collab_limit_ops until at (0: not delayed)
 */
typedef struct {
    ngx_queue_t                queue;       /* in session->held */
    ngx_msec_t                 at;
    size_t                     len;
    unsigned                   admitted:1;  /* counted by the limit */
    u_char                     data[1];
} ngx_http_collab_held_t;


/* the last seq a session submitted on one document */
typedef struct {
    ngx_str_node_t             sn;          /* key: c NUL d */
    ngx_queue_t                lru;
    uint64_t                   seq;
} ngx_http_collab_sseq_t;


/* a message valid as JSON that the tree builder refused (too deep, ...) */
typedef struct {
    yajl_gen                   gen;
    ngx_uint_t                 depth;
    ngx_uint_t                 seen;        /* a bit per echoed key */
    ngx_int_t                  key;         /* echoed key next, or -1 */
    u_char                     a[3];        /* "a", when 1 or 2 bytes */
    unsigned                   op:1;        /* "a" is "op" */
} ngx_http_collab_salvage_t;


static void ngx_http_collab_session_dispatch(ngx_http_collab_session_t *s,
    collab_msg_t *msg, u_char *data, size_t len);
static void ngx_http_collab_session_handshake(ngx_http_collab_session_t *s,
    collab_msg_t *msg);
static void ngx_http_collab_session_claim(ngx_http_collab_session_t *s,
    ngx_uint_t async);
static void ngx_http_collab_session_claimed(ngx_int_t rc, void *data);
static void ngx_http_collab_session_claim_busy(ngx_http_collab_session_t *s);
static void ngx_http_collab_session_claim_retry(ngx_event_t *ev);
static void ngx_http_collab_session_claim_done(ngx_http_collab_session_t *s,
    ngx_uint_t async);
static void ngx_http_collab_session_take(ngx_http_collab_session_t *s);
static void ngx_http_collab_session_hs_reply(ngx_http_collab_session_t *s);
static void ngx_http_collab_session_process(ngx_http_collab_ws_t *ws,
    u_char *data, size_t len, ngx_uint_t admitted);
static void ngx_http_collab_session_hold(ngx_http_collab_session_t *s,
    u_char *data, size_t len);
static ngx_http_collab_held_t *ngx_http_collab_session_held(
    ngx_http_collab_session_t *s, u_char *data, size_t len);
static void ngx_http_collab_session_delay(ngx_http_collab_session_t *s,
    u_char *data, size_t len, ngx_msec_t delay);
static void ngx_http_collab_session_drain(ngx_event_t *ev);
static void ngx_http_collab_session_set_src(ngx_http_collab_session_t *s,
    const u_char *src);
static void ngx_http_collab_session_docs(ngx_http_collab_session_t *s,
    collab_msg_t *msg, u_char *data, size_t len);
static void ngx_http_collab_session_ready(ngx_http_collab_doc_req_t *req,
    ngx_int_t rc);
static void ngx_http_collab_session_finish(ngx_http_collab_sreq_t *r);
static ngx_int_t ngx_http_collab_session_reply_item(
    ngx_http_collab_sreq_t *r, ngx_http_collab_sitem_t *it);
static ngx_int_t ngx_http_collab_session_reply_bulk(
    ngx_http_collab_sreq_t *r);
static void ngx_http_collab_session_link(ngx_http_collab_session_t *s,
    ngx_http_collab_doc_t *doc);
static void ngx_http_collab_session_unsubscribe(ngx_http_collab_session_t *s,
    collab_msg_t *msg);
static void ngx_http_collab_session_submit(ngx_http_collab_session_t *s,
    collab_msg_t *msg, u_char *data, size_t len);
static void ngx_http_collab_session_nf(ngx_http_collab_session_t *s,
    collab_msg_t *msg, u_char *data, size_t len);
static void ngx_http_collab_session_nf_ops(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res);
static void ngx_http_collab_session_nf_reply(ngx_http_collab_sreq_t *r);
static ngx_http_collab_sreq_t *ngx_http_collab_session_sreq(
    ngx_http_collab_session_t *s, collab_msg_t *msg, u_char *data,
    size_t len, ngx_uint_t n);
static void ngx_http_collab_session_sreq_free(ngx_http_collab_sreq_t *r);
static void ngx_http_collab_session_send_enc(ngx_http_collab_session_t *s);
static void ngx_http_collab_session_raw_error(ngx_http_collab_sreq_t *r,
    const char *code, const char *message);
static ngx_int_t ngx_http_collab_session_admit(ngx_http_collab_session_t *s,
    collab_msg_t *msg, ngx_uint_t n);
static ngx_uint_t ngx_http_collab_session_subscribed(
    ngx_http_collab_session_t *s, collab_msg_str_t *c, collab_msg_str_t *d);
static void ngx_http_collab_session_drop_pending(ngx_http_collab_session_t *s,
    collab_msg_str_t *c, collab_msg_str_t *d);
static ngx_uint_t ngx_http_collab_session_in_flight(
    ngx_http_collab_session_t *s, ngx_uint_t max);
static ngx_int_t ngx_http_collab_session_seq(ngx_http_collab_session_t *s,
    collab_msg_t *msg);
static void ngx_http_collab_session_seqs_free(ngx_http_collab_session_t *s);
static ngx_int_t ngx_http_collab_session_salvage(ngx_http_collab_session_t *s,
    u_char *data, size_t len, const char *reason);
static int ngx_http_collab_salvage_scalar(ngx_http_collab_salvage_t *sv,
    ngx_uint_t type, const char *p, size_t len);
static int ngx_http_collab_salvage_null(void *ctx);
static int ngx_http_collab_salvage_boolean(void *ctx, int b);
static int ngx_http_collab_salvage_number(void *ctx, const char *p,
    size_t len);
static int ngx_http_collab_salvage_string(void *ctx,
    const unsigned char *p, size_t len);
static int ngx_http_collab_salvage_start_map(void *ctx);
static int ngx_http_collab_salvage_map_key(void *ctx,
    const unsigned char *p, size_t len);
static int ngx_http_collab_salvage_end(void *ctx);
static int ngx_http_collab_salvage_start_array(void *ctx);


static yajl_callbacks  ngx_http_collab_salvage_callbacks = {
    ngx_http_collab_salvage_null,
    ngx_http_collab_salvage_boolean,
    NULL,
    NULL,
    ngx_http_collab_salvage_number,
    ngx_http_collab_salvage_string,
    ngx_http_collab_salvage_start_map,
    ngx_http_collab_salvage_map_key,
    ngx_http_collab_salvage_end,
    ngx_http_collab_salvage_start_array,
    ngx_http_collab_salvage_end
};


static const char  *ngx_http_collab_salvage_keys[] = {
    "a", "c", "d", "v", "seq", "src", "id", "ch"
};


static collab_msg_t      ngx_http_collab_session_msg;
static collab_msg_enc_t  ngx_http_collab_session_enc;
static ngx_uint_t        ngx_http_collab_session_inited;


ngx_int_t
ngx_http_collab_session_pre_upgrade(ngx_http_request_t *r,
    ngx_http_collab_auth_t *who, const char **reason)
{
    ngx_http_collab_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_collab_module);

    return ngx_http_collab_auth_check(r, &clcf->auth, who, reason);
}


ngx_int_t
ngx_http_collab_session_open(ngx_http_collab_ws_t *ws)
{
    u_char                      src[NGX_HTTP_COLLAB_SRC_LEN];
    ngx_str_t                  *name;
    ngx_http_collab_session_t  *s;

    if (!ngx_http_collab_session_inited) {
        collab_msg_init(&ngx_http_collab_session_msg);

        if (collab_msg_enc_init(&ngx_http_collab_session_enc)
            != COLLAB_MSG_OK)
        {
            return NGX_ERROR;
        }

        ngx_http_collab_session_inited = 1;
    }

    /* the names are copied behind the session: the request goes */
    name = ws->who.name.len ? &ws->who.name : &ws->who.sub;

    s = ngx_alloc(sizeof(ngx_http_collab_session_t) + ws->who.principal.len
                  + name->len, ws->connection->log);
    if (s == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(s, sizeof(ngx_http_collab_session_t));

    s->ws = ws;

    /* never NULL data: it is copied into every submit */
    s->principal.data = (u_char *) (s + 1);
    s->principal.len = ws->who.principal.len;
    ngx_memcpy(s->principal.data, ws->who.principal.data,
               ws->who.principal.len);
    s->admin = ws->who.admin;

    s->name.data = s->principal.data + s->principal.len;
    s->name.len = name->len;

    if (name->len) {
        ngx_memcpy(s->name.data, name->data, name->len);
    }

    ngx_queue_init(&s->subs);
    ngx_queue_init(&s->submits);
    ngx_queue_init(&s->reqs);
    ngx_queue_init(&s->presence);
    ngx_queue_init(&s->seqs_lru);
    ngx_queue_init(&s->held);

    ngx_rbtree_init(&s->seqs, &s->seqs_sentinel,
                    ngx_str_rbtree_insert_value);

    s->drain.handler = ngx_http_collab_session_drain;
    s->drain.data = s;
    s->drain.log = ws->connection->log;

    s->limit_wait.handler = ngx_http_collab_session_drain;
    s->limit_wait.data = s;
    s->limit_wait.log = ws->connection->log;
    s->limit_wait.cancelable = 1;

    ngx_http_collab_session_access_init(s);

    if (s->principal.len
        && ngx_http_collab_store_user_seen(&s->principal, &ws->who.iss,
                                           &ws->who.sub, &ws->who.name,
                                           &ws->who.email)
           != NGX_OK)
    {
        ngx_free(s);
        return NGX_ERROR;
    }

    if (ws->who.expires) {
        s->expiry.handler = ngx_http_collab_session_expired;
        s->expiry.data = s;
        s->expiry.log = ws->connection->log;
        s->expiry.cancelable = 1;

        ngx_add_timer(&s->expiry, ws->who.expires > ngx_time()
                                  ? (ngx_msec_t) (ws->who.expires
                                                  - ngx_time()) * 1000
                                  : 1);
    }

    s->claim_retry.handler = ngx_http_collab_session_claim_retry;
    s->claim_retry.data = s;
    s->claim_retry.log = ws->connection->log;
    s->claim_retry.cancelable = 1;

    /* messages before the handshake still need a src */
    ngx_http_collab_src_issue(&s->principal, src);

    if (ngx_http_collab_src_live_take(src, 1, NULL, s, &s->live)
        != NGX_OK)
    {
        ngx_free(s);
        return NGX_ERROR;
    }

    ngx_http_collab_session_set_src(s, src);

    ws->session = s;

    return NGX_OK;
}


void
ngx_http_collab_session_message(ngx_http_collab_ws_t *ws, u_char *data,
    size_t len)
{
    ngx_http_collab_session_t  *s;

    s = ws->session;

    if (s->claiming || !ngx_queue_empty(&s->held)
        || ngx_http_collab_session_access_waiting(s))
    {
        /* after the hs reply, or behind a message at the gate, in order */
        ngx_http_collab_session_hold(s, data, len);
        return;
    }

    ngx_http_collab_session_process(ws, data, len, 0);
}


/*
 * A message that must wait behind others; under collab_limit_ops it is
 * counted now, so that a flood is refused as it comes, not when it is
 * let through (its delays add up; at most burst of them wait).
 */
static void
ngx_http_collab_session_hold(ngx_http_collab_session_t *s, u_char *data,
    size_t len)
{
    ngx_int_t                rc;
    ngx_msec_t               at, delay;
    ngx_uint_t               max, admitted;
    collab_msg_t            *msg;
    collab_msg_err_t         err;
    ngx_http_collab_held_t  *h;

    max = NGX_HTTP_COLLAB_SESSION_MAX_HELD + s->ws->conf->limit.burst;

    if (s->nheld >= max) {
        ngx_http_collab_ws_close(s->ws, 1008, "too many messages waiting "
                                 "for the handshake reply or for access");
        return;
    }

    at = 0;
    admitted = 0;
    msg = &ngx_http_collab_session_msg;

    if (s->ws->conf->limit.zone
        && collab_msg_decode((const char *) data, len, msg, &err)
           == COLLAB_MSG_OK)
    {
        rc = ngx_http_collab_limit_ops_check(s, msg, &delay);

        if (rc == NGX_DONE) {
            return;
        }

        at = (rc == NGX_AGAIN) ? ngx_current_msec + delay : 0;
        admitted = 1;
    }

    h = ngx_http_collab_session_held(s, data, len);
    if (h == NULL) {
        return;
    }

    h->at = at;
    h->admitted = admitted;

    ngx_queue_insert_tail(&s->held, &h->queue);
    s->nheld++;
}


static ngx_http_collab_held_t *
ngx_http_collab_session_held(ngx_http_collab_session_t *s, u_char *data,
    size_t len)
{
    ngx_http_collab_held_t  *h;

    h = ngx_alloc(sizeof(ngx_http_collab_held_t) + len,
                  s->ws->connection->log);
    if (h == NULL) {
        ngx_http_collab_ws_close(s->ws, 1011, "out of memory");
        return NULL;
    }

    h->at = 0;
    h->len = len;
    h->admitted = 0;
    ngx_memcpy(h->data, data, len);

    return h;
}


/* one held message per event: processing it may close the session */
static void
ngx_http_collab_session_drain(ngx_event_t *ev)
{
    ngx_queue_t                *q;
    ngx_http_collab_ws_t       *ws;
    ngx_http_collab_held_t     *h;
    ngx_http_collab_session_t  *s;

    s = ev->data;

    if (s->claiming || ngx_queue_empty(&s->held)
        || ngx_http_collab_session_access_waiting(s))
    {
        return;
    }

    q = ngx_queue_head(&s->held);
    h = ngx_queue_data(q, ngx_http_collab_held_t, queue);

    if (h->at && (ngx_msec_int_t) (h->at - ngx_current_msec) > 0) {
        /* an op delayed by collab_limit_ops: everything waits behind it */
        if (!s->limit_wait.timer_set) {
            ngx_add_timer(&s->limit_wait, h->at - ngx_current_msec);
        }

        return;
    }

    ngx_queue_remove(q);
    s->nheld--;

    ws = s->ws;

    if (ngx_http_collab_ws_enter(ws) != NGX_OK) {
        /* closing: the session frees the rest */
        ngx_free(h);
        return;
    }

    if (!ngx_queue_empty(&s->held)) {
        /* the session deletes it if it closes meanwhile */
        ngx_post_event(&s->drain, &ngx_posted_events);
    }

    ngx_http_collab_session_process(ws, h->data, h->len, h->admitted);

    ngx_free(h);

    /* s may be gone from here on */
    ngx_http_collab_ws_leave(ws);
}


static void
ngx_http_collab_session_process(ngx_http_collab_ws_t *ws, u_char *data,
    size_t len, ngx_uint_t admitted)
{
    int                         rc;
    ngx_int_t                   lrc;
    ngx_msec_t                  delay;
    collab_msg_t               *msg;
    collab_msg_err_t            err;
    ngx_http_collab_session_t  *s;

    s = ws->session;
    msg = &ngx_http_collab_session_msg;

    rc = collab_msg_decode((const char *) data, len, msg, &err);

    if (rc == COLLAB_MSG_NOMEM) {
        ngx_http_collab_ws_close(ws, 1011, "out of memory");
        return;
    }

    if (rc != COLLAB_MSG_OK) {
        if (msg->root == NULL
            && ngx_strcmp(err.message, "Received non-object message") != 0)
        {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ws->connection->log, 0,
                           "collab session: bad JSON: %s", err.message);

            /*
             * Valid JSON the tree refuses (too deep, too many values,
             * U+0000, a lone surrogate): echo what identifies the request
             * so that the client can match the error to it.
             */
            if (ngx_http_collab_session_salvage(s, data, len, err.message)
                == NGX_OK)
            {
                return;
            }

            ngx_cpystrn((u_char *) err.message, (u_char *) "Invalid JSON",
                        sizeof(err.message));
        }

        ngx_http_collab_session_error(s, msg->root ? msg : NULL, err.code,
                                      err.message);
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ws->connection->log, 0,
                   "collab session: \"%s\"",
                   collab_msg_action_name(msg->action));

    /* the rate limit first: a message held at the gate was counted */
    if (!admitted) {
        lrc = ngx_http_collab_limit_ops_check(s, msg, &delay);

        if (lrc == NGX_AGAIN) {
            ngx_http_collab_session_delay(s, data, len, delay);
            return;
        }

        if (lrc != NGX_OK) {
            return;
        }
    }

    s->limit_admitted = 1;

    if (ngx_http_collab_session_gate(s, msg, data, len) != NGX_OK) {
        return;
    }

    ngx_http_collab_session_dispatch(s, msg, data, len);
}


/* an op over the rate: first in line, the rest of the socket behind it */
static void
ngx_http_collab_session_delay(ngx_http_collab_session_t *s, u_char *data,
    size_t len, ngx_msec_t delay)
{
    ngx_http_collab_held_t  *h;

    h = ngx_http_collab_session_held(s, data, len);
    if (h == NULL) {
        return;
    }

    h->at = ngx_current_msec + delay;
    h->admitted = 1;

    ngx_queue_insert_head(&s->held, &h->queue);
    s->nheld++;

    ngx_add_timer(&s->limit_wait, delay);
}


void
ngx_http_collab_session_hold_first(ngx_http_collab_session_t *s,
    u_char *data, size_t len)
{
    ngx_http_collab_held_t  *h;

    h = ngx_http_collab_session_held(s, data, len);
    if (h == NULL) {
        return;
    }

    /* processed once already: the rate limit has counted it */
    h->admitted = s->limit_admitted;

    ngx_queue_insert_head(&s->held, &h->queue);
    s->nheld++;
}


void
ngx_http_collab_session_release(ngx_http_collab_session_t *s)
{
    if (!ngx_queue_empty(&s->held) && !s->drain.posted) {
        ngx_post_event(&s->drain, &ngx_posted_events);
    }
}


void
ngx_http_collab_session_close(ngx_http_collab_ws_t *ws)
{
    ngx_uint_t                  i;
    ngx_queue_t                *q;
    ngx_http_collab_sreq_t     *r;
    ngx_http_collab_submit_t   *sub;
    ngx_http_collab_doc_sub_t  *ds;
    ngx_http_collab_session_t  *s;

    s = ws->session;
    ws->session = NULL;

    if (s == NULL) {
        return;
    }

    while (!ngx_queue_empty(&s->subs)) {
        q = ngx_queue_head(&s->subs);
        ds = ngx_queue_data(q, ngx_http_collab_doc_sub_t, sq);
        ngx_queue_remove(q);

        if (ds->doc) {
            ngx_http_collab_doc_unsubscribe(ds);
        }

        ngx_free(ds);
    }

    s->nsubs = 0;

    /* queued ops still commit; nobody is answered */
    while (!ngx_queue_empty(&s->submits)) {
        q = ngx_queue_head(&s->submits);
        sub = ngx_queue_data(q, ngx_http_collab_submit_t, sq);
        ngx_http_collab_submit_detach(sub);
    }

    while (!ngx_queue_empty(&s->reqs)) {
        q = ngx_queue_head(&s->reqs);
        r = ngx_queue_data(q, ngx_http_collab_sreq_t, sq);
        ngx_queue_remove(q);

        r->session = NULL;

        if (r->nf) {
            /* the store callback frees it */
            continue;
        }

        for (i = 0; i < r->n; i++) {
            ngx_http_collab_doc_cancel(&r->items[i].req);
        }

        ngx_http_collab_session_sreq_free(r);
    }

    ngx_http_collab_presence_close(s);
    ngx_http_collab_session_seqs_free(s);
    ngx_http_collab_session_access_close(s);

    if (s->drain.posted) {
        ngx_delete_posted_event(&s->drain);
    }

    if (s->limit_wait.timer_set) {
        ngx_del_timer(&s->limit_wait);
    }

    while (!ngx_queue_empty(&s->held)) {
        q = ngx_queue_head(&s->held);
        ngx_queue_remove(q);
        ngx_free(ngx_queue_data(q, ngx_http_collab_held_t, queue));
    }

    if (s->claim_retry.timer_set) {
        ngx_del_timer(&s->claim_retry);
    }

    if (s->expiry.timer_set) {
        ngx_del_timer(&s->expiry);
    }

    if (s->claim) {
        ngx_http_collab_src_live_release(s->claim);
    }

    if (s->live) {
        ngx_http_collab_src_live_release(s->live);
    }

    ngx_free(s);
}


void
ngx_http_collab_session_error(ngx_http_collab_session_t *s, void *msg,
    const char *code, const char *message)
{
    collab_msg_enc_t  *enc;

    enc = &ngx_http_collab_session_enc;

    if (collab_msg_enc_error(enc, msg, code, message) != COLLAB_MSG_OK) {
        ngx_http_collab_ws_close(s->ws, 1011, "internal error");
        return;
    }

    ngx_http_collab_session_send_enc(s);
}


static void
ngx_http_collab_session_dispatch(ngx_http_collab_session_t *s,
    collab_msg_t *msg, u_char *data, size_t len)
{
    switch (msg->action) {

    case COLLAB_MSG_A_HS:
        ngx_http_collab_session_handshake(s, msg);
        return;

    case COLLAB_MSG_A_PP:
        if (collab_msg_enc_pp(&ngx_http_collab_session_enc) == COLLAB_MSG_OK)
        {
            ngx_http_collab_session_send_enc(s);
        }
        return;

    case COLLAB_MSG_A_S:
    case COLLAB_MSG_A_F:
    case COLLAB_MSG_A_BS:
    case COLLAB_MSG_A_BF:
        ngx_http_collab_session_docs(s, msg, data, len);
        return;

    case COLLAB_MSG_A_U:
    case COLLAB_MSG_A_BU:
        ngx_http_collab_session_unsubscribe(s, msg);
        return;

    case COLLAB_MSG_A_OP:
        ngx_http_collab_session_submit(s, msg, data, len);
        return;

    case COLLAB_MSG_A_NF:
        ngx_http_collab_session_nf(s, msg, data, len);
        return;

    case COLLAB_MSG_A_P:
    case COLLAB_MSG_A_PS:
    case COLLAB_MSG_A_PU:
    case COLLAB_MSG_A_PR:
        ngx_http_collab_presence_message(s, msg);
        return;

    case COLLAB_MSG_A_AUTH:
        ngx_http_collab_session_renew(s, msg);
        return;

    case COLLAB_MSG_A_NT:
        ngx_http_collab_session_error(s, msg, COLLAB_MSG_ERR_NOT_IMPLEMENTED,
                                      "Snapshots by timestamp are not "
                                      "supported by this server");
        return;

    case COLLAB_MSG_A_QF:
    case COLLAB_MSG_A_QS:
    case COLLAB_MSG_A_QU:
        ngx_http_collab_session_error(s, msg, COLLAB_MSG_ERR_NOT_IMPLEMENTED,
                                      "Queries are not supported by this "
                                      "server");
        return;

    default:
        ngx_http_collab_session_error(s, msg, COLLAB_MSG_ERR_BADLY_FORMED,
                                      "Invalid or unknown message");
        return;
    }
}


static void
ngx_http_collab_session_handshake(ngx_http_collab_session_t *s,
    collab_msg_t *msg)
{
    /*
     * A reconnecting client keeps its id (its resent ops are then found
     * by (src, seq)) only if the id was issued to the same principal and
     * no other connection holds it: else it keeps the fresh src it has,
     * which the stock client takes as its new id.
     */

    if (!s->claiming && msg->id.data
        && msg->id.len == NGX_HTTP_COLLAB_SRC_LEN
        && ngx_memcmp(s->src_buf, msg->id.data, NGX_HTTP_COLLAB_SRC_LEN) != 0
        && ngx_http_collab_src_valid(&s->principal,
                                     (const u_char *) msg->id.data,
                                     msg->id.len))
    {
        s->claiming = 1;
        ngx_memcpy(s->claim_src, msg->id.data, NGX_HTTP_COLLAB_SRC_LEN);
        s->claim_until = ngx_current_msec + NGX_HTTP_COLLAB_SRC_CLAIM_WAIT;

        ngx_http_collab_session_claim(s, 0);
        return;
    }

    ngx_http_collab_session_hs_reply(s);
}


/*
 * One try at the claimed src.  Its holder may be a socket the client has
 * just left: closing (its release is on the way), half-open (a ping
 * finds out), or on a worker or host that died (its key goes stale).
 */
static void
ngx_http_collab_session_claim(ngx_http_collab_session_t *s, ngx_uint_t async)
{
    ngx_int_t                   rc;
    ngx_http_collab_session_t  *holder;

    rc = ngx_http_collab_src_live_take(s->claim_src, 0,
                                       ngx_http_collab_session_claimed,
                                       s, &s->claim);
    switch (rc) {

    case NGX_OK:
        ngx_http_collab_session_take(s);
        ngx_http_collab_session_claim_done(s, async);
        return;

    case NGX_AGAIN:
        /* the reply follows the claim */
        return;

    case NGX_BUSY:
        holder = ngx_http_collab_src_live_holder(s->claim_src);

        if (holder && holder->ws) {
            ngx_http_collab_ws_probe(holder->ws);
        }

        ngx_http_collab_session_claim_busy(s);
        return;

    default:
        s->claiming = 0;
        ngx_http_collab_ws_close(s->ws, 1011, "internal error");
        return;
    }
}


/* the outcome of a claim that asked Redis */
static void
ngx_http_collab_session_claimed(ngx_int_t rc, void *data)
{
    ngx_http_collab_session_t  *s = data;

    if (rc == NGX_OK) {
        ngx_http_collab_session_take(s);
        ngx_http_collab_session_claim_done(s, 1);
        return;
    }

    s->claim = NULL;

    ngx_http_collab_session_claim_busy(s);
}


static void
ngx_http_collab_session_claim_busy(ngx_http_collab_session_t *s)
{
    if ((ngx_msec_int_t) (s->claim_until - ngx_current_msec) > 0) {
        ngx_add_timer(&s->claim_retry, NGX_HTTP_COLLAB_SRC_CLAIM_RETRY);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, s->ws->connection->log, 0,
                  "collab: hs asks for the src of a live connection: "
                  "a fresh one is given");

    ngx_http_collab_session_claim_done(s, 1);
}


static void
ngx_http_collab_session_claim_retry(ngx_event_t *ev)
{
    ngx_http_collab_session_claim(ev->data, 1);
}


/*
 * The token ran out: the frames queued (acks included) go first, then
 * the close; acks still owed are found by (src, seq) after the client
 * reconnected with a new token.
 */
void
ngx_http_collab_session_expired(ngx_event_t *ev)
{
    ngx_http_collab_session_t  *s = ev->data;

    ngx_log_error(NGX_LOG_INFO, s->ws->connection->log, 0,
                  "collab: the token of this connection expired");

    ngx_http_collab_ws_close(s->ws, NGX_HTTP_COLLAB_CLOSE_EXPIRED,
                             "token expired");
}


/* the hs reply, then the messages held meanwhile */
static void
ngx_http_collab_session_claim_done(ngx_http_collab_session_t *s,
    ngx_uint_t async)
{
    ngx_http_collab_ws_t  *ws;

    s->claiming = 0;

    if (!async) {
        ngx_http_collab_session_hs_reply(s);
        return;
    }

    ws = s->ws;

    if (ngx_http_collab_ws_enter(ws) != NGX_OK) {
        /* closing: nobody to answer */
        return;
    }

    if (!ngx_queue_empty(&s->held)) {
        ngx_post_event(&s->drain, &ngx_posted_events);
    }

    ngx_http_collab_session_hs_reply(s);

    ngx_http_collab_ws_leave(ws);
}


/* the claimed src becomes the session's */
static void
ngx_http_collab_session_take(ngx_http_collab_session_t *s)
{
    ngx_http_collab_src_live_release(s->live);

    s->live = s->claim;
    s->claim = NULL;

    /* another src: its seqs are not those seen so far */
    ngx_http_collab_session_seqs_free(s);

    ngx_http_collab_session_set_src(s, ngx_http_collab_src_live_src(s->live));
}


static void
ngx_http_collab_session_hs_reply(ngx_http_collab_session_t *s)
{
    collab_msg_str_t  id;

    id.data = (const char *) s->src.data;
    id.len = s->src.len;

    if (collab_msg_enc_hs(&ngx_http_collab_session_enc, &id)
        != COLLAB_MSG_OK)
    {
        ngx_http_collab_ws_close(s->ws, 1011, "internal error");
        return;
    }

    ngx_http_collab_session_send_enc(s);
}


static void
ngx_http_collab_session_set_src(ngx_http_collab_session_t *s,
    const u_char *src)
{
    ngx_memcpy(s->src_buf, src, NGX_HTTP_COLLAB_SRC_LEN);
    s->src.data = s->src_buf;
    s->src.len = NGX_HTTP_COLLAB_SRC_LEN;

    ngx_http_collab_src_public(s->src_buf, NGX_HTTP_COLLAB_SRC_LEN,
                               s->src_public_buf);
    s->src_public.data = s->src_public_buf;
    s->src_public.len = NGX_HTTP_COLLAB_SRC_LEN;
}


ngx_uint_t
ngx_http_collab_session_owns(ngx_http_collab_ws_t *ws, ngx_str_t *src)
{
    ngx_http_collab_session_t  *s;

    s = ws->session;

    return s != NULL && src->len == s->src.len
           && ngx_memcmp(src->data, s->src.data, src->len) == 0;
}


static void
ngx_http_collab_session_docs(ngx_http_collab_session_t *s,
    collab_msg_t *msg, u_char *data, size_t len)
{
    int                       has_v;
    uint64_t                  v;
    ngx_str_t                 c;
    ngx_uint_t                i, n, bulk;
    collab_msg_str_t          id;
    ngx_http_collab_doc_t    *doc;
    ngx_http_collab_sreq_t   *r;
    ngx_http_collab_sitem_t  *it;

    bulk = (msg->action == COLLAB_MSG_A_BS || msg->action == COLLAB_MSG_A_BF);
    n = bulk ? msg->nb : 1;

    if (ngx_http_collab_session_admit(s, msg, n) != NGX_OK) {
        return;
    }

    r = ngx_http_collab_session_sreq(s, msg, data, len, n);
    if (r == NULL) {
        ngx_http_collab_session_error(s, msg, COLLAB_MSG_ERR_UNKNOWN,
                                      "Out of memory");
        return;
    }

    r->versions = bulk && msg->b_versions;

    c = r->c;

    /* one extra count so that no reply goes out before all are started */
    r->left = n + 1;

    for (i = 0; i < n; i++) {
        it = &r->items[i];

        if (bulk) {
            collab_msg_bulk_item(msg, i, &id, &v, &has_v);

        } else {
            id = msg->d;
            v = msg->v;
            has_v = msg->has_v;
        }

        it->d.data = ngx_alloc(id.len + 1, ngx_http_collab_doc_worker.log);
        if (it->d.data == NULL) {
            it->rc = NGX_ERROR;
            r->left--;
            continue;
        }

        if (id.len) {
            ngx_memcpy(it->d.data, id.data, id.len);
        }

        it->d.len = id.len;
        it->v = v;
        it->has_v = has_v ? 1 : 0;

        doc = ngx_http_collab_doc_get(&c, &it->d);
        if (doc == NULL) {
            it->rc = NGX_ERROR;
            r->left--;
            continue;
        }

        it->req.handler = ngx_http_collab_session_ready;
        it->req.data = it;
        it->req.ws = s->ws;
        it->req.since = v;
        it->req.want_ops = it->has_v;

        /* a fetch reads what other workers committed a moment ago */
        it->req.fresh = (msg->action == COLLAB_MSG_A_F
                         || msg->action == COLLAB_MSG_A_BF);

        ngx_http_collab_doc_wait(doc, &it->req);
    }

    if (--r->left == 0) {
        ngx_http_collab_session_finish(r);
    }
}


static void
ngx_http_collab_session_ready(ngx_http_collab_doc_req_t *req, ngx_int_t rc)
{
    ngx_http_collab_sitem_t  *it = req->data;

    ngx_http_collab_sreq_t  *r;

    r = it->sreq;

    if (rc == NGX_OK) {
        it->doc = req->doc;
        ngx_http_collab_doc_ref(it->doc);

        /* the ops since v were just sent: subscribe at this very point */
        if (it->has_v && r->session && !it->unsubscribed
            && (r->action == COLLAB_MSG_A_S || r->action == COLLAB_MSG_A_BS))
        {
            ngx_http_collab_session_link(r->session, it->doc);
        }

    } else {
        it->rc = rc;
    }

    if (--r->left == 0) {
        ngx_http_collab_session_finish(r);
    }
}


static void
ngx_http_collab_session_finish(ngx_http_collab_sreq_t *r)
{
    ngx_int_t  rc;

    if (r->session == NULL) {
        ngx_http_collab_session_sreq_free(r);
        return;
    }

    ngx_queue_remove(&r->sq);

    if (r->action == COLLAB_MSG_A_BS || r->action == COLLAB_MSG_A_BF) {
        rc = ngx_http_collab_session_reply_bulk(r);

    } else {
        rc = ngx_http_collab_session_reply_item(r, &r->items[0]);
    }

    if (rc != NGX_OK) {
        ngx_http_collab_ws_close(r->session->ws, 1011, "internal error");
    }

    ngx_http_collab_session_sreq_free(r);
}


static ngx_int_t
ngx_http_collab_session_reply_item(ngx_http_collab_sreq_t *r,
    ngx_http_collab_sitem_t *it)
{
    int                         rc;
    u_char                     *buf;
    collab_msg_str_t            c, d;
    collab_msg_enc_t           *enc;
    collab_msg_snapshot_t       snap;
    ngx_http_collab_session_t  *s;

    s = r->session;
    enc = &ngx_http_collab_session_enc;

    if (it->rc != NGX_OK || it->doc == NULL) {
        ngx_http_collab_session_raw_error(r, COLLAB_MSG_ERR_UNKNOWN,
                                          "Database unavailable: the "
                                          "document cannot be read");
        return NGX_OK;
    }

    c.data = (const char *) r->c.data;
    c.len = r->c.len;
    d.data = (const char *) it->d.data;
    d.len = it->d.len;

    if (it->has_v) {
        rc = collab_msg_enc_doc_reply(enc, r->action, &c, &d);

    } else {
        if (ngx_http_collab_doc_snapshot(it->doc, &snap, &buf) != NGX_OK) {
            return NGX_ERROR;
        }

        rc = collab_msg_enc_snapshot(enc, r->action, &c, &d, &snap);

        if (buf) {
            ngx_free(buf);
        }

        if (r->action == COLLAB_MSG_A_S && !it->unsubscribed) {
            ngx_http_collab_session_link(s, it->doc);
        }
    }

    if (rc != COLLAB_MSG_OK) {
        return NGX_ERROR;
    }

    ngx_http_collab_session_send_enc(s);

    return NGX_OK;
}


static ngx_int_t
ngx_http_collab_session_reply_bulk(ngx_http_collab_sreq_t *r)
{
    int                         rc;
    u_char                     *buf;
    ngx_uint_t                  i;
    collab_msg_t               *m;
    collab_msg_str_t            c, d;
    collab_msg_err_t            err;
    collab_msg_enc_t           *enc;
    collab_msg_snapshot_t       snap;
    ngx_http_collab_sitem_t    *it;
    ngx_http_collab_session_t  *s;

    s = r->session;
    enc = &ngx_http_collab_session_enc;

    c.data = (const char *) r->c.data;
    c.len = r->c.len;

    if (r->versions) {
        /* the ops were sent: echo b (the request is decoded again) */
        m = &ngx_http_collab_session_msg;

        if (collab_msg_decode((const char *) r->raw.data, r->raw.len, m,
                              &err)
            != COLLAB_MSG_OK)
        {
            return NGX_ERROR;
        }

        if (collab_msg_enc_bulk_reply(enc, r->action, &c, m->b)
            != COLLAB_MSG_OK)
        {
            return NGX_ERROR;
        }

        ngx_http_collab_session_send_enc(s);

        return NGX_OK;
    }

    rc = collab_msg_enc_bulk_begin(enc, r->action, &c);

    for (i = 0; rc == COLLAB_MSG_OK && i < r->n; i++) {
        it = &r->items[i];

        d.data = (const char *) it->d.data;
        d.len = it->d.len;

        if (it->rc != NGX_OK || it->doc == NULL) {
            rc = collab_msg_enc_bulk_error(enc, &d, COLLAB_MSG_ERR_UNKNOWN,
                                           "Database unavailable: the "
                                           "document cannot be read");
            continue;
        }

        if (ngx_http_collab_doc_snapshot(it->doc, &snap, &buf) != NGX_OK) {
            return NGX_ERROR;
        }

        rc = collab_msg_enc_bulk_snapshot(enc, &d, &snap);

        if (buf) {
            ngx_free(buf);
        }

        if (r->action == COLLAB_MSG_A_BS && !it->unsubscribed) {
            ngx_http_collab_session_link(s, it->doc);
        }
    }

    if (rc == COLLAB_MSG_OK) {
        rc = collab_msg_enc_bulk_end(enc);
    }

    if (rc != COLLAB_MSG_OK) {
        return NGX_ERROR;
    }

    ngx_http_collab_session_send_enc(s);

    return NGX_OK;
}


/* the session's subscription to doc, or NULL */
ngx_http_collab_doc_sub_t *
ngx_http_collab_session_sub(ngx_http_collab_session_t *s,
    ngx_http_collab_doc_t *doc)
{
    ngx_queue_t                *q;
    ngx_http_collab_doc_sub_t  *ds;

    for (q = ngx_queue_head(&s->subs);
         q != ngx_queue_sentinel(&s->subs);
         q = ngx_queue_next(q))
    {
        ds = ngx_queue_data(q, ngx_http_collab_doc_sub_t, sq);

        if (ds->doc == doc) {
            return ds;
        }
    }

    return NULL;
}


static void
ngx_http_collab_session_link(ngx_http_collab_session_t *s,
    ngx_http_collab_doc_t *doc)
{
    ngx_http_collab_doc_sub_t  *ds;

    if (ngx_http_collab_session_sub(s, doc) != NULL) {
        return;
    }

    ds = ngx_alloc(sizeof(ngx_http_collab_doc_sub_t), s->ws->connection->log);
    if (ds == NULL) {
        ngx_http_collab_ws_close(s->ws, 1011, "out of memory");
        return;
    }

    ngx_queue_insert_tail(&s->subs, &ds->sq);
    s->nsubs++;

    ngx_http_collab_doc_subscribe(doc, ds, s->ws);
}


static void
ngx_http_collab_session_unsubscribe(ngx_http_collab_session_t *s,
    collab_msg_t *msg)
{
    int                         has_v;
    uint64_t                    v;
    ngx_uint_t                  i, n;
    ngx_queue_t                *q;
    collab_msg_str_t            id;
    ngx_http_collab_doc_t      *doc;
    ngx_http_collab_doc_sub_t  *ds;

    n = (msg->action == COLLAB_MSG_A_BU) ? msg->nb : 1;

    for (i = 0; i < n; i++) {
        if (msg->action == COLLAB_MSG_A_BU) {
            collab_msg_bulk_item(msg, i, &id, &v, &has_v);

        } else {
            id = msg->d;
        }

        for (q = ngx_queue_head(&s->subs);
             q != ngx_queue_sentinel(&s->subs);
             q = ngx_queue_next(q))
        {
            ds = ngx_queue_data(q, ngx_http_collab_doc_sub_t, sq);
            doc = ds->doc;

            if (doc && doc->c.len == msg->c.len && doc->d.len == id.len
                && ngx_memcmp(doc->c.data, msg->c.data, msg->c.len) == 0
                && ngx_memcmp(doc->d.data, id.data, id.len) == 0)
            {
                ngx_queue_remove(q);
                ngx_http_collab_doc_unsubscribe(ds);
                ngx_free(ds);
                s->nsubs--;
                break;
            }
        }

        /* a subscribe still in progress must not link it afterwards */
        ngx_http_collab_session_drop_pending(s, &msg->c, &id);
    }

    if (msg->action == COLLAB_MSG_A_BU) {
        if (collab_msg_enc_bulk_reply(&ngx_http_collab_session_enc,
                                      msg->action, &msg->c, msg->b)
            != COLLAB_MSG_OK)
        {
            return;
        }

    } else if (collab_msg_enc_doc_reply(&ngx_http_collab_session_enc,
                                        msg->action, &msg->c, &msg->d)
               != COLLAB_MSG_OK)
    {
        return;
    }

    ngx_http_collab_session_send_enc(s);
}


static void
ngx_http_collab_session_submit(ngx_http_collab_session_t *s,
    collab_msg_t *msg, u_char *data, size_t len)
{
    ngx_str_t                  c, d;
    ngx_uint_t                 max;
    const char                *code, *message;
    ngx_http_collab_doc_t     *doc;
    ngx_http_collab_submit_t  *sub;
    u_char                     text[128];

    /* a src is bound to the connection that was given it */
    if (msg->src.data
        && (msg->src.len != s->src.len
            || ngx_memcmp(msg->src.data, s->src.data, s->src.len) != 0))
    {
        ngx_http_collab_session_error(s, msg, COLLAB_MSG_ERR_SRC_NOT_OWNED,
                                      "The op's src belongs to another "
                                      "connection");
        return;
    }

    /* a bounded backlog per connection; the client rolls back quietly */
    max = s->ws->conf->max_ops_in_flight;

    if (ngx_http_collab_session_in_flight(s, max) >= max) {
        ngx_snprintf(text, sizeof(text),
                     "Too many ops in flight on this connection "
                     "(collab_max_ops_in_flight %ui)%Z", max);
        ngx_http_collab_session_error(s, msg, COLLAB_MSG_ERR_SUBMIT_REJECTED,
                                      (const char *) text);
        return;
    }

    if (ngx_http_collab_session_seq(s, msg) != NGX_OK) {
        ngx_snprintf(text, sizeof(text),
                     "seq %uL was already used on this connection for "
                     "this document%Z", msg->seq);
        ngx_http_collab_session_error(s, msg, COLLAB_MSG_ERR_SEQ_TAKEN,
                                      (const char *) text);
        return;
    }

    sub = ngx_http_collab_submit_new(msg, data, len, &s->src, &s->principal,
                                     s->ws, &code, &message);
    if (sub == NULL) {
        if (code == NULL) {
            code = COLLAB_MSG_ERR_UNKNOWN;
            message = "Out of memory";
        }

        ngx_http_collab_session_error(s, msg, code, message);
        return;
    }

    c.data = (u_char *) msg->c.data;
    c.len = msg->c.len;
    d.data = (u_char *) msg->d.data;
    d.len = msg->d.len;

    doc = ngx_http_collab_doc_get(&c, &d);
    if (doc == NULL) {
        sub->ws = NULL;
        ngx_http_collab_session_error(s, msg, COLLAB_MSG_ERR_UNKNOWN,
                                      "Out of memory");
        ngx_http_collab_commit_discard(sub);
        return;
    }

    if (doc->nsubmits >= NGX_HTTP_COLLAB_SESSION_MAX_SUBMITS) {
        /* a bounded queue: the client rolls back and may resend */
        sub->ws = NULL;
        ngx_http_collab_session_error(s, msg, COLLAB_MSG_ERR_SUBMIT_REJECTED,
                                      "Too many ops waiting for commit");
        ngx_http_collab_commit_discard(sub);
        ngx_http_collab_doc_idle(doc);
        return;
    }

    ngx_queue_insert_tail(&s->submits, &sub->sq);

    ngx_http_collab_commit_submit(doc, sub);
}


static void
ngx_http_collab_session_nf(ngx_http_collab_session_t *s, collab_msg_t *msg,
    u_char *data, size_t len)
{
    int64_t                  to;
    ngx_http_collab_sreq_t  *r;

    if (ngx_http_collab_session_admit(s, msg, 1) != NGX_OK) {
        return;
    }

    r = ngx_http_collab_session_sreq(s, msg, data, len, 0);
    if (r == NULL) {
        ngx_http_collab_session_error(s, msg, COLLAB_MSG_ERR_UNKNOWN,
                                      "Out of memory");
        return;
    }

    r->nf = 1;
    r->v = msg->v;
    r->has_v = msg->has_v;

    /* store versions 1 .. v: the ops that make version v */
    to = r->has_v ? (int64_t) r->v + 1 : -1;

    if (r->has_v && r->v == 0) {
        ngx_http_collab_session_nf_reply(r);
        return;
    }

    if (ngx_http_collab_store_ops(&r->c, &r->d, 1, to,
                                  NGX_HTTP_COLLAB_NF_CHUNK,
                                  ngx_http_collab_session_nf_ops, r)
        != NGX_OK)
    {
        ngx_http_collab_session_raw_error(r, COLLAB_MSG_ERR_UNKNOWN,
                                          "Out of memory");
        ngx_queue_remove(&r->sq);
        ngx_http_collab_session_sreq_free(r);
    }
}


static void
ngx_http_collab_session_nf_ops(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res)
{
    ngx_http_collab_sreq_t  *r = data;

    int      e;
    int64_t  to;

    if (r->session == NULL) {
        ngx_http_collab_store_result_free(res);
        ngx_http_collab_session_sreq_free(r);
        return;
    }

    if (rc == NGX_HTTP_COLLAB_STORE_NOT_FOUND) {
        ngx_http_collab_session_nf_reply(r);
        return;
    }

    if (rc != NGX_HTTP_COLLAB_STORE_OK) {
        ngx_http_collab_session_raw_error(r, COLLAB_MSG_ERR_UNKNOWN,
                                          "Database unavailable: the "
                                          "snapshot cannot be read");
        ngx_queue_remove(&r->sq);
        ngx_http_collab_session_sreq_free(r);
        return;
    }

    e = ngx_http_collab_doc_replay(&r->text, &r->at, res);

    if (e != COLLAB_OT_OK) {
        ngx_http_collab_store_result_free(res);
        ngx_http_collab_session_raw_error(r, COLLAB_MSG_ERR_UNKNOWN,
                                          "The op log cannot be replayed");
        ngx_queue_remove(&r->sq);
        ngx_http_collab_session_sreq_free(r);
        return;
    }

    if (res->nops == NGX_HTTP_COLLAB_NF_CHUNK
        && (!r->has_v || r->at < r->v))
    {
        ngx_http_collab_store_result_free(res);

        to = r->has_v ? (int64_t) r->v + 1 : -1;

        if (ngx_http_collab_store_ops(&r->c, &r->d, (int64_t) r->at + 1, to,
                                      NGX_HTTP_COLLAB_NF_CHUNK,
                                      ngx_http_collab_session_nf_ops, r)
            == NGX_OK)
        {
            return;
        }

        ngx_http_collab_session_raw_error(r, COLLAB_MSG_ERR_UNKNOWN,
                                          "Out of memory");
        ngx_queue_remove(&r->sq);
        ngx_http_collab_session_sreq_free(r);
        return;
    }

    ngx_http_collab_store_result_free(res);

    ngx_http_collab_session_nf_reply(r);
}


static void
ngx_http_collab_session_nf_reply(ngx_http_collab_sreq_t *r)
{
    size_t                  len;
    u_char                 *buf;
    collab_msg_t           *m;
    collab_msg_err_t        err;
    collab_msg_snapshot_t   snap;

    ngx_memzero(&snap, sizeof(collab_msg_snapshot_t));

    snap.v = r->at;
    buf = NULL;

    if (r->text) {
        len = collab_text_bytes(r->text);

        buf = ngx_alloc(len + 1, ngx_http_collab_doc_worker.log);
        if (buf == NULL) {
            goto failed;
        }

        collab_text_copy(r->text, (char *) buf);
        buf[len] = '\0';

        snap.exists = 1;
        snap.data = (const char *) buf;
        snap.len = len;
    }

    m = &ngx_http_collab_session_msg;

    if (collab_msg_decode((const char *) r->raw.data, r->raw.len, m, &err)
        != COLLAB_MSG_OK
        || collab_msg_enc_nf(&ngx_http_collab_session_enc,
                             m->field[COLLAB_MSG_F_ID], &snap)
           != COLLAB_MSG_OK)
    {
        goto failed;
    }

    ngx_http_collab_session_send_enc(r->session);

    if (buf) {
        ngx_free(buf);
    }

    ngx_queue_remove(&r->sq);
    ngx_http_collab_session_sreq_free(r);

    return;

failed:

    if (buf) {
        ngx_free(buf);
    }

    ngx_http_collab_session_raw_error(r, COLLAB_MSG_ERR_UNKNOWN,
                                      "Out of memory");
    ngx_queue_remove(&r->sq);
    ngx_http_collab_session_sreq_free(r);
}


static ngx_http_collab_sreq_t *
ngx_http_collab_session_sreq(ngx_http_collab_session_t *s, collab_msg_t *msg,
    u_char *data, size_t len, ngx_uint_t n)
{
    u_char                  *p;
    size_t                   size;
    ngx_uint_t               i;
    ngx_http_collab_sreq_t  *r;

    size = sizeof(ngx_http_collab_sreq_t)
           + (n ? n - 1 : 0) * sizeof(ngx_http_collab_sitem_t)
           + len + msg->c.len + msg->d.len + 3;

    r = ngx_alloc(size, s->ws->connection->log);
    if (r == NULL) {
        return NULL;
    }

    ngx_memzero(r, sizeof(ngx_http_collab_sreq_t)
                   + (n ? n - 1 : 0) * sizeof(ngx_http_collab_sitem_t));

    p = (u_char *) &r->items[n ? n : 1];

    /* c and d are absent (NULL) in bulk requests: no memcpy from NULL */

    r->raw.data = p;
    r->raw.len = len;
    p = ngx_cpymem(p, data, len);
    *p++ = '\0';

    r->c.data = p;
    r->c.len = msg->c.len;

    if (msg->c.len) {
        p = ngx_cpymem(p, msg->c.data, msg->c.len);
    }

    *p++ = '\0';

    r->d.data = p;
    r->d.len = msg->d.len;

    if (msg->d.len) {
        p = ngx_cpymem(p, msg->d.data, msg->d.len);
    }

    *p = '\0';

    r->session = s;
    r->action = msg->action;
    r->n = n;
    r->count = n ? n : 1;

    s->npending += r->count;

    for (i = 0; i < n; i++) {
        r->items[i].sreq = r;
        r->items[i].rc = NGX_OK;
    }

    ngx_queue_insert_tail(&s->reqs, &r->sq);

    return r;
}


static void
ngx_http_collab_session_sreq_free(ngx_http_collab_sreq_t *r)
{
    ngx_uint_t                i;
    ngx_http_collab_sitem_t  *it;

    if (r->session) {
        r->session->npending -= r->count;
    }

    for (i = 0; i < r->n; i++) {
        it = &r->items[i];

        if (it->doc) {
            ngx_http_collab_doc_unref(it->doc);
        }

        if (it->d.data) {
            ngx_free(it->d.data);
        }
    }

    if (r->text) {
        collab_text_free(r->text);
    }

    ngx_free(r);
}


/* the reply to auth (ngx_http_collab_session_auth.c) */
void
ngx_http_collab_session_auth_reply(ngx_http_collab_session_t *s,
    time_t exp, const char *code, const char *message)
{
    if (collab_msg_enc_auth(&ngx_http_collab_session_enc, (uint64_t) exp,
                            code, message)
        != COLLAB_MSG_OK)
    {
        ngx_http_collab_ws_close(s->ws, 1011, "internal error");
        return;
    }

    ngx_http_collab_session_send_enc(s);
}


static void
ngx_http_collab_session_send_enc(ngx_http_collab_session_t *s)
{
    collab_msg_enc_t  *enc;

    enc = &ngx_http_collab_session_enc;

    (void) ngx_http_collab_ws_send_text(s->ws, collab_msg_enc_data(enc),
                                        enc->len);
}


static void
ngx_http_collab_session_raw_error(ngx_http_collab_sreq_t *r,
    const char *code, const char *message)
{
    if (r->session == NULL) {
        return;
    }

    ngx_http_collab_commit_reply_error(r->session->ws, &r->raw, code,
                                       message);
}


/*
 * The per-connection document limit (collab_max_subscriptions): it bounds
 * the documents subscribed to plus those of requests still in progress,
 * so that neither a subscribe nor a fetch storm grows memory.  NGX_OK, or
 * the error reply was sent.
 */
static ngx_int_t
ngx_http_collab_session_admit(ngx_http_collab_session_t *s,
    collab_msg_t *msg, ngx_uint_t n)
{
    ngx_uint_t  max, subs;
    u_char      text[128];

    max = s->ws->conf->max_subscriptions;

    if (s->npending + n > max) {
        ngx_snprintf(text, sizeof(text),
                     "Too many documents requested at once on this "
                     "connection (collab_max_subscriptions %ui)%Z", max);
        goto refused;
    }

    if (msg->action != COLLAB_MSG_A_S && msg->action != COLLAB_MSG_A_BS) {
        return NGX_OK;
    }

    subs = s->nsubs + s->npending + n;

    /* subscribing again to a document already subscribed adds nothing */
    if (subs > max && msg->action == COLLAB_MSG_A_S
        && ngx_http_collab_session_subscribed(s, &msg->c, &msg->d))
    {
        subs--;
    }

    if (subs <= max) {
        return NGX_OK;
    }

    ngx_snprintf(text, sizeof(text),
                 "Too many subscriptions on this connection "
                 "(collab_max_subscriptions %ui)%Z", max);

refused:

    ngx_log_error(NGX_LOG_INFO, s->ws->connection->log, 0,
                  "collab: %s", text);

    ngx_http_collab_session_error(s, msg, NGX_HTTP_COLLAB_ERR_READS_REJECTED,
                                  (const char *) text);

    return NGX_DECLINED;
}


static ngx_uint_t
ngx_http_collab_session_subscribed(ngx_http_collab_session_t *s,
    collab_msg_str_t *c, collab_msg_str_t *d)
{
    ngx_queue_t                *q;
    ngx_http_collab_doc_t      *doc;
    ngx_http_collab_doc_sub_t  *ds;

    for (q = ngx_queue_head(&s->subs);
         q != ngx_queue_sentinel(&s->subs);
         q = ngx_queue_next(q))
    {
        ds = ngx_queue_data(q, ngx_http_collab_doc_sub_t, sq);
        doc = ds->doc;

        if (doc && doc->c.len == c->len && doc->d.len == d->len
            && ngx_memcmp(doc->c.data, c->data, c->len) == 0
            && ngx_memcmp(doc->d.data, d->data, d->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* an "s" or "bs" of this document in progress will not link it */
static void
ngx_http_collab_session_drop_pending(ngx_http_collab_session_t *s,
    collab_msg_str_t *c, collab_msg_str_t *d)
{
    ngx_uint_t                i;
    ngx_queue_t              *q;
    ngx_http_collab_sreq_t   *r;
    ngx_http_collab_sitem_t  *it;

    for (q = ngx_queue_head(&s->reqs);
         q != ngx_queue_sentinel(&s->reqs);
         q = ngx_queue_next(q))
    {
        r = ngx_queue_data(q, ngx_http_collab_sreq_t, sq);

        if ((r->action != COLLAB_MSG_A_S && r->action != COLLAB_MSG_A_BS)
            || r->c.len != c->len
            || ngx_memcmp(r->c.data, c->data, c->len) != 0)
        {
            continue;
        }

        for (i = 0; i < r->n; i++) {
            it = &r->items[i];

            if (it->d.len == d->len
                && ngx_memcmp(it->d.data, d->data, d->len) == 0)
            {
                it->unsubscribed = 1;
            }
        }
    }
}


/* ops of this connection not yet acked or refused, counted up to max */
static ngx_uint_t
ngx_http_collab_session_in_flight(ngx_http_collab_session_t *s,
    ngx_uint_t max)
{
    ngx_uint_t    n;
    ngx_queue_t  *q;

    n = 0;

    for (q = ngx_queue_head(&s->submits);
         q != ngx_queue_sentinel(&s->submits) && n < max;
         q = ngx_queue_next(q))
    {
        n++;
    }

    return n;
}


/*
 * A client numbers its ops per connection, increasing on each document
 * (a resend after a reconnect comes on a new connection).  An op reusing
 * a seq would otherwise be acked as a duplicate of another op and never
 * applied, or hit the (doc, src, seq) key of the op log at commit time.
 * NGX_OK records msg->seq; NGX_DECLINED: the seq was used already.
 */
static ngx_int_t
ngx_http_collab_session_seq(ngx_http_collab_session_t *s, collab_msg_t *msg)
{
    u_char                  *p;
    uint32_t                 hash;
    ngx_str_t                key;
    ngx_queue_t             *q;
    ngx_http_collab_sseq_t  *e;
    u_char                   buf[COLLAB_MSG_MAX_COLLECTION + 1
                                 + COLLAB_MSG_MAX_DOC_ID];

    if (msg->c.len > COLLAB_MSG_MAX_COLLECTION
        || msg->d.len > COLLAB_MSG_MAX_DOC_ID)
    {
        return NGX_OK;
    }

    /* c or d may be empty with a NULL data: no memcpy() from NULL */

    p = buf;

    if (msg->c.len) {
        p = ngx_cpymem(p, msg->c.data, msg->c.len);
    }

    *p++ = '\0';

    if (msg->d.len) {
        p = ngx_cpymem(p, msg->d.data, msg->d.len);
    }

    key.data = buf;
    key.len = p - buf;
    hash = ngx_crc32_long(key.data, key.len);

    e = (ngx_http_collab_sseq_t *)
            ngx_str_rbtree_lookup(&s->seqs, &key, hash);

    if (e) {
        if (msg->seq <= e->seq) {
            return NGX_DECLINED;
        }

        e->seq = msg->seq;
        ngx_queue_remove(&e->lru);
        ngx_queue_insert_head(&s->seqs_lru, &e->lru);

        return NGX_OK;
    }

    if (s->nseqs >= NGX_HTTP_COLLAB_SESSION_MAX_SEQS) {
        q = ngx_queue_last(&s->seqs_lru);
        e = ngx_queue_data(q, ngx_http_collab_sseq_t, lru);

        ngx_queue_remove(q);
        ngx_rbtree_delete(&s->seqs, &e->sn.node);
        ngx_free(e);
        s->nseqs--;
    }

    e = ngx_alloc(sizeof(ngx_http_collab_sseq_t) + key.len,
                  s->ws->connection->log);
    if (e == NULL) {
        /* only a safeguard is lost: the commit path still dedups */
        return NGX_OK;
    }

    ngx_memzero(e, sizeof(ngx_http_collab_sseq_t));

    e->sn.str.data = (u_char *) (e + 1);
    e->sn.str.len = key.len;
    ngx_memcpy(e->sn.str.data, key.data, key.len);
    e->sn.node.key = hash;
    e->seq = msg->seq;

    ngx_rbtree_insert(&s->seqs, &e->sn.node);
    ngx_queue_insert_head(&s->seqs_lru, &e->lru);
    s->nseqs++;

    return NGX_OK;
}


static void
ngx_http_collab_session_seqs_free(ngx_http_collab_session_t *s)
{
    ngx_queue_t             *q;
    ngx_http_collab_sseq_t  *e;

    while (!ngx_queue_empty(&s->seqs_lru)) {
        q = ngx_queue_head(&s->seqs_lru);
        e = ngx_queue_data(q, ngx_http_collab_sseq_t, lru);

        ngx_queue_remove(q);
        ngx_rbtree_delete(&s->seqs, &e->sn.node);
        ngx_free(e);
    }

    s->nseqs = 0;
}


/*
 * The request was valid JSON but could not be decoded (reason says why):
 * a streaming parse echoes its scalar top-level keys that identify it
 * (a, c, d, v, seq, src, id, ch) with the error, so that a client finds
 * the request the error is about.  NGX_DECLINED if it is not a JSON
 * object after all.
 */
static ngx_int_t
ngx_http_collab_session_salvage(ngx_http_collab_session_t *s, u_char *data,
    size_t len, const char *reason)
{
    u_char                     *p;
    size_t                      blen;
    ngx_int_t                   rc;
    const char                 *code;
    yajl_handle                 h;
    yajl_status                 st;
    const unsigned char        *buf;
    ngx_http_collab_salvage_t   sv;
    u_char                      message[128];

    ngx_memzero(&sv, sizeof(ngx_http_collab_salvage_t));
    sv.key = -1;

    sv.gen = yajl_gen_alloc(NULL);
    if (sv.gen == NULL) {
        return NGX_DECLINED;
    }

    rc = NGX_DECLINED;

    h = yajl_alloc(&ngx_http_collab_salvage_callbacks, NULL, &sv);
    if (h == NULL) {
        goto done;
    }

    st = yajl_parse(h, data, len);

    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
    }

    yajl_free(h);

    if (st != yajl_status_ok || sv.depth != 0 || !(sv.seen & 1)) {
        /* not an object with "a" (or not JSON): the plain error */
        goto done;
    }

    code = sv.op ? COLLAB_MSG_ERR_OT_BADLY_FORMED
                 : COLLAB_MSG_ERR_BADLY_FORMED;

    /* "op: JSON nested too deeply", like the decoder's own messages */
    p = ngx_snprintf(message, sizeof(message), "%s: %s",
                     sv.a[0] ? (char *) sv.a : "message", reason);

    if (yajl_gen_string(sv.gen, (const unsigned char *) "error", 5)
           != yajl_gen_status_ok
        || yajl_gen_map_open(sv.gen) != yajl_gen_status_ok
        || yajl_gen_string(sv.gen, (const unsigned char *) "code", 4)
           != yajl_gen_status_ok
        || yajl_gen_string(sv.gen, (const unsigned char *) code,
                           ngx_strlen(code))
           != yajl_gen_status_ok
        || yajl_gen_string(sv.gen, (const unsigned char *) "message", 7)
           != yajl_gen_status_ok
        || yajl_gen_string(sv.gen, message, p - message)
           != yajl_gen_status_ok
        || yajl_gen_map_close(sv.gen) != yajl_gen_status_ok
        || yajl_gen_map_close(sv.gen) != yajl_gen_status_ok
        || yajl_gen_get_buf(sv.gen, &buf, &blen) != yajl_gen_status_ok)
    {
        goto done;
    }

    (void) ngx_http_collab_ws_send_text(s->ws, buf, blen);

    rc = NGX_OK;

done:

    yajl_gen_free(sv.gen);

    return rc;
}


/* type: 0 null, 1 boolean (len is the value), 2 number, 3 string */
static int
ngx_http_collab_salvage_scalar(ngx_http_collab_salvage_t *sv,
    ngx_uint_t type, const char *p, size_t len)
{
    int         ok;
    ngx_int_t   key;
    const char  *name;

    if (sv->depth == 0) {
        /* a scalar at the top: not an object */
        return 0;
    }

    key = sv->key;
    sv->key = -1;

    if (sv->depth != 1 || key < 0) {
        return 1;
    }

    /* U+0000 cannot be echoed safely: leave the key out */
    if (type == 3 && ngx_strlchr((u_char *) p, (u_char *) p + len, '\0')) {
        return 1;
    }

    if (key == 0) {
        if (type != 3) {
            return 1;
        }

        sv->op = (len == 2 && p[0] == 'o' && p[1] == 'p');

        if (len && len <= 2) {
            ngx_memcpy(sv->a, p, len);
        }
    }

    name = ngx_http_collab_salvage_keys[key];

    if (yajl_gen_string(sv->gen, (const unsigned char *) name,
                        ngx_strlen(name))
        != yajl_gen_status_ok)
    {
        return 0;
    }

    switch (type) {

    case 0:
        ok = (yajl_gen_null(sv->gen) == yajl_gen_status_ok);
        break;

    case 1:
        ok = (yajl_gen_bool(sv->gen, len != 0) == yajl_gen_status_ok);
        break;

    case 2:
        ok = (yajl_gen_number(sv->gen, p, len) == yajl_gen_status_ok);
        break;

    default:
        ok = (yajl_gen_string(sv->gen, (const unsigned char *) p, len)
              == yajl_gen_status_ok);
        break;
    }

    sv->seen |= (ngx_uint_t) 1 << key;

    return ok;
}


static int
ngx_http_collab_salvage_null(void *ctx)
{
    return ngx_http_collab_salvage_scalar(ctx, 0, NULL, 0);
}


static int
ngx_http_collab_salvage_boolean(void *ctx, int b)
{
    return ngx_http_collab_salvage_scalar(ctx, 1, NULL, b ? 1 : 0);
}


static int
ngx_http_collab_salvage_number(void *ctx, const char *p, size_t len)
{
    return ngx_http_collab_salvage_scalar(ctx, 2, p, len);
}


static int
ngx_http_collab_salvage_string(void *ctx, const unsigned char *p,
    size_t len)
{
    return ngx_http_collab_salvage_scalar(ctx, 3, (const char *) p, len);
}


static int
ngx_http_collab_salvage_start_map(void *ctx)
{
    ngx_http_collab_salvage_t  *sv = ctx;

    if (sv->depth++ == 0) {
        return yajl_gen_map_open(sv->gen) == yajl_gen_status_ok;
    }

    /* a container value is not echoed */
    sv->key = -1;

    return 1;
}


static int
ngx_http_collab_salvage_map_key(void *ctx, const unsigned char *p,
    size_t len)
{
    ngx_http_collab_salvage_t  *sv = ctx;

    ngx_uint_t  i;

    sv->key = -1;

    if (sv->depth != 1) {
        return 1;
    }

    for (i = 0; i < NGX_HTTP_COLLAB_SALVAGE_KEYS; i++) {
        if (ngx_strlen(ngx_http_collab_salvage_keys[i]) == len
            && ngx_strncmp(ngx_http_collab_salvage_keys[i], p, len) == 0)
        {
            /* the first occurrence only: no key twice in the echo */
            if (!(sv->seen & ((ngx_uint_t) 1 << i))) {
                sv->key = i;
            }

            break;
        }
    }

    return 1;
}


static int
ngx_http_collab_salvage_end(void *ctx)
{
    ngx_http_collab_salvage_t  *sv = ctx;

    sv->depth--;

    return 1;
}


static int
ngx_http_collab_salvage_start_array(void *ctx)
{
    ngx_http_collab_salvage_t  *sv = ctx;

    if (sv->depth++ == 0) {
        /* an array at the top: not an object */
        return 0;
    }

    sv->key = -1;

    return 1;
}
