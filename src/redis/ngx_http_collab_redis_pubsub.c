/*
 * Channels of the subscription connection, counted per subscriber.
 *
 * A channel is SUBSCRIBEd while it has subscribers.  Every SUBSCRIBE and
 * UNSUBSCRIBE sent is confirmed by Redis; a channel is "active" once no
 * confirmation is awaited and the last command sent was SUBSCRIBE, and
 * it is forgotten once none is awaited and it has no subscribers.  The
 * hiredis callback is the same for every channel and finds the channel
 * by name, so nothing it holds can dangle.
 */

#include "ngx_http_collab.h"
#include "redis/ngx_http_collab_redis.h"
#include "redis/ngx_http_collab_redis_conn.h"


typedef struct {
    ngx_queue_t                        queue;
    ngx_http_collab_redis_message_pt   handler;  /* NULL: removed */
    void                              *data;
} ngx_http_collab_redis_sub_t;


typedef struct {
    ngx_str_node_t                     sn;       /* the name */
    ngx_queue_t                        all;
    ngx_queue_t                        subs;
    ngx_uint_t                         nsubs;
    ngx_uint_t                         inflight; /* confirmations awaited */
    ngx_uint_t                         dispatching;
    unsigned                           subscribed:1;
    unsigned                           active:1;
    unsigned                           removed:1;
    unsigned                           unsigned_ok:1;  /* hints only */
} ngx_http_collab_redis_channel_t;


static ngx_http_collab_redis_channel_t *ngx_http_collab_redis_channel(
    ngx_str_t *name);
static void ngx_http_collab_redis_received(
    ngx_http_collab_redis_channel_t *ch, u_char *payload, size_t len);
static ngx_int_t ngx_http_collab_redis_send(
    ngx_http_collab_redis_channel_t *ch, ngx_uint_t subscribe);
static void ngx_http_collab_redis_message(redisAsyncContext *ac,
    void *reply, void *privdata);
static void ngx_http_collab_redis_confirmed(
    ngx_http_collab_redis_channel_t *ch);
static void ngx_http_collab_redis_deliver(ngx_http_collab_redis_channel_t *ch,
    u_char *payload, size_t len);
static void ngx_http_collab_redis_forget(ngx_http_collab_redis_channel_t *ch);


static ngx_rbtree_t                     ngx_http_collab_redis_channels;
static ngx_rbtree_node_t                ngx_http_collab_redis_sentinel;
static ngx_queue_t                      ngx_http_collab_redis_all;

/* SUBSCRIBE confirmations awaited on the current connection */
static ngx_uint_t                       ngx_http_collab_redis_pending;
static ngx_uint_t                       ngx_http_collab_redis_resubscribing;

static ngx_http_collab_redis_event_pt   ngx_http_collab_redis_hook;
static void                            *ngx_http_collab_redis_hook_data;


void
ngx_http_collab_redis_pubsub_init(void)
{
    ngx_rbtree_init(&ngx_http_collab_redis_channels,
                    &ngx_http_collab_redis_sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&ngx_http_collab_redis_all);

    ngx_http_collab_redis_pending = 0;
    ngx_http_collab_redis_resubscribing = 0;
    ngx_http_collab_redis_hook = NULL;
}


void
ngx_http_collab_redis_on_resubscribed(ngx_http_collab_redis_event_pt handler,
    void *data)
{
    ngx_http_collab_redis_hook = handler;
    ngx_http_collab_redis_hook_data = data;
}


ngx_int_t
ngx_http_collab_redis_subscribe(ngx_str_t *channel,
    ngx_http_collab_redis_message_pt handler, void *data,
    ngx_uint_t unsigned_ok)
{
    ngx_http_collab_redis_sub_t      *sub;
    ngx_http_collab_redis_channel_t  *ch;

    if (!ngx_http_collab_redis_enabled()) {
        return NGX_DECLINED;
    }

    ch = ngx_http_collab_redis_channel(channel);
    if (ch == NULL) {
        return NGX_ERROR;
    }

    sub = ngx_alloc(sizeof(ngx_http_collab_redis_sub_t),
                    ngx_http_collab_redis_worker.log);
    if (sub == NULL) {
        ngx_http_collab_redis_forget(ch);
        return NGX_ERROR;
    }

    sub->handler = handler;
    sub->data = data;
    ngx_queue_insert_tail(&ch->subs, &sub->queue);
    ch->nsubs++;
    ch->unsigned_ok = unsigned_ok ? 1 : 0;

    if (ch->active) {
        return NGX_OK;
    }

    if (!ch->subscribed) {
        /* when the connection is down, pubsub_up() sends it later */
        (void) ngx_http_collab_redis_send(ch, 1);
    }

    return NGX_AGAIN;
}


