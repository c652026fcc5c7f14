/*
 * Fan-out: the document channels of the worker's SUBSCRIBE connection.
 *
 * The payload published for an op is "O<src len> <src>" followed by the
 * op message the clients get ({"a":"op","c","d","v","src","seq",
 * "op"|"create"|"del"}, where "src" is the public form): a receiver
 * decodes it to apply the op and queues the very same bytes to its local
 * subscribers, so nothing is encoded twice; the real src in front is for
 * the ring (dedup) and for the author's own sockets.  Redis is private to
 * the cluster.
 */

#include "ngx_http_collab.h"
#include "store/ngx_http_collab_store.h"
#include "redis/ngx_http_collab_redis.h"
#include "engine/collab_ot_json.h"
#include "doc/ngx_http_collab_doc.h"
#include "doc/ngx_http_collab_commit.h"
#include "doc/ngx_http_collab_fanout.h"
#include "doc/ngx_http_collab_doc_resync.h"


#define NGX_HTTP_COLLAB_FANOUT_OP         'O'


/* how often the heads of subscribed documents are compared with the DB */
#define NGX_HTTP_COLLAB_HEAD_CHECK       2000
#define NGX_HTTP_COLLAB_HEAD_CHECK_MAX   512


typedef struct {
    ngx_uint_t                 n;
    ngx_http_collab_doc_t     *docs[1];
} ngx_http_collab_heads_t;


static void ngx_http_collab_fanout_message(ngx_str_t *channel,
    u_char *payload, size_t len, void *data);
static void ngx_http_collab_fanout_active(ngx_http_collab_doc_t *doc);
static void ngx_http_collab_fanout_resubscribed(void *data);
static void ngx_http_collab_fanout_check_handler(ngx_event_t *ev);
static ngx_uint_t ngx_http_collab_fanout_followed(ngx_http_collab_doc_t *doc);
static void ngx_http_collab_fanout_heads(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res);


static ngx_event_t  ngx_http_collab_fanout_timer;
static ngx_uint_t   ngx_http_collab_fanout_checking;

/* where a published payload is put together */
static u_char      *ngx_http_collab_fanout_buf;
static size_t       ngx_http_collab_fanout_buf_size;


ngx_int_t
ngx_http_collab_fanout_init_process(ngx_cycle_t *cycle)
{
    ngx_event_t  *ev;

    ngx_http_collab_fanout_checking = 0;

    if (!ngx_http_collab_redis_enabled()) {
        return NGX_OK;
    }

    ngx_http_collab_redis_on_resubscribed(ngx_http_collab_fanout_resubscribed,
                                          NULL);

    ev = &ngx_http_collab_fanout_timer;
    ngx_memzero(ev, sizeof(ngx_event_t));

    /* debug logging reads ev->data as a connection */
    ev->handler = ngx_http_collab_fanout_check_handler;
    ev->data = ev;
    ev->log = cycle->log;
    ev->cancelable = 1;

    ngx_add_timer(ev, NGX_HTTP_COLLAB_HEAD_CHECK);

    return NGX_OK;
}


void
ngx_http_collab_fanout_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_http_collab_fanout_timer.timer_set) {
        ngx_del_timer(&ngx_http_collab_fanout_timer);
    }

    if (ngx_http_collab_fanout_buf) {
        ngx_free(ngx_http_collab_fanout_buf);
        ngx_http_collab_fanout_buf = NULL;
        ngx_http_collab_fanout_buf_size = 0;
    }
}


ngx_int_t
ngx_http_collab_fanout_init(ngx_http_collab_doc_t *doc)
{
    if (!ngx_http_collab_redis_enabled()) {
        return NGX_OK;
    }

    return ngx_http_collab_redis_name(NULL, NGX_HTTP_COLLAB_REDIS_DOC,
                                      &doc->name, &doc->channel);
}


