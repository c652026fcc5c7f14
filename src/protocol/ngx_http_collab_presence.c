/*
 * Presence relay.  The server only relays: a "p" message goes, with the
 * public form of the sender's src added (the same that others see on its
 * ops, ngx_http_collab_src.h), to every subscriber of its channel except the
 * sender (through Redis when configured, so other workers and hosts get
 * it too, and this worker receives it back like everyone else), and is
 * echoed to the sender as its acknowledgement.
 *
 * A presence id belongs to the src that first set it on a channel, until
 * that src clears it (p null, sent for it when its session ends): each
 * worker keeps the owners of the channels it serves, from the one ordered
 * stream of the channel, and drops a presence under someone else's id
 * (the stock client would move that person's cursor).
 */

#include "ngx_http_collab.h"
#include "redis/ngx_http_collab_redis.h"
#include "protocol/collab_msg.h"
#include "protocol/collab_msg_enc.h"
#include "protocol/ngx_http_collab_session.h"
#include "protocol/ngx_http_collab_presence.h"


typedef struct {
    ngx_str_node_t             sn;          /* key: ch */
    ngx_rbtree_t               owners;      /* of ngx_http_collab_powner_t */
    ngx_rbtree_node_t          owners_sentinel;
    ngx_uint_t                 nowners;
    ngx_queue_t                subs;
    ngx_uint_t                 nsubs;
    ngx_uint_t                 dispatching;
    ngx_str_t                  rchannel;    /* Redis channel name */
    unsigned                   redis_on:1;
    unsigned                   active:1;
    unsigned                   want_request:1;
} ngx_http_collab_pchan_t;


/* the src a presence id on a channel belongs to */
typedef struct {
    ngx_str_node_t             sn;          /* key: id */
    u_char                     src[NGX_HTTP_COLLAB_SRC_LEN];  /* public */
} ngx_http_collab_powner_t;


/* presence ids a channel keeps owners of (beyond: not bound, logged) */
#define NGX_HTTP_COLLAB_PRESENCE_MAX_OWNERS  65536


/* a session's subscription to a channel, or a presence it has set */
typedef struct {
    ngx_queue_t                cq;          /* in chan->subs */
    ngx_queue_t                sq;          /* in session->presence */
    ngx_http_collab_pchan_t   *chan;        /* NULL: a presence it set */
    ngx_http_collab_session_t *session;
    ngx_str_t                  ch;
    ngx_str_t                  id;
    uint64_t                   pv;
} ngx_http_collab_psub_t;


static ngx_http_collab_pchan_t *ngx_http_collab_presence_chan(ngx_str_t *ch,
    ngx_uint_t create);
static void ngx_http_collab_presence_chan_done(ngx_http_collab_pchan_t *c);
static void ngx_http_collab_presence_relay(ngx_str_t *ch, u_char *payload,
    size_t len, ngx_str_t *src);
static void ngx_http_collab_presence_deliver(ngx_http_collab_pchan_t *c,
    u_char *payload, size_t len);
static ngx_http_collab_powner_t *ngx_http_collab_presence_owner(
    ngx_http_collab_pchan_t *c, ngx_str_t *id);
static ngx_uint_t ngx_http_collab_presence_bind(ngx_http_collab_pchan_t *c,
    collab_msg_t *m, ngx_str_t *src);
static void ngx_http_collab_presence_redis(ngx_str_t *channel,
    u_char *payload, size_t len, void *data);
static void ngx_http_collab_presence_request(ngx_str_t *ch, ngx_str_t *src);
static ngx_http_collab_psub_t *ngx_http_collab_presence_tracked(
    ngx_http_collab_session_t *s, collab_msg_t *msg);
static void ngx_http_collab_presence_track(ngx_http_collab_session_t *s,
    collab_msg_t *msg, ngx_http_collab_psub_t *ps);
static void ngx_http_collab_presence_refuse(ngx_http_collab_session_t *s,
    collab_msg_t *msg, const char *code, const char *what, size_t max);
static void ngx_http_collab_presence_sub_reply(
    ngx_http_collab_session_t *s, collab_msg_t *msg);
static void ngx_http_collab_presence_reply(ngx_http_collab_session_t *s);
static ngx_uint_t ngx_http_collab_presence_plain(ngx_str_t *s);


static ngx_rbtree_t       ngx_http_collab_presence_tree;
static ngx_rbtree_node_t  ngx_http_collab_presence_sentinel;
static collab_msg_enc_t   ngx_http_collab_presence_enc;
static collab_msg_t       ngx_http_collab_presence_msg;
static ngx_log_t         *ngx_http_collab_presence_log;