void
ngx_http_collab_redis_unsubscribe(ngx_str_t *channel,
    ngx_http_collab_redis_message_pt handler, void *data)
{
    uint32_t                          hash;
    ngx_queue_t                      *q;
    ngx_http_collab_redis_sub_t      *sub;
    ngx_http_collab_redis_channel_t  *ch;

    if (!ngx_http_collab_redis_enabled()) {
        return;
    }

    hash = ngx_crc32_long(channel->data, channel->len);
    ch = (ngx_http_collab_redis_channel_t *)
             ngx_str_rbtree_lookup(&ngx_http_collab_redis_channels, channel,
                                   hash);
    if (ch == NULL) {
        return;
    }

    for (q = ngx_queue_head(&ch->subs);
         q != ngx_queue_sentinel(&ch->subs);
         q = ngx_queue_next(q))
    {
        sub = ngx_queue_data(q, ngx_http_collab_redis_sub_t, queue);

        if (sub->handler == handler && sub->data == data) {
            break;
        }
    }

    if (q == ngx_queue_sentinel(&ch->subs)) {
        return;
    }

    if (ch->dispatching) {
        /* the delivery loop walks this list: unlink after it */
        sub->handler = NULL;
        ch->removed = 1;

    } else {
        ngx_queue_remove(&sub->queue);
        ngx_free(sub);
    }

    if (--ch->nsubs > 0) {
        return;
    }

    if (ch->subscribed) {
        if (ngx_http_collab_redis_send(ch, 0) != NGX_OK) {
            /* the connection is going away, and the subscription too */
            ch->subscribed = 0;
            ch->active = 0;
        }
    }

    ngx_http_collab_redis_forget(ch);
}


void
ngx_http_collab_redis_pubsub_up(void)
{
    ngx_queue_t                      *q;
    ngx_http_collab_redis_channel_t  *ch;

    ngx_http_collab_redis_pending = 0;

    for (q = ngx_queue_head(&ngx_http_collab_redis_all);
         q != ngx_queue_sentinel(&ngx_http_collab_redis_all);
         q = ngx_queue_next(q))
    {
        ch = ngx_queue_data(q, ngx_http_collab_redis_channel_t, all);

        ch->subscribed = 0;
        ch->active = 0;
        ch->inflight = 0;

        if (ch->nsubs) {
            (void) ngx_http_collab_redis_send(ch, 1);
        }
    }

    if (ngx_http_collab_redis_worker.conn[NGX_HTTP_COLLAB_REDIS_SUB].connects
        > 1)
    {
        ngx_http_collab_redis_worker.stats.resubscribes++;
        ngx_http_collab_redis_resubscribing = 1;

        if (ngx_http_collab_redis_pending == 0) {
            ngx_http_collab_redis_resubscribing = 0;

            if (ngx_http_collab_redis_hook) {
                ngx_http_collab_redis_hook(ngx_http_collab_redis_hook_data);
            }
        }
    }
}


void
ngx_http_collab_redis_pubsub_down(void)
{
    ngx_queue_t                      *q, *next;
    ngx_http_collab_redis_channel_t  *ch;

    ngx_http_collab_redis_pending = 0;
    ngx_http_collab_redis_resubscribing = 0;

    for (q = ngx_queue_head(&ngx_http_collab_redis_all);
         q != ngx_queue_sentinel(&ngx_http_collab_redis_all);
         q = next)
    {
        next = ngx_queue_next(q);
        ch = ngx_queue_data(q, ngx_http_collab_redis_channel_t, all);

        ch->subscribed = 0;
        ch->active = 0;
        ch->inflight = 0;

        ngx_http_collab_redis_forget(ch);
    }
}