void
ngx_http_collab_fanout_free(ngx_http_collab_doc_t *doc)
{
    if (doc->channel_on) {
        ngx_http_collab_fanout_channel_off(doc);
    }

    if (doc->channel.data) {
        ngx_free(doc->channel.data);
        ngx_str_null(&doc->channel);
    }
}


void
ngx_http_collab_fanout_channel_on(ngx_http_collab_doc_t *doc)
{
    ngx_int_t  rc;

    if (doc->channel.data == NULL || doc->channel_on) {
        return;
    }

    rc = ngx_http_collab_redis_subscribe(&doc->channel,
                                         ngx_http_collab_fanout_message, doc,
                                         0);

    switch (rc) {

    case NGX_OK:
        doc->channel_on = 1;
        ngx_http_collab_fanout_active(doc);
        break;

    case NGX_AGAIN:
        /* the "active" notification catches up */
        doc->channel_on = 1;
        break;

    case NGX_DECLINED:
        break;

    default:
        ngx_log_error(NGX_LOG_ERR, ngx_http_collab_doc_worker.log, 0,
                      "collab: cannot subscribe \"%V\"", &doc->channel);
        break;
    }
}


void
ngx_http_collab_fanout_channel_off(ngx_http_collab_doc_t *doc)
{
    if (!doc->channel_on) {
        return;
    }

    doc->channel_on = 0;
    doc->channel_active = 0;

    ngx_http_collab_redis_unsubscribe(&doc->channel,
                                      ngx_http_collab_fanout_message, doc);
}


ngx_int_t
ngx_http_collab_fanout_publish(ngx_http_collab_doc_t *doc, ngx_str_t *src,
    u_char *payload, size_t len, ngx_http_collab_redis_reply_pt handler,
    void *data)
{
    u_char      *p;
    size_t       size;

    if (doc->channel.data == NULL) {
        return NGX_DECLINED;
    }

    size = 1 + NGX_SIZE_T_LEN + 1 + src->len + len;

    if (size > ngx_http_collab_fanout_buf_size) {
        p = ngx_alloc(ngx_max(size, 4096), ngx_http_collab_doc_worker.log);
        if (p == NULL) {
            return NGX_DECLINED;
        }

        if (ngx_http_collab_fanout_buf) {
            ngx_free(ngx_http_collab_fanout_buf);
        }

        ngx_http_collab_fanout_buf = p;
        ngx_http_collab_fanout_buf_size = ngx_max(size, 4096);
    }

    /* hiredis copies the arguments: the buffer is free again on return */
    p = ngx_sprintf(ngx_http_collab_fanout_buf, "%c%uz %V",
                    NGX_HTTP_COLLAB_FANOUT_OP, src->len, src);
    p = ngx_cpymem(p, payload, len);

    len = p - ngx_http_collab_fanout_buf;
    payload = ngx_http_collab_fanout_buf;

    if (handler == NULL) {
        (void) ngx_http_collab_redis_publish(&doc->channel, payload, len);
        return NGX_DECLINED;
    }

    return ngx_http_collab_redis_publish_cb(&doc->channel, payload, len,
                                            handler, data);
}


/*
 * The channel delivers from now on: what came before is read from the
 * database, except for a copy just taken from the cache (the head check
 * verifies it, see ngx_http_collab_doc.c), so that a cold read costs
 * PostgreSQL nothing.
 */
static void
ngx_http_collab_fanout_active(ngx_http_collab_doc_t *doc)
{
    doc->channel_active = 1;

    if (doc->cached) {
        doc->cached = 0;
        return;
    }

    ngx_http_collab_doc_catch_up(doc);
}