ngx_int_t
ngx_http_collab_presence_init_process(ngx_cycle_t *cycle)
{
    ngx_rbtree_init(&ngx_http_collab_presence_tree,
                    &ngx_http_collab_presence_sentinel,
                    ngx_str_rbtree_insert_value);

    ngx_http_collab_presence_log = cycle->log;

    collab_msg_init(&ngx_http_collab_presence_msg);

    if (collab_msg_enc_init(&ngx_http_collab_presence_enc) != COLLAB_MSG_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_collab_presence_exit_process(ngx_cycle_t *cycle)
{
    collab_msg_enc_free(&ngx_http_collab_presence_enc);
    collab_msg_free(&ngx_http_collab_presence_msg);
}


void
ngx_http_collab_presence_message(ngx_http_collab_session_t *s,
    collab_msg_t *msg)
{
    ngx_str_t                    ch, id;
    ngx_queue_t                 *q;
    collab_msg_str_t             src, name;
    collab_msg_enc_t            *enc;
    ngx_http_collab_psub_t      *ps;
    ngx_http_collab_pchan_t     *c;
    ngx_http_collab_powner_t    *po;
    ngx_http_collab_loc_conf_t  *conf;

    enc = &ngx_http_collab_presence_enc;
    conf = s->ws->conf;

    ch.data = (u_char *) msg->ch.data;
    ch.len = msg->ch.len;

    switch (msg->action) {

    case COLLAB_MSG_A_P:
        ps = ngx_http_collab_presence_tracked(s, msg);

        /* a new presence is one more channel to clear when it leaves */
        if (ps == NULL && msg->p && !YAJL_IS_NULL(msg->p)
            && s->npresence >= conf->max_presence_channels)
        {
            ngx_http_collab_presence_refuse(s, msg,
                                            COLLAB_MSG_ERR_SUBMIT_REJECTED,
                                            "Too many presence channels on "
                                            "this connection "
                                            "(collab_max_presence_channels",
                                            conf->max_presence_channels);
            return;
        }

        /* someone else's presence id: refused here, dropped everywhere */
        c = ngx_http_collab_presence_chan(&ch, 0);

        id.data = (u_char *) msg->id.data;
        id.len = msg->id.len;

        if (c) {
            po = ngx_http_collab_presence_owner(c, &id);

            if (po && ngx_memcmp(po->src, s->src_public.data,
                                 NGX_HTTP_COLLAB_SRC_LEN) != 0)
            {
                ngx_log_error(NGX_LOG_INFO, s->ws->connection->log, 0,
                              "collab: presence \"%V\" on \"%V\" "
                              "belongs to another src: refused", &id, &ch);

                ngx_http_collab_session_error(s, msg,
                                              COLLAB_MSG_ERR_SUBMIT_REJECTED,
                                              "Presence id belongs to "
                                              "another client");
                return;
            }
        }

        /* others see the public form of the sender's src */
        src.data = (const char *) s->src_public.data;
        src.len = s->src_public.len;
        name.data = (const char *) s->name.data;
        name.len = s->name.len;

        /* signed in: the presence shows the token's name */
        if (collab_msg_enc_presence(enc, msg, &src,
                                    s->name.len ? &name : NULL)
            != COLLAB_MSG_OK)
        {
            ngx_http_collab_session_error(s, msg, COLLAB_MSG_ERR_UNKNOWN,
                                          "Out of memory");
            return;
        }

        /* it goes to every subscriber, through Redis: keep it small */
        if (enc->len > conf->max_presence_size) {
            ngx_http_collab_presence_refuse(s, msg,
                                            COLLAB_MSG_ERR_SUBMIT_REJECTED,
                                            "Presence too large "
                                            "(collab_max_presence_size",
                                            conf->max_presence_size);
            return;
        }

        /* the echo is the sender's acknowledgement */
        (void) ngx_http_collab_ws_send_text(s->ws, collab_msg_enc_data(enc),
                                            enc->len);

        ngx_http_collab_presence_relay(&ch, collab_msg_enc_data(enc),
                                       enc->len, &s->src_public);
        ngx_http_collab_presence_track(s, msg, ps);
        return;

    case COLLAB_MSG_A_PS:
        c = ngx_http_collab_presence_chan(&ch, 1);
        if (c == NULL) {
            ngx_http_collab_session_error(s, msg, COLLAB_MSG_ERR_UNKNOWN,
                                          "Out of memory");
            return;
        }

        for (q = ngx_queue_head(&c->subs);
             q != ngx_queue_sentinel(&c->subs);
             q = ngx_queue_next(q))
        {
            ps = ngx_queue_data(q, ngx_http_collab_psub_t, cq);

            if (ps->session == s) {
                break;
            }
        }

        if (q == ngx_queue_sentinel(&c->subs)) {
            if (s->npresence >= conf->max_presence_channels) {
                ngx_http_collab_presence_chan_done(c);
                ngx_http_collab_presence_refuse(s, msg,
                                            NGX_HTTP_COLLAB_ERR_READS_REJECTED,
                                            "Too many presence channels on "
                                            "this connection "
                                            "(collab_max_presence_channels",
                                            conf->max_presence_channels);
                return;
            }

            ps = ngx_alloc(sizeof(ngx_http_collab_psub_t),
                           ngx_http_collab_presence_log);
            if (ps == NULL) {
                ngx_http_collab_presence_chan_done(c);
                ngx_http_collab_session_error(s, msg, COLLAB_MSG_ERR_UNKNOWN,
                                              "Out of memory");
                return;
            }

            ngx_memzero(ps, sizeof(ngx_http_collab_psub_t));
            ps->chan = c;
            ps->session = s;

            ngx_queue_insert_tail(&c->subs, &ps->cq);
            ngx_queue_insert_tail(&s->presence, &ps->sq);
            c->nsubs++;
            s->npresence++;
        }

        ngx_http_collab_presence_sub_reply(s, msg);

        /* ask the others to send their presence again */
        if (c->rchannel.data && !c->active) {
            c->want_request = 1;

        } else {
            ngx_http_collab_presence_request(&ch, &s->src_public);
        }

        return;

    case COLLAB_MSG_A_PU:
        c = ngx_http_collab_presence_chan(&ch, 0);

        if (c) {
            for (q = ngx_queue_head(&c->subs);
                 q != ngx_queue_sentinel(&c->subs);
                 q = ngx_queue_next(q))
            {
                ps = ngx_queue_data(q, ngx_http_collab_psub_t, cq);

                if (ps->session == s) {
                    ngx_queue_remove(&ps->cq);
                    ngx_queue_remove(&ps->sq);
                    ngx_free(ps);
                    c->nsubs--;
                    s->npresence--;
                    break;
                }
            }

            ngx_http_collab_presence_chan_done(c);
        }

        ngx_http_collab_presence_sub_reply(s, msg);

        return;

    default: /* COLLAB_MSG_A_PR */
        ngx_http_collab_presence_request(&ch, &s->src_public);
        ngx_http_collab_presence_reply(s);
        return;
    }
}


void
ngx_http_collab_presence_close(ngx_http_collab_session_t *s)
{
    u_char                   *p;
    ngx_queue_t              *q;
    ngx_http_collab_psub_t   *ps;
    ngx_http_collab_pchan_t  *c;
    u_char                    buf[1024];

    while (!ngx_queue_empty(&s->presence)) {
        q = ngx_queue_head(&s->presence);
        ps = ngx_queue_data(q, ngx_http_collab_psub_t, sq);
        ngx_queue_remove(q);

        c = ps->chan;

        if (c) {
            ngx_queue_remove(&ps->cq);
            c->nsubs--;
            ngx_free(ps);
            ngx_http_collab_presence_chan_done(c);
            continue;
        }

        /* a presence it had set: the others drop it */
        if (ps->ch.len + ps->id.len + s->src_public.len + 128 <= sizeof(buf)
            && ngx_http_collab_presence_plain(&ps->ch)
            && ngx_http_collab_presence_plain(&ps->id))
        {
            p = ngx_sprintf(buf, "{\"a\":\"p\",\"ch\":\"%V\",\"src\":\"%V\","
                            "\"id\":\"%V\",\"p\":null,\"pv\":%uL}",
                            &ps->ch, &s->src_public, &ps->id, ps->pv + 1);

            ngx_http_collab_presence_relay(&ps->ch, buf, p - buf,
                                           &s->src_public);
        }

        ngx_free(ps);
    }
}


static ngx_http_collab_pchan_t *
ngx_http_collab_presence_chan(ngx_str_t *ch, ngx_uint_t create)
{
    uint32_t                  hash;
    ngx_int_t                 rc;
    ngx_http_collab_pchan_t  *c;

    hash = ngx_crc32_long(ch->data, ch->len);

    c = (ngx_http_collab_pchan_t *)
            ngx_str_rbtree_lookup(&ngx_http_collab_presence_tree, ch, hash);

    if (c || !create) {
        return c;
    }

    c = ngx_alloc(sizeof(ngx_http_collab_pchan_t) + ch->len,
                  ngx_http_collab_presence_log);
    if (c == NULL) {
        return NULL;
    }

    ngx_memzero(c, sizeof(ngx_http_collab_pchan_t));

    c->sn.str.data = (u_char *) (c + 1);
    c->sn.str.len = ch->len;
    ngx_memcpy(c->sn.str.data, ch->data, ch->len);
    c->sn.node.key = hash;

    ngx_queue_init(&c->subs);

    ngx_rbtree_init(&c->owners, &c->owners_sentinel,
                    ngx_str_rbtree_insert_value);

    ngx_rbtree_insert(&ngx_http_collab_presence_tree, &c->sn.node);

    if (ngx_http_collab_redis_enabled()
        && ngx_http_collab_redis_name(NULL, NGX_HTTP_COLLAB_REDIS_PRESENCE,
                                      ch, &c->rchannel)
           == NGX_OK)
    {
        rc = ngx_http_collab_redis_subscribe(&c->rchannel,
                                             ngx_http_collab_presence_redis,
                                             c, 0);
        if (rc == NGX_OK || rc == NGX_AGAIN) {
            c->redis_on = 1;
            c->active = (rc == NGX_OK);
        }
    }

    return c;
}


static void
ngx_http_collab_presence_chan_done(ngx_http_collab_pchan_t *c)
{
    ngx_rbtree_node_t  *node;

    if (c->nsubs || c->dispatching) {
        return;
    }

    if (c->redis_on) {
        ngx_http_collab_redis_unsubscribe(&c->rchannel,
                                          ngx_http_collab_presence_redis, c);
    }

    if (c->rchannel.data) {
        ngx_free(c->rchannel.data);
    }

    while (c->owners.root != c->owners.sentinel) {
        node = ngx_rbtree_min(c->owners.root, c->owners.sentinel);
        ngx_rbtree_delete(&c->owners, node);
        ngx_free(node);
    }

    ngx_rbtree_delete(&ngx_http_collab_presence_tree, &c->sn.node);
    ngx_free(c);
}


static void
ngx_http_collab_presence_relay(ngx_str_t *ch, u_char *payload, size_t len,
    ngx_str_t *src)
{
    ngx_str_t                 name;
    ngx_http_collab_pchan_t  *c;

    if (ngx_http_collab_redis_enabled()) {
        /* everyone, this worker included, gets it from Redis */
        if (ngx_http_collab_redis_name(NULL, NGX_HTTP_COLLAB_REDIS_PRESENCE,
                                       ch, &name)
            == NGX_OK)
        {
            (void) ngx_http_collab_redis_publish(&name, payload, len);
            ngx_free(name.data);
        }

        return;
    }

    c = ngx_http_collab_presence_chan(ch, 0);

    if (c) {
        ngx_http_collab_presence_deliver(c, payload, len);
    }
}


static void
ngx_http_collab_presence_deliver(ngx_http_collab_pchan_t *c, u_char *payload,
    size_t len)
{
    int                       rc;
    ngx_str_t                 s, *src;
    yajl_val                  v;
    ngx_queue_t              *q, *next;
    collab_msg_t             *m;
    collab_msg_err_t          err;
    ngx_http_collab_frame_t  *f;
    ngx_http_collab_psub_t   *ps;

    m = &ngx_http_collab_presence_msg;

    rc = collab_msg_decode((const char *) payload, len, m, &err);

    src = NULL;

    if (m->root) {
        v = m->field[COLLAB_MSG_F_SRC];

        if (v && YAJL_IS_STRING(v)) {
            s.data = (u_char *) v->u.string;
            s.len = collab_msg_strlen(v->u.string);
            src = &s;
        }
    }

    if (src && rc == COLLAB_MSG_OK && m->action == COLLAB_MSG_A_P
        && !ngx_http_collab_presence_bind(c, m, src))
    {
        return;
    }

    f = NULL;

    c->dispatching++;

    for (q = ngx_queue_head(&c->subs);
         q != ngx_queue_sentinel(&c->subs);
         q = next)
    {
        next = ngx_queue_next(q);
        ps = ngx_queue_data(q, ngx_http_collab_psub_t, cq);

        if (src && src->len == ps->session->src_public.len
            && ngx_memcmp(src->data, ps->session->src_public.data, src->len)
               == 0)
        {
            continue;
        }

        if (f == NULL) {
            f = ngx_http_collab_frame_text(payload, len,
                                           ngx_http_collab_presence_log);
            if (f == NULL) {
                break;
            }
        }

        (void) ngx_http_collab_ws_send(ps->session->ws, f);
    }

    if (f) {
        ngx_http_collab_frame_release(f);
    }

    c->dispatching--;

    ngx_http_collab_presence_chan_done(c);
}


static void
ngx_http_collab_presence_redis(ngx_str_t *channel, u_char *payload,
    size_t len, void *data)
{
    ngx_http_collab_pchan_t  *c = data;

    if (payload == NULL) {
        c->active = 1;

        if (c->want_request) {
            c->want_request = 0;
            ngx_http_collab_presence_request(&c->sn.str, NULL);
        }

        return;
    }

    ngx_http_collab_presence_deliver(c, payload, len);
}


/* {"a":"pr","ch":ch,"src":src}: the others send their presence again */
static void
ngx_http_collab_presence_request(ngx_str_t *ch, ngx_str_t *src)
{
    u_char            *p, *buf;
    size_t             len;
    collab_msg_str_t   c;
    collab_msg_enc_t  *enc;

    enc = &ngx_http_collab_presence_enc;

    c.data = (const char *) ch->data;
    c.len = ch->len;

    if (collab_msg_enc_presence_request(enc, &c) != COLLAB_MSG_OK) {
        return;
    }

    len = enc->len;
    buf = collab_msg_enc_data(enc);

    if (src) {
        p = ngx_alloc(len + src->len + 16, ngx_http_collab_presence_log);
        if (p == NULL) {
            return;
        }

        /* src is hex: no escaping needed */
        buf = p;
        p = ngx_cpymem(p, collab_msg_enc_data(enc), len - 1);
        p = ngx_sprintf(p, ",\"src\":\"%V\"}", src);
        len = p - buf;
    }

    ngx_http_collab_presence_relay(ch, buf, len, src);

    if (src) {
        ngx_free(buf);
    }
}


static ngx_http_collab_powner_t *
ngx_http_collab_presence_owner(ngx_http_collab_pchan_t *c, ngx_str_t *id)
{
    return (ngx_http_collab_powner_t *)
               ngx_str_rbtree_lookup(&c->owners, id,
                                     ngx_crc32_long(id->data, id->len));
}


/*
 * Whether presence m from src may go to the channel's subscribers: its id
 * is free (src takes it) or src's own (a null presence frees it).
 */
static ngx_uint_t
ngx_http_collab_presence_bind(ngx_http_collab_pchan_t *c, collab_msg_t *m,
    ngx_str_t *src)
{
    ngx_str_t                  id;
    ngx_uint_t                 clear;
    ngx_http_collab_powner_t  *po;

    if (src->len != NGX_HTTP_COLLAB_SRC_LEN) {
        return 1;
    }

    id.data = (u_char *) m->id.data;
    id.len = m->id.len;

    clear = (m->p == NULL || YAJL_IS_NULL(m->p));

    po = ngx_http_collab_presence_owner(c, &id);

    if (po) {
        if (ngx_memcmp(po->src, src->data, NGX_HTTP_COLLAB_SRC_LEN) != 0) {
            ngx_log_error(NGX_LOG_INFO, ngx_http_collab_presence_log, 0,
                          "collab: presence \"%V\" on \"%V\" belongs to "
                          "another src: dropped", &id, &c->sn.str);
            return 0;
        }

        if (clear) {
            ngx_rbtree_delete(&c->owners, &po->sn.node);
            ngx_free(po);
            c->nowners--;
        }

        return 1;
    }

    if (clear) {
        return 1;
    }

    if (c->nowners >= NGX_HTTP_COLLAB_PRESENCE_MAX_OWNERS) {
        ngx_log_error(NGX_LOG_WARN, ngx_http_collab_presence_log, 0,
                      "collab: presence channel \"%V\" has %ui ids: "
                      "\"%V\" is not bound to its src",
                      &c->sn.str, c->nowners, &id);
        return 1;
    }

    po = ngx_alloc(sizeof(ngx_http_collab_powner_t) + id.len,
                   ngx_http_collab_presence_log);
    if (po == NULL) {
        return 1;
    }

    po->sn.str.data = (u_char *) (po + 1);
    po->sn.str.len = id.len;
    ngx_memcpy(po->sn.str.data, id.data, id.len);
    po->sn.node.key = ngx_crc32_long(id.data, id.len);
    ngx_memcpy(po->src, src->data, NGX_HTTP_COLLAB_SRC_LEN);

    ngx_rbtree_insert(&c->owners, &po->sn.node);
    c->nowners++;

    return 1;
}


/* the presence this session set on (ch, id), if any */
static ngx_http_collab_psub_t *
ngx_http_collab_presence_tracked(ngx_http_collab_session_t *s,
    collab_msg_t *msg)
{
    ngx_queue_t             *q;
    ngx_http_collab_psub_t  *ps;

    for (q = ngx_queue_head(&s->presence);
         q != ngx_queue_sentinel(&s->presence);
         q = ngx_queue_next(q))
    {
        ps = ngx_queue_data(q, ngx_http_collab_psub_t, sq);

        if (ps->chan == NULL
            && ps->ch.len == msg->ch.len && ps->id.len == msg->id.len
            && ngx_memcmp(ps->ch.data, msg->ch.data, ps->ch.len) == 0
            && ngx_memcmp(ps->id.data, msg->id.data, ps->id.len) == 0)
        {
            return ps;
        }
    }

    return NULL;
}


/* remembers the presence a session set, to clear it when it leaves */
static void
ngx_http_collab_presence_track(ngx_http_collab_session_t *s,
    collab_msg_t *msg, ngx_http_collab_psub_t *ps)
{
    u_char  *p;

    if (ps) {
        if (msg->p == NULL || YAJL_IS_NULL(msg->p)) {
            ngx_queue_remove(&ps->sq);
            ngx_free(ps);
            s->npresence--;
            return;
        }

        if (msg->pv > ps->pv) {
            ps->pv = msg->pv;
        }

        return;
    }

    if (msg->p == NULL || YAJL_IS_NULL(msg->p)) {
        return;
    }

    ps = ngx_alloc(sizeof(ngx_http_collab_psub_t) + msg->ch.len + msg->id.len,
                   ngx_http_collab_presence_log);
    if (ps == NULL) {
        return;
    }

    ngx_memzero(ps, sizeof(ngx_http_collab_psub_t));

    p = (u_char *) (ps + 1);

    ps->ch.data = p;
    ps->ch.len = msg->ch.len;
    p = ngx_cpymem(p, msg->ch.data, msg->ch.len);

    ps->id.data = p;
    ps->id.len = msg->id.len;
    ngx_memcpy(p, msg->id.data, msg->id.len);

    ps->pv = msg->pv;
    ps->session = s;

    ngx_queue_insert_tail(&s->presence, &ps->sq);
    s->npresence++;
}


/* the error reply to a presence over a limit: "<what> <max>)" */
static void
ngx_http_collab_presence_refuse(ngx_http_collab_session_t *s,
    collab_msg_t *msg, const char *code, const char *what, size_t max)
{
    u_char  text[128];

    ngx_snprintf(text, sizeof(text) - 1, "%s %uz)%Z", what, max);
    text[sizeof(text) - 1] = '\0';

    ngx_log_error(NGX_LOG_INFO, s->ws->connection->log, 0,
                  "collab: %s", text);

    ngx_http_collab_session_error(s, msg, code, (const char *) text);
}


/* the ps/pu reply */
static void
ngx_http_collab_presence_sub_reply(ngx_http_collab_session_t *s,
    collab_msg_t *msg)
{
    collab_msg_enc_t  *enc;

    enc = &ngx_http_collab_presence_enc;

    if (collab_msg_enc_presence_sub(enc, msg->action, &msg->ch, msg->seq,
                                    msg->has_seq)
        == COLLAB_MSG_OK)
    {
        (void) ngx_http_collab_ws_send_text(s->ws, collab_msg_enc_data(enc),
                                            enc->len);
    }
}


static void
ngx_http_collab_presence_reply(ngx_http_collab_session_t *s)
{
    static u_char  pr[] = "{\"a\":\"pr\"}";

    (void) ngx_http_collab_ws_send_text(s->ws, pr, sizeof(pr) - 1);
}


/* a string that needs no JSON escaping */
static ngx_uint_t
ngx_http_collab_presence_plain(ngx_str_t *s)
{
    size_t  i;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] < 0x20 || s->data[i] == '"' || s->data[i] == '\\') {
            return 0;
        }
    }

    return 1;
}