void
ngx_http_collab_redis_pubsub_exit(void)
{
    ngx_queue_t                      *q;
    ngx_http_collab_redis_sub_t      *sub;
    ngx_http_collab_redis_channel_t  *ch;

    while (!ngx_queue_empty(&ngx_http_collab_redis_all)) {
        q = ngx_queue_head(&ngx_http_collab_redis_all);
        ch = ngx_queue_data(q, ngx_http_collab_redis_channel_t, all);

        while (!ngx_queue_empty(&ch->subs)) {
            q = ngx_queue_head(&ch->subs);
            sub = ngx_queue_data(q, ngx_http_collab_redis_sub_t, queue);
            ngx_queue_remove(q);
            ngx_free(sub);
        }

        ch->nsubs = 0;
        ch->inflight = 0;
        ch->subscribed = 0;
        ch->dispatching = 0;

        ngx_http_collab_redis_forget(ch);
    }
}


static ngx_http_collab_redis_channel_t *
ngx_http_collab_redis_channel(ngx_str_t *name)
{
    u_char                           *p;
    uint32_t                          hash;
    ngx_http_collab_redis_channel_t  *ch;

    hash = ngx_crc32_long(name->data, name->len);

    ch = (ngx_http_collab_redis_channel_t *)
             ngx_str_rbtree_lookup(&ngx_http_collab_redis_channels, name,
                                   hash);
    if (ch) {
        return ch;
    }

    ch = ngx_alloc(sizeof(ngx_http_collab_redis_channel_t) + name->len + 1,
                   ngx_http_collab_redis_worker.log);
    if (ch == NULL) {
        return NULL;
    }

    ngx_memzero(ch, sizeof(ngx_http_collab_redis_channel_t));

    p = (u_char *) (ch + 1);
    ngx_memcpy(p, name->data, name->len);
    p[name->len] = '\0';

    ch->sn.node.key = hash;
    ch->sn.str.data = p;
    ch->sn.str.len = name->len;

    ngx_rbtree_insert(&ngx_http_collab_redis_channels, &ch->sn.node);
    ngx_queue_insert_tail(&ngx_http_collab_redis_all, &ch->all);
    ngx_queue_init(&ch->subs);

    ngx_http_collab_redis_worker.stats.channels++;

    return ch;
}


static ngx_int_t
ngx_http_collab_redis_send(ngx_http_collab_redis_channel_t *ch,
    ngx_uint_t subscribe)
{
    size_t              argvlen[2];
    const char         *argv[2];
    redisAsyncContext  *ac;

    ac = ngx_http_collab_redis_ready(NGX_HTTP_COLLAB_REDIS_SUB);
    if (ac == NULL) {
        return NGX_DECLINED;
    }

    if (subscribe) {
        argv[0] = "SUBSCRIBE";
        argvlen[0] = 9;

    } else {
        argv[0] = "UNSUBSCRIBE";
        argvlen[0] = 11;
    }

    argv[1] = (const char *) ch->sn.str.data;
    argvlen[1] = ch->sn.str.len;

    if (redisAsyncCommandArgv(ac, ngx_http_collab_redis_message, NULL, 2,
                              argv, argvlen)
        != REDIS_OK)
    {
        return NGX_DECLINED;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, ngx_http_collab_redis_worker.log, 0,
                   "collab: redis %s \"%V\"", argv[0], &ch->sn.str);

    ch->subscribed = subscribe ? 1 : 0;
    ch->active = 0;
    ch->inflight++;

    if (subscribe) {
        ngx_http_collab_redis_pending++;
    }

    return NGX_OK;
}


/* every reply of the subscription connection: confirmations and messages */
static void
ngx_http_collab_redis_message(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    uint32_t                          hash;
    ngx_str_t                         name;
    redisReply                       *r = reply;
    redisReply                      **e;
    ngx_http_collab_redis_channel_t  *ch;

    /* NULL: the connection is going away; pubsub_down() follows */
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 3) {
        return;
    }

    e = r->element;

    if (e[0]->type != REDIS_REPLY_STRING || e[1]->type != REDIS_REPLY_STRING)
    {
        return;
    }

    name.data = (u_char *) e[1]->str;
    name.len = e[1]->len;
    hash = ngx_crc32_long(name.data, name.len);

    ch = (ngx_http_collab_redis_channel_t *)
             ngx_str_rbtree_lookup(&ngx_http_collab_redis_channels, &name,
                                   hash);

    if (e[0]->len == 7 && ngx_strncmp(e[0]->str, "message", 7) == 0) {
        ngx_http_collab_redis_worker.stats.messages++;

        if (ch && ch->nsubs && e[2]->type == REDIS_REPLY_STRING) {
            ngx_http_collab_redis_received(ch, (u_char *) e[2]->str,
                                           e[2]->len);
        }

        return;
    }

    if (e[0]->len == 9 && ngx_strncmp(e[0]->str, "subscribe", 9) == 0) {

        if (ngx_http_collab_redis_pending) {
            ngx_http_collab_redis_pending--;
        }

        if (ch) {
            ngx_http_collab_redis_confirmed(ch);
        }

        if (ngx_http_collab_redis_resubscribing
            && ngx_http_collab_redis_pending == 0)
        {
            ngx_http_collab_redis_resubscribing = 0;

            ngx_log_debug0(NGX_LOG_DEBUG_EVENT,
                           ngx_http_collab_redis_worker.log, 0,
                           "collab: redis channels resubscribed");

            if (ngx_http_collab_redis_hook) {
                ngx_http_collab_redis_hook(ngx_http_collab_redis_hook_data);
            }
        }

        return;
    }

    if (e[0]->len == 11 && ngx_strncmp(e[0]->str, "unsubscribe", 11) == 0) {
        if (ch) {
            ngx_http_collab_redis_confirmed(ch);
        }
    }
}