static void
ngx_http_collab_fanout_message(ngx_str_t *channel, u_char *payload,
    size_t len, void *data)
{
    ngx_http_collab_doc_t  *doc = data;

    u_char                        *p, *last;
    size_t                         slen;
    uint64_t                       v;
    ngx_str_t                      src;
    ngx_uint_t                     kind;
    collab_op_t                    op;
    collab_msg_t                  *m;
    collab_msg_err_t               err;
    ngx_http_collab_frame_t       *f;
    ngx_http_collab_doc_worker_t  *w;

    if (payload == NULL) {
        /* (re)subscribed: whatever was published before may be missed */
        ngx_http_collab_fanout_active(doc);
        return;
    }

    if (len > 1 && payload[0] != NGX_HTTP_COLLAB_FANOUT_OP) {
        /* a lock nudge of another worker */
        ngx_http_collab_commit_nudge(doc, payload, len);
        return;
    }

    w = &ngx_http_collab_doc_worker;
    m = &w->msg;

    /* "O<src len> <src><op message>" */
    last = payload + len;
    p = payload + 1;
    slen = 0;

    while (p < last && *p >= '0' && *p <= '9' && slen < 256) {
        slen = slen * 10 + (*p++ - '0');
    }

    if (p == payload + 1 || p == last || *p++ != ' '
        || (size_t) (last - p) < slen)
    {
        ngx_log_error(NGX_LOG_WARN, w->log, 0,
                      "collab: ignoring a malformed message on \"%V\"",
                      channel);
        return;
    }

    src.data = p;
    src.len = slen;

    payload = p + slen;
    len = last - payload;

    if (collab_msg_decode((const char *) payload, len, m, &err)
        != COLLAB_MSG_OK
        || m->action != COLLAB_MSG_A_OP || !m->has_v)
    {
        ngx_log_error(NGX_LOG_WARN, w->log, 0,
                      "collab: ignoring a malformed message on \"%V\"",
                      channel);
        return;
    }

    v = m->v;

    if (v < doc->v) {
        /* our own op coming back, one a catch-up already read, or not */
        ngx_http_collab_doc_resync_heard(doc, v, &src, m->seq);
        return;
    }

    if (doc->seen_v < v + 1) {
        doc->seen_v = v + 1;
    }

    if (v > doc->v || doc->state != NGX_HTTP_COLLAB_DOC_READY
        || doc->catching_up)
    {
        /* a gap: the versions in between come from the database */
        ngx_http_collab_doc_catch_up(doc);
        return;
    }

    collab_op_init(&op);

    switch (m->kind) {

    case COLLAB_MSG_OP_CREATE:
        kind = NGX_HTTP_COLLAB_DOC_CREATE;
        break;

    case COLLAB_MSG_OP_DEL:
        kind = NGX_HTTP_COLLAB_DOC_DEL;
        break;

    default:
        kind = NGX_HTTP_COLLAB_DOC_OP;

        if (collab_op_decode(&op, m->op) != COLLAB_OT_OK) {
            collab_op_free(&op);
            ngx_http_collab_doc_catch_up(doc);
            return;
        }

        break;
    }

    f = ngx_http_collab_frame_text(payload, len, w->log);
    if (f == NULL) {
        collab_op_free(&op);
        return;
    }

    (void) ngx_http_collab_doc_advance(doc, kind,
                                       kind == NGX_HTTP_COLLAB_DOC_OP
                                       ? &op : NULL,
                                       m->create_data.data,
                                       m->create_data.len, &src, m->seq, f,
                                       NULL, NULL);

    ngx_http_collab_frame_release(f);
    collab_op_free(&op);
}


static void
ngx_http_collab_fanout_resubscribed(void *data)
{
    ngx_queue_t            *q;
    ngx_http_collab_doc_t  *doc;

    for (q = ngx_queue_head(&ngx_http_collab_doc_worker.all);
         q != ngx_queue_sentinel(&ngx_http_collab_doc_worker.all);
         q = ngx_queue_next(q))
    {
        doc = ngx_queue_data(q, ngx_http_collab_doc_t, all);

        if (doc->channel_on) {
            ngx_http_collab_doc_catch_up(doc);
        }
    }
}


/* a lost last message makes no gap: compare heads now and then */
/*
 * A loaded document kept current by its channel: subscribers rely on it,
 * and so do REST reads of the latest version (which keep the channel on).
 */
static ngx_uint_t
ngx_http_collab_fanout_followed(ngx_http_collab_doc_t *doc)
{
    return (doc->nsubs || doc->channel_on)
           && doc->state == NGX_HTTP_COLLAB_DOC_READY;
}


static void
ngx_http_collab_fanout_check_handler(ngx_event_t *ev)
{
    ngx_uint_t                n;
    ngx_str_t                *cs, *ds;
    ngx_queue_t              *q;
    ngx_http_collab_doc_t    *doc;
    ngx_http_collab_heads_t  *h;

    if (ngx_http_collab_doc_worker.exiting || ngx_exiting) {
        return;
    }

    ngx_add_timer(ev, NGX_HTTP_COLLAB_HEAD_CHECK);

    if (ngx_http_collab_fanout_checking) {
        return;
    }

    n = 0;

    for (q = ngx_queue_head(&ngx_http_collab_doc_worker.all);
         q != ngx_queue_sentinel(&ngx_http_collab_doc_worker.all);
         q = ngx_queue_next(q))
    {
        doc = ngx_queue_data(q, ngx_http_collab_doc_t, all);

        if (ngx_http_collab_fanout_followed(doc)) {
            n++;
        }
    }

    if (n == 0) {
        return;
    }

    if (n > NGX_HTTP_COLLAB_HEAD_CHECK_MAX) {
        n = NGX_HTTP_COLLAB_HEAD_CHECK_MAX;
    }

    h = ngx_alloc(sizeof(ngx_http_collab_heads_t)
                  + n * (sizeof(ngx_http_collab_doc_t *)
                         + 2 * sizeof(ngx_str_t)),
                  ev->log);
    if (h == NULL) {
        return;
    }

    cs = (ngx_str_t *) ((u_char *) h + sizeof(ngx_http_collab_heads_t)
                        + n * sizeof(ngx_http_collab_doc_t *));
    ds = cs + n;

    h->n = 0;

    for (q = ngx_queue_head(&ngx_http_collab_doc_worker.all);
         q != ngx_queue_sentinel(&ngx_http_collab_doc_worker.all)
         && h->n < n;
         q = ngx_queue_next(q))
    {
        doc = ngx_queue_data(q, ngx_http_collab_doc_t, all);

        if (ngx_http_collab_fanout_followed(doc)) {
            cs[h->n] = doc->c;
            ds[h->n] = doc->d;
            h->docs[h->n++] = doc;
        }
    }

    if (ngx_http_collab_store_heads(cs, ds, h->n,
                                    ngx_http_collab_fanout_heads, h)
        != NGX_OK)
    {
        ngx_free(h);
        return;
    }

    for (n = 0; n < h->n; n++) {
        ngx_http_collab_doc_ref(h->docs[n]);
    }

    ngx_http_collab_fanout_checking = 1;
}


static void
ngx_http_collab_fanout_heads(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res)
{
    ngx_http_collab_heads_t  *h = data;

    ngx_uint_t              i;
    ngx_http_collab_doc_t  *doc;

    ngx_http_collab_fanout_checking = 0;

    for (i = 0; i < h->n; i++) {
        doc = h->docs[i];

        /*
         * Behind: a message was lost.  Ahead: the copy has an op no commit
         * made, or it committed since the heads were read; the catch-up
         * tells (ngx_http_collab_doc_resync.c).
         */

        if (rc == NGX_HTTP_COLLAB_STORE_OK && i < res->nheads && !doc->gone
            && res->heads[i] != (int64_t) doc->v)
        {
            ngx_log_debug3(NGX_LOG_DEBUG_HTTP,
                           ngx_http_collab_doc_worker.log, 0,
                           "collab fanout: \"%V\" at v%uL, the database "
                           "at v%L", &doc->name, doc->v, res->heads[i]);

            ngx_http_collab_doc_catch_up(doc);
        }

        ngx_http_collab_doc_unref(doc);
    }

    ngx_http_collab_store_result_free(res);
    ngx_free(h);
}