/* a message: delivered when signed by this deployment, else dropped */
static void
ngx_http_collab_redis_received(ngx_http_collab_redis_channel_t *ch,
    u_char *payload, size_t len)
{
    static ngx_msec_t                logged;

    ngx_http_collab_redis_worker_t  *w;

    w = &ngx_http_collab_redis_worker;

    if (ngx_http_collab_redis_verify(&ch->sn.str, &payload, &len) == NGX_OK
        || ch->unsigned_ok)
    {
        ngx_http_collab_redis_deliver(ch, payload, len);
        return;
    }

    w->stats.forged++;

    /* at most once a second: a flood must not fill the log */
    if (logged == 0 || ngx_current_msec - logged >= 1000) {
        logged = ngx_current_msec;
        ngx_log_error(NGX_LOG_WARN, w->log, 0,
                      "collab: dropped a message on \"%V\" without this "
                      "deployment's signature (%uL so far; all hosts need "
                      "the same collab_src_secret)", &ch->sn.str,
                      w->stats.forged);
    }
}


static void
ngx_http_collab_redis_confirmed(ngx_http_collab_redis_channel_t *ch)
{
    if (ch->inflight) {
        ch->inflight--;
    }

    if (ch->inflight) {
        return;
    }

    if (ch->subscribed && !ch->active) {
        ch->active = 1;

        /* tell the subscribers, who may now catch up on what they missed */
        ngx_http_collab_redis_deliver(ch, NULL, 0);
        return;
    }

    ngx_http_collab_redis_forget(ch);
}


static void
ngx_http_collab_redis_deliver(ngx_http_collab_redis_channel_t *ch,
    u_char *payload, size_t len)
{
    ngx_queue_t                  *q, *next;
    ngx_http_collab_redis_sub_t  *sub;

    ch->dispatching++;

    /* subscribers added meanwhile go to the tail and are called too */
    for (q = ngx_queue_head(&ch->subs);
         q != ngx_queue_sentinel(&ch->subs);
         q = ngx_queue_next(q))
    {
        sub = ngx_queue_data(q, ngx_http_collab_redis_sub_t, queue);

        if (sub->handler) {
            sub->handler(&ch->sn.str, payload, len, sub->data);
        }
    }

    if (--ch->dispatching) {
        return;
    }

    if (ch->removed) {
        ch->removed = 0;

        for (q = ngx_queue_head(&ch->subs);
             q != ngx_queue_sentinel(&ch->subs);
             q = next)
        {
            next = ngx_queue_next(q);
            sub = ngx_queue_data(q, ngx_http_collab_redis_sub_t, queue);

            if (sub->handler == NULL) {
                ngx_queue_remove(q);
                ngx_free(sub);
            }
        }
    }

    ngx_http_collab_redis_forget(ch);
}


/* frees the channel if nothing refers to it any more */
static void
ngx_http_collab_redis_forget(ngx_http_collab_redis_channel_t *ch)
{
    if (ch->nsubs || ch->inflight || ch->dispatching || ch->subscribed) {
        return;
    }

    if (!ngx_queue_empty(&ch->subs)) {
        return;
    }

    ngx_rbtree_delete(&ngx_http_collab_redis_channels, &ch->sn.node);
    ngx_queue_remove(&ch->all);
    ngx_http_collab_redis_worker.stats.channels--;

    ngx_free(ch);
}
