/*
 * The per-worker document registry: lookup, loading (concurrent requests
 * wait on one load), the ring of committed ops, delivery to subscribers,
 * catch-up from PostgreSQL and idle eviction.
 */

#include "ngx_http_collab.h"
#include "store/ngx_http_collab_store.h"
#include "engine/collab_ot_json.h"
#include "doc/ngx_http_collab_doc.h"
#include "doc/ngx_http_collab_commit.h"
#include "doc/ngx_http_collab_fanout.h"
#include "doc/ngx_http_collab_doc_resync.h"
#include "status/ngx_http_collab_status.h"
#include "cache/ngx_http_collab_cache.h"
#include "protocol/ngx_http_collab_src.h"
#include "protocol/ngx_http_collab_session.h"


/*
 * Ring of recent ops per document: grows by doubling up to the maximum
 * while it holds less than RING_BYTES (estimated: entry, src, frame and
 * parsed op), and keeps at least RING_MIN ops whatever their size.  Older
 * ops come from PostgreSQL.
 */
#define NGX_HTTP_COLLAB_DOC_RING_MIN   16
#define NGX_HTTP_COLLAB_DOC_RING_MAX   1024
#define NGX_HTTP_COLLAB_DOC_RING_BYTES (128 * 1024)

/* ops read per catch-up query */
#define NGX_HTTP_COLLAB_DOC_CATCHUP    1000

/* an idle document stays this long */
#define NGX_HTTP_COLLAB_DOC_IDLE       30000


static void ngx_http_collab_doc_load(ngx_http_collab_doc_t *doc,
    ngx_uint_t cache);
static void ngx_http_collab_doc_cache_loaded(void *data, ngx_int_t rc,
    uint64_t v, u_char *text, size_t len);
static void ngx_http_collab_doc_loaded_ready(ngx_http_collab_doc_t *doc);
static void ngx_http_collab_doc_loaded(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res);
static ngx_int_t ngx_http_collab_doc_apply_stored(ngx_http_collab_doc_t *doc,
    ngx_http_collab_store_op_t *so);
static void ngx_http_collab_doc_caught_up(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res);
static void ngx_http_collab_doc_process(ngx_http_collab_doc_t *doc);
static void ngx_http_collab_doc_req_ops(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res);
static void ngx_http_collab_doc_fail_waiters(ngx_http_collab_doc_t *doc,
    ngx_int_t rc);
static void ngx_http_collab_doc_reset(ngx_http_collab_doc_t *doc);
static void ngx_http_collab_doc_status(ngx_http_collab_status_t *st);
static void ngx_http_collab_doc_ring_drop(ngx_http_collab_doc_t *doc);
static size_t ngx_http_collab_doc_op_cost(ngx_http_collab_doc_op_t *e);
static void ngx_http_collab_doc_ring_push(ngx_http_collab_doc_t *doc,
    ngx_http_collab_doc_op_t *e);
static void ngx_http_collab_doc_op_free(ngx_http_collab_doc_op_t *e);
static void ngx_http_collab_doc_evict_handler(ngx_event_t *ev);
static void ngx_http_collab_doc_load_retry(ngx_event_t *ev);
static ngx_uint_t ngx_http_collab_doc_load_wait(ngx_http_collab_doc_t *doc);
static ngx_uint_t ngx_http_collab_doc_evictable(ngx_http_collab_doc_t *doc);
static void ngx_http_collab_doc_free(ngx_http_collab_doc_t *doc);
static int ngx_http_collab_doc_emit_raw(yajl_gen g, void *ctx);


ngx_http_collab_doc_worker_t  ngx_http_collab_doc_worker;


ngx_int_t
ngx_http_collab_doc_init_process(ngx_cycle_t *cycle,
    ngx_http_collab_main_conf_t *cmcf)
{
    ngx_http_collab_doc_worker_t  *w;

    w = &ngx_http_collab_doc_worker;

    ngx_memzero(w, sizeof(ngx_http_collab_doc_worker_t));

    ngx_rbtree_init(&w->tree, &w->sentinel, ngx_str_rbtree_insert_value);
    ngx_queue_init(&w->all);

    w->cmcf = cmcf;
    w->log = cycle->log;

    if (collab_msg_enc_init(&w->enc) != COLLAB_MSG_OK) {
        return NGX_ERROR;
    }

    collab_msg_init(&w->msg);
    collab_msg_tree_init(&w->tree_json);

    if (ngx_http_collab_commit_init_process() != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_collab_status_add_section("docs",
                                           ngx_http_collab_doc_status)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_collab_fanout_init_process(cycle);
}


/* the documents this worker holds: what they cost, who follows them */
static void
ngx_http_collab_doc_status(ngx_http_collab_status_t *st)
{
    size_t                  bytes;
    ngx_uint_t              ops, subs, waiting;
    ngx_queue_t            *q;
    ngx_http_collab_doc_t  *doc;

    bytes = 0;
    ops = 0;
    subs = 0;
    waiting = 0;

    for (q = ngx_queue_head(&ngx_http_collab_doc_worker.all);
         q != ngx_queue_sentinel(&ngx_http_collab_doc_worker.all);
         q = ngx_queue_next(q))
    {
        doc = ngx_queue_data(q, ngx_http_collab_doc_t, all);

        bytes += doc->ring_bytes;
        ops += doc->ring_n;
        subs += doc->nsubs;
        waiting += doc->nsubmits;
    }

    ngx_http_collab_status_gauge(st, "loaded",
                                 ngx_http_collab_doc_worker.ndocs);
    ngx_http_collab_status_gauge(st, "subscribers", subs);
    ngx_http_collab_status_gauge(st, "ops_waiting", waiting);
    ngx_http_collab_status_gauge(st, "ring_ops", ops);
    ngx_http_collab_status_gauge(st, "ring_bytes", bytes);
}


void
ngx_http_collab_doc_exit_process(ngx_cycle_t *cycle)
{
    ngx_queue_t                   *q;
    ngx_http_collab_doc_t         *doc;
    ngx_http_collab_doc_worker_t  *w;

    w = &ngx_http_collab_doc_worker;

    w->exiting = 1;

    ngx_http_collab_fanout_exit_process(cycle);
    ngx_http_collab_commit_exit_process();

    while (!ngx_queue_empty(&w->all)) {
        q = ngx_queue_head(&w->all);
        doc = ngx_queue_data(q, ngx_http_collab_doc_t, all);
        ngx_http_collab_doc_free(doc);
    }

    collab_msg_enc_free(&w->enc);
    collab_msg_free(&w->msg);
    collab_msg_tree_free(&w->tree_json);
    collab_text_pool_free();
}


ngx_http_collab_doc_t *
ngx_http_collab_doc_get(ngx_str_t *c, ngx_str_t *d)
{
    u_char                        *p;
    size_t                         size;
    uint32_t                       hash;
    ngx_str_t                      name;
    ngx_http_collab_doc_t         *doc;
    ngx_http_collab_doc_worker_t  *w;
    u_char                         buf[NGX_INT_T_LEN + 2 + 1024];

    w = &ngx_http_collab_doc_worker;

    if (c->len + d->len + NGX_INT_T_LEN + 2 > sizeof(buf)) {
        return NULL;
    }

    /* the length prefix keeps "a/b" + "c" apart from "a" + "b/c" */
    p = ngx_sprintf(buf, "%uz:%V/%V", c->len, c, d);
    name.data = buf;
    name.len = p - buf;

    hash = ngx_crc32_long(name.data, name.len);

    doc = (ngx_http_collab_doc_t *) ngx_str_rbtree_lookup(&w->tree, &name,
                                                          hash);
    if (doc) {
        if (doc->evict.timer_set) {
            ngx_del_timer(&doc->evict);
        }

        if (doc->state == NGX_HTTP_COLLAB_DOC_LOADING && !doc->loading
            && !doc->load_retry.timer_set)
        {
            /* the last load failed: this request tries again */
            ngx_http_collab_doc_load(doc, 1);
        }

        return doc;
    }

    size = sizeof(ngx_http_collab_doc_t) + c->len + d->len + name.len + 3;

    doc = ngx_alloc(size, w->log);
    if (doc == NULL) {
        return NULL;
    }

    ngx_memzero(doc, sizeof(ngx_http_collab_doc_t));

    p = (u_char *) (doc + 1);

    /* an empty name part may have a NULL data: no memcpy() from it */

    doc->c.data = p;
    doc->c.len = c->len;

    if (c->len) {
        p = ngx_cpymem(p, c->data, c->len);
    }

    *p++ = '\0';

    doc->d.data = p;
    doc->d.len = d->len;

    if (d->len) {
        p = ngx_cpymem(p, d->data, d->len);
    }

    *p++ = '\0';

    doc->name.data = p;
    doc->name.len = name.len;
    p = ngx_cpymem(p, name.data, name.len);
    *p = '\0';

    doc->sn.node.key = hash;
    doc->sn.str = doc->name;

    ngx_queue_init(&doc->subs);
    ngx_queue_init(&doc->waiters);
    ngx_queue_init(&doc->submits);
    ngx_queue_init(&doc->batch);
    ngx_queue_init(&doc->forwarded);

    doc->evict.handler = ngx_http_collab_doc_evict_handler;
    doc->evict.data = doc;
    doc->evict.log = w->log;
    doc->evict.cancelable = 1;

    doc->load_retry.handler = ngx_http_collab_doc_load_retry;
    doc->load_retry.data = doc;
    doc->load_retry.log = w->log;
    doc->load_retry.cancelable = 1;

    if (ngx_http_collab_commit_init(doc) != NGX_OK
        || ngx_http_collab_fanout_init(doc) != NGX_OK)
    {
        ngx_http_collab_commit_free(doc);
        ngx_http_collab_fanout_free(doc);
        ngx_free(doc);
        return NULL;
    }

    ngx_rbtree_insert(&w->tree, &doc->sn.node);
    ngx_queue_insert_tail(&w->all, &doc->all);
    w->ndocs++;

    ngx_http_collab_doc_load(doc, 1);

    return doc;
}


void
ngx_http_collab_doc_ref(ngx_http_collab_doc_t *doc)
{
    doc->refs++;
}


void
ngx_http_collab_doc_unref(ngx_http_collab_doc_t *doc)
{
    doc->refs--;

    if (doc->gone) {
        if (doc->refs == 0) {
            ngx_free(doc);
        }

        return;
    }

    ngx_http_collab_doc_idle(doc);
}


ngx_int_t
ngx_http_collab_doc_back(ngx_http_collab_doc_t *doc)
{
    if (doc->gone) {
        ngx_http_collab_doc_unref(doc);
        return NGX_DECLINED;
    }

    doc->refs--;

    return NGX_OK;
}


void
ngx_http_collab_doc_wait(ngx_http_collab_doc_t *doc,
    ngx_http_collab_doc_req_t *req)
{
    req->doc = doc;
    req->queued = 1;
    req->queued_at = ngx_current_msec;
    doc->refs++;

    ngx_queue_insert_tail(&doc->waiters, &req->queue);

    if (doc->state == NGX_HTTP_COLLAB_DOC_LOADING && !doc->loading
        && !doc->load_retry.timer_set)
    {
        /* no load in flight (it failed): start one, or fail at once */
        ngx_http_collab_doc_load(doc, 1);
        return;
    }

    ngx_http_collab_doc_process(doc);
}


void
ngx_http_collab_doc_cancel(ngx_http_collab_doc_req_t *req)
{
    ngx_http_collab_doc_t  *doc;

    if (!req->queued) {
        return;
    }

    doc = req->doc;

    req->queued = 0;
    ngx_queue_remove(&req->queue);

    ngx_http_collab_doc_unref(doc);
}


ngx_int_t
ngx_http_collab_doc_snapshot(ngx_http_collab_doc_t *doc,
    collab_msg_snapshot_t *snap, u_char **buf)
{
    size_t   len;
    u_char  *p;

    *buf = NULL;

    ngx_memzero(snap, sizeof(collab_msg_snapshot_t));

    snap->v = doc->v;

    if (!doc->exists) {
        return NGX_OK;
    }

    snap->exists = 1;

    len = collab_text_bytes(doc->text);

    p = ngx_alloc(len + 1, ngx_http_collab_doc_worker.log);
    if (p == NULL) {
        return NGX_ERROR;
    }

    collab_text_copy(doc->text, (char *) p);
    p[len] = '\0';

    snap->data = (const char *) p;
    snap->len = len;
    *buf = p;

    return NGX_OK;
}


void
ngx_http_collab_doc_subscribe(ngx_http_collab_doc_t *doc,
    ngx_http_collab_doc_sub_t *sub, ngx_http_collab_ws_t *ws)
{
    sub->doc = doc;
    sub->ws = ws;

    ngx_queue_insert_tail(&doc->subs, &sub->dq);
    doc->refs++;

    if (doc->nsubs++ == 0) {
        ngx_http_collab_fanout_channel_on(doc);
    }
}


void
ngx_http_collab_doc_unsubscribe(ngx_http_collab_doc_sub_t *sub)
{
    ngx_http_collab_doc_t  *doc;

    doc = sub->doc;

    ngx_queue_remove(&sub->dq);

    /* a contended document keeps its channel for the lock nudges */
    if (--doc->nsubs == 0 && !doc->contended) {
        ngx_http_collab_fanout_channel_off(doc);
    }

    ngx_http_collab_doc_unref(doc);
}


ngx_http_collab_doc_op_t *
ngx_http_collab_doc_ring_get(ngx_http_collab_doc_t *doc, uint64_t v)
{
    uint64_t  first;

    first = doc->v - doc->ring_n;

    if (v < first || v >= doc->v) {
        return NULL;
    }

    return &doc->ring[(doc->ring_head + (v - first)) % doc->ring_cap];
}


ngx_int_t
ngx_http_collab_doc_advance(ngx_http_collab_doc_t *doc, ngx_uint_t kind,
    collab_op_t *op, const char *data, size_t len, ngx_str_t *src,
    uint64_t seq, ngx_http_collab_frame_t *frame,
    ngx_http_collab_ws_t *acked, ngx_http_collab_frame_t *ack)
{
    int                         rc;
    uint64_t                    before;
    ngx_int_t                   delivered;
    ngx_queue_t                *q, *next;
    collab_text_t              *t;
    ngx_http_collab_doc_op_t    e;
    ngx_http_collab_submit_t   *fs;
    ngx_http_collab_doc_sub_t  *sub;

    fs = NULL;
    before = doc->v;

    if (acked == NULL && doc->nforwarded && src) {
        /* one of ours, committed by the lock holder: its ack instead */
        fs = ngx_http_collab_commit_forwarded(doc, src, seq, &ack);

        if (fs && ack) {
            acked = fs->ws;
        }
    }

    switch (kind) {

    case NGX_HTTP_COLLAB_DOC_CREATE:
        rc = collab_text_create(&t, data, len);
        if (rc != COLLAB_OT_OK) {
            goto failed;
        }

        if (doc->text) {
            collab_text_free(doc->text);
        }

        doc->text = t;
        doc->exists = 1;
        doc->deleted = 0;
        break;

    case NGX_HTTP_COLLAB_DOC_DEL:
        if (doc->text) {
            collab_text_free(doc->text);
            doc->text = NULL;
        }

        doc->exists = 0;
        doc->deleted = 1;
        break;

    default:
        if (!doc->exists) {
            rc = COLLAB_OT_ERR_TOO_LONG;
            goto failed;
        }

        rc = collab_text_apply(doc->text, op);
        if (rc != COLLAB_OT_OK) {
            goto failed;
        }

        break;
    }

    /* anything but our own edit makes the working copy stale */
    if ((!doc->own_apply || kind != NGX_HTTP_COLLAB_DOC_OP) && doc->work) {
        collab_text_free(doc->work);
        doc->work = NULL;
    }

    ngx_memzero(&e, sizeof(ngx_http_collab_doc_op_t));

    e.v = doc->v;
    e.seq = seq;
    e.kind = kind;
    e.frame = frame;

    if (op) {
        e.op = *op;
        collab_op_init(op);
    }

    if (src && src->len) {
        e.src.data = ngx_alloc(src->len, ngx_http_collab_doc_worker.log);
        if (e.src.data) {
            ngx_memcpy(e.src.data, src->data, src->len);
            e.src.len = src->len;
        }
    }

    if (frame) {
        ngx_http_collab_frame_retain(frame);
    }

    ngx_http_collab_doc_ring_push(doc, &e);

    doc->v++;

    if (doc->seen_v < doc->v) {
        doc->seen_v = doc->v;
    }

    delivered = NGX_OK;

    /*
     * The same buffer to every subscriber, in version order; a socket
     * that fails here may close at once and unlink only its own sub.
     */

    for (q = ngx_queue_head(&doc->subs);
         q != ngx_queue_sentinel(&doc->subs);
         q = next)
    {
        next = ngx_queue_next(q);
        sub = ngx_queue_data(q, ngx_http_collab_doc_sub_t, dq);

        if (acked && sub->ws == acked) {
            delivered = NGX_DONE;
            (void) ngx_http_collab_ws_send(sub->ws, ack);
            continue;
        }

        if (frame) {
            (void) ngx_http_collab_doc_send_op(sub->ws, frame, src);
        }
    }

    if (fs) {
        ngx_http_collab_commit_forwarded_done(doc, fs, ack, delivered,
                                              before);
    }

    return delivered;

failed:

    if (fs) {
        ngx_http_collab_commit_forwarded_done(doc, fs, ack, NGX_ERROR,
                                              before);
    }

    ngx_log_error(NGX_LOG_ERR, ngx_http_collab_doc_worker.log, 0,
                  "collab: committed op v%uL of \"%V\" does not apply (%s), "
                  "reloading the document", doc->v, &doc->name,
                  collab_ot_strerror(rc));

    ngx_http_collab_doc_resync(doc, "a committed op does not apply at",
                               (int64_t) doc->v);

    return NGX_ERROR;
}


void
ngx_http_collab_doc_catch_up(ngx_http_collab_doc_t *doc)
{
    uint64_t                       from;
    ngx_http_collab_doc_worker_t  *w;

    w = &ngx_http_collab_doc_worker;

    if (w->exiting) {
        return;
    }

    if (doc->state != NGX_HTTP_COLLAB_DOC_READY || doc->catching_up
        || doc->committing)
    {
        /* the load or the commit in flight reads or conflicts anyway */
        doc->catchup_again = 1;
        return;
    }

    doc->catching_up = 1;
    doc->catchup_again = 0;
    doc->cached = 0;

    /* a suspect copy: the ops it has from verify_v are read back too */
    from = doc->v + 1;

    if (doc->verify_v && doc->verify_v < from) {
        from = doc->verify_v;
    }

    doc->verify_v = 0;

    if (ngx_http_collab_store_ops(&doc->c, &doc->d, (int64_t) from, -1,
                                  NGX_HTTP_COLLAB_DOC_CATCHUP,
                                  ngx_http_collab_doc_caught_up, doc)
        != NGX_OK)
    {
        doc->catching_up = 0;
        return;
    }

    doc->refs++;
}


void
ngx_http_collab_doc_reload(ngx_http_collab_doc_t *doc)
{
    /* the copy disagreed with PostgreSQL: the cache may be why */
    ngx_http_collab_doc_reset(doc);
    ngx_http_collab_doc_load(doc, 0);
}


ngx_int_t
ngx_http_collab_doc_send_ring(ngx_http_collab_doc_t *doc,
    ngx_http_collab_ws_t *ws, uint64_t from, uint64_t to)
{
    uint64_t                   v;
    ngx_http_collab_doc_op_t  *e;

    if (from >= to) {
        return NGX_OK;
    }

    if (ngx_http_collab_doc_ring_get(doc, from) == NULL
        || ngx_http_collab_doc_ring_get(doc, to - 1) == NULL)
    {
        return NGX_DECLINED;
    }

    for (v = from; v < to; v++) {
        if (ngx_http_collab_doc_ring_get(doc, v)->frame == NULL) {
            return NGX_DECLINED;
        }
    }

    for (v = from; v < to; v++) {
        e = ngx_http_collab_doc_ring_get(doc, v);

        if (ngx_http_collab_doc_send_op(ws, e->frame, &e->src) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_collab_doc_send_op(ngx_http_collab_ws_t *ws,
    ngx_http_collab_frame_t *frame, ngx_str_t *src)
{
    ngx_int_t                 rc;
    ngx_http_collab_frame_t  *own;

    if (src == NULL || src->len == 0
        || !ngx_http_collab_session_owns(ws, src))
    {
        return ngx_http_collab_ws_send(ws, frame);
    }

    /* its author (a resent op's ack), after a reconnect: the real src */
    own = ngx_http_collab_src_owner_frame(frame, src,
                                          ngx_http_collab_doc_worker.log);
    if (own == NULL) {
        ngx_http_collab_ws_close(ws, 1011, "internal error");
        return NGX_ERROR;
    }

    rc = ngx_http_collab_ws_send(ws, own);

    ngx_http_collab_frame_release(own);

    return rc;
}


int
ngx_http_collab_doc_create_text(ngx_http_collab_store_op_t *so,
    collab_msg_str_t *text)
{
    char      err[64];
    yajl_val  root;

    text->data = "";
    text->len = 0;

    if (so->create_data.len == 0) {
        return COLLAB_OT_OK;
    }

    if (collab_msg_tree_parse(&ngx_http_collab_doc_worker.tree_json,
                              (const char *) so->create_data.data,
                              so->create_data.len, &root, err, sizeof(err))
        != COLLAB_MSG_TREE_OK)
    {
        return COLLAB_OT_ERR_JSON;
    }

    if (YAJL_IS_STRING(root)) {
        text->data = root->u.string;
        text->len = collab_msg_strlen(root->u.string);
    }

    return COLLAB_OT_OK;
}


int
ngx_http_collab_doc_replay(collab_text_t **text, uint64_t *at,
    ngx_http_collab_store_result_t *res)
{
    int                          e;
    ngx_uint_t                   i;
    collab_op_t                  op;
    collab_msg_str_t             data;
    ngx_http_collab_store_op_t  *so;

    collab_op_init(&op);
    e = COLLAB_OT_OK;

    for (i = 0; i < res->nops && e == COLLAB_OT_OK; i++) {
        so = &res->ops[i];

        if ((uint64_t) so->version != *at + 1) {
            continue;
        }

        if (so->kind != NGX_HTTP_COLLAB_STORE_OP && *text) {
            /* a create replaces the document, a del drops it */
            collab_text_free(*text);
            *text = NULL;
        }

        switch (so->kind) {

        case NGX_HTTP_COLLAB_STORE_CREATE:
            e = ngx_http_collab_doc_create_text(so, &data);

            if (e == COLLAB_OT_OK) {
                e = collab_text_create(text, data.data, data.len);

                if (e != COLLAB_OT_OK) {
                    *text = NULL;
                }
            }

            break;

        case NGX_HTTP_COLLAB_STORE_DEL:
            break;

        default:
            collab_op_free(&op);
            collab_op_init(&op);

            e = collab_op_decode_json(&op, (const char *) so->op.data,
                                      so->op.len);

            /* an op on no document is the reference's no-op too */
            if (e == COLLAB_OT_OK && *text) {
                e = collab_text_apply(*text, &op);
            }

            break;
        }

        if (e == COLLAB_OT_OK) {
            (*at)++;
        }
    }

    collab_op_free(&op);

    return e;
}


ngx_http_collab_frame_t *
ngx_http_collab_doc_stored_frame(ngx_http_collab_doc_t *doc,
    ngx_http_collab_store_op_t *so, collab_op_t *op)
{
    int                            rc;
    collab_msg_str_t               data;
    collab_msg_op_head_t           h;
    ngx_http_collab_doc_worker_t  *w;
    u_char                         pub[NGX_HTTP_COLLAB_SRC_LEN];

    w = &ngx_http_collab_doc_worker;

    ngx_http_collab_src_public(so->src.data, so->src.len, pub);

    ngx_http_collab_doc_op_head(doc, &h, pub,
                                so->src.len ? NGX_HTTP_COLLAB_SRC_LEN : 0,
                                (uint64_t) so->version - 1,
                                (uint64_t) so->seq);

    switch (so->kind) {

    case NGX_HTTP_COLLAB_STORE_CREATE:
        if (ngx_http_collab_doc_create_text(so, &data) != COLLAB_OT_OK) {
            return NULL;
        }

        rc = collab_msg_enc_op_create(&w->enc, &h, &data);
        break;

    case NGX_HTTP_COLLAB_STORE_DEL:
        rc = collab_msg_enc_op_del(&w->enc, &h);
        break;

    default:
        if (op && collab_op_decode_json(op, (const char *) so->op.data,
                                        so->op.len)
                  != COLLAB_OT_OK)
        {
            return NULL;
        }

        rc = collab_msg_enc_op(&w->enc, &h, ngx_http_collab_doc_emit_raw,
                               &so->op);
        break;
    }

    if (rc != COLLAB_MSG_OK) {
        return NULL;
    }

    return ngx_http_collab_frame_text(collab_msg_enc_data(&w->enc),
                                      w->enc.len, w->log);
}


ngx_int_t
ngx_http_collab_doc_work(ngx_http_collab_doc_t *doc)
{
    int      rc;
    size_t   len;
    u_char  *p;

    len = collab_text_bytes(doc->text);

    p = ngx_alloc(len + 1, ngx_http_collab_doc_worker.log);
    if (p == NULL) {
        return NGX_ERROR;
    }

    collab_text_copy(doc->text, (char *) p);

    rc = collab_text_create(&doc->work, (const char *) p, len);

    ngx_free(p);

    if (rc != COLLAB_OT_OK) {
        doc->work = NULL;
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_collab_doc_idle(ngx_http_collab_doc_t *doc)
{
    if (ngx_http_collab_doc_worker.exiting || doc->gone) {
        return;
    }

    if (!ngx_http_collab_doc_evictable(doc)) {
        return;
    }

    if (!doc->evict.timer_set) {
        ngx_add_timer(&doc->evict, NGX_HTTP_COLLAB_DOC_IDLE);
    }
}


static void
ngx_http_collab_doc_load(ngx_http_collab_doc_t *doc, ngx_uint_t cache)
{
    doc->state = NGX_HTTP_COLLAB_DOC_LOADING;

    if (cache
        && ngx_http_collab_cache_get(&doc->name,
                                     ngx_http_collab_doc_cache_loaded, doc)
           == NGX_OK)
    {
        doc->loading = 1;
        doc->refs++;
        return;
    }

    if (ngx_http_collab_store_load(&doc->c, &doc->d,
                                   ngx_http_collab_doc_loaded, doc)
        != NGX_OK)
    {
        /* out of memory: fail what waits, try again on the next request */
        ngx_http_collab_doc_fail_waiters(doc,
                                         NGX_HTTP_COLLAB_DOC_UNAVAILABLE);
        return;
    }

    doc->loading = 1;
    doc->refs++;
}


static void
ngx_http_collab_doc_loaded(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res)
{
    ngx_http_collab_doc_t  *doc = data;

    int             r;
    ngx_uint_t      i;
    collab_text_t  *t;

    doc->loading = 0;

    if (ngx_http_collab_doc_back(doc) != NGX_OK) {
        ngx_http_collab_store_result_free(res);
        return;
    }

    if (rc == NGX_HTTP_COLLAB_STORE_NOT_FOUND) {
        doc->state = NGX_HTTP_COLLAB_DOC_READY;
        goto ready;
    }

    if ((rc == NGX_HTTP_COLLAB_STORE_UNAVAILABLE
         || rc == NGX_HTTP_COLLAB_STORE_UNKNOWN)
        && ngx_http_collab_doc_load_wait(doc))
    {
        /* PostgreSQL is away: what waits keeps waiting, for a while */
        ngx_http_collab_store_result_free(res);
        return;
    }

    if (rc != NGX_HTTP_COLLAB_STORE_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_http_collab_doc_worker.log, 0,
                      "collab: loading \"%V\" failed (%i)", &doc->name, rc);
        ngx_http_collab_store_result_free(res);
        ngx_http_collab_doc_fail_waiters(doc,
                                         NGX_HTTP_COLLAB_DOC_UNAVAILABLE);
        ngx_http_collab_commit_fail(doc, NGX_HTTP_COLLAB_DOC_UNAVAILABLE);
        ngx_http_collab_doc_idle(doc);
        return;
    }

    ngx_http_collab_doc_reset(doc);

    doc->state = NGX_HTTP_COLLAB_DOC_READY;

    if (res->snapshot_version > 0) {
        r = collab_text_create(&t, (const char *) res->snapshot.data,
                               res->snapshot.len);
        if (r != COLLAB_OT_OK) {
            ngx_log_error(NGX_LOG_ERR, ngx_http_collab_doc_worker.log, 0,
                          "collab: bad snapshot v%L of \"%V\"",
                          res->snapshot_version, &doc->name);
            ngx_http_collab_store_result_free(res);
            ngx_http_collab_doc_fail_waiters(doc,
                                           NGX_HTTP_COLLAB_DOC_UNAVAILABLE);
            ngx_http_collab_commit_fail(doc,
                                        NGX_HTTP_COLLAB_DOC_UNAVAILABLE);
            doc->state = NGX_HTTP_COLLAB_DOC_LOADING;
            ngx_http_collab_doc_idle(doc);
            return;
        }

        doc->text = t;
        doc->exists = 1;
        doc->v = (uint64_t) res->snapshot_version;
    }

    for (i = 0; i < res->nops; i++) {
        if (ngx_http_collab_doc_apply_stored(doc, &res->ops[i]) != NGX_OK) {
            break;
        }
    }

    if (res->deleted && doc->exists) {
        /* cannot happen with a consistent log */
        ngx_log_error(NGX_LOG_ERR, ngx_http_collab_doc_worker.log, 0,
                      "collab: \"%V\" is deleted but its log is not",
                      &doc->name);
    }

    ngx_http_collab_store_result_free(res);

    if (doc->state != NGX_HTTP_COLLAB_DOC_READY) {
        /* apply_stored() found a bad op and started a reload */
        return;
    }

ready:

    ngx_http_collab_doc_loaded_ready(doc);
}


/*
 * The head from the Redis cache (ngx_http_collab_cache.h); a miss loads
 * from PostgreSQL.  The copy is not checked against PostgreSQL here: the
 * cache is written after every commit, the channel delivers what follows,
 * a gap in it catches up, and the periodic head check (fanout.c) finds a
 * head the cache missed.  So neither the waiting requests (as fresh as
 * this load) nor the channel's activation read PostgreSQL for it.
 */
static void
ngx_http_collab_doc_cache_loaded(void *data, ngx_int_t rc, uint64_t v,
    u_char *text, size_t len)
{
    ngx_http_collab_doc_t  *doc = data;

    ngx_queue_t                *q;
    collab_text_t              *t;
    ngx_http_collab_doc_req_t  *req;

    doc->loading = 0;

    if (ngx_http_collab_doc_back(doc) != NGX_OK) {
        return;
    }

    if (rc != NGX_OK
        || collab_text_create(&t, (const char *) text, len) != COLLAB_OT_OK)
    {
        ngx_http_collab_doc_load(doc, 0);
        return;
    }

    ngx_http_collab_doc_reset(doc);

    doc->state = NGX_HTTP_COLLAB_DOC_READY;
    doc->text = t;
    doc->exists = 1;
    doc->v = v;

    /* channel_active already: its catch-up was asked during the load */
    doc->cached = !doc->channel_active;
    doc->catchup_again = (doc->seen_v > doc->v);

    for (q = ngx_queue_head(&doc->waiters);
         q != ngx_queue_sentinel(&doc->waiters);
         q = ngx_queue_next(q))
    {
        req = ngx_queue_data(q, ngx_http_collab_doc_req_t, queue);
        req->fresh = 0;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_http_collab_doc_worker.log, 0,
                   "collab doc: \"%V\" at v%uL from the cache",
                   &doc->name, v);

    ngx_http_collab_doc_loaded_ready(doc);
}


static void
ngx_http_collab_doc_loaded_ready(ngx_http_collab_doc_t *doc)
{
    if (doc->catchup_again) {
        doc->catchup_again = 0;
        ngx_http_collab_doc_catch_up(doc);
    }

    ngx_http_collab_doc_process(doc);
    ngx_http_collab_commit_run(doc);
    ngx_http_collab_doc_idle(doc);
}


static ngx_int_t
ngx_http_collab_doc_apply_stored(ngx_http_collab_doc_t *doc,
    ngx_http_collab_store_op_t *so)
{
    ngx_int_t                 rc;
    collab_op_t               op;
    collab_msg_str_t          data;
    ngx_http_collab_frame_t  *f;

    if ((uint64_t) so->version != doc->v + 1) {
        /* already applied (from pub/sub), or a hole we cannot fill here */
        return (uint64_t) so->version <= doc->v ? NGX_OK : NGX_DECLINED;
    }

    collab_op_init(&op);

    f = ngx_http_collab_doc_stored_frame(doc, so, &op);
    if (f == NULL) {
        collab_op_free(&op);
        ngx_log_error(NGX_LOG_ERR, ngx_http_collab_doc_worker.log, 0,
                      "collab: stored op v%L of \"%V\" cannot be decoded",
                      so->version, &doc->name);
        return NGX_ERROR;
    }

    data.data = "";
    data.len = 0;

    if (so->kind == NGX_HTTP_COLLAB_STORE_CREATE) {
        /* stored_frame() decoded it already: it cannot fail now */
        (void) ngx_http_collab_doc_create_text(so, &data);
    }

    rc = ngx_http_collab_doc_advance(doc, so->kind,
                                     so->kind == NGX_HTTP_COLLAB_STORE_OP
                                     ? &op : NULL,
                                     data.data, data.len, &so->src,
                                     (uint64_t) so->seq, f, NULL, NULL);

    ngx_http_collab_frame_release(f);
    collab_op_free(&op);

    return rc == NGX_ERROR ? NGX_ERROR : NGX_OK;
}


static void
ngx_http_collab_doc_caught_up(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res)
{
    ngx_http_collab_doc_t  *doc = data;

    int64_t     head;
    ngx_uint_t  i, more;

    if (ngx_http_collab_doc_back(doc) != NGX_OK) {
        ngx_http_collab_store_result_free(res);
        return;
    }
    doc->catching_up = 0;

    more = 0;
    head = -1;

    if (ngx_http_collab_doc_resync_check(doc, rc, res) != NGX_OK) {
        /* the copy was wrong: it is being reloaded */
        ngx_http_collab_store_result_free(res);
        return;
    }

    if (rc == NGX_HTTP_COLLAB_STORE_OK
        && doc->state == NGX_HTTP_COLLAB_DOC_READY)
    {
        head = res->version;

        for (i = 0; i < res->nops; i++) {
            if (ngx_http_collab_doc_apply_stored(doc, &res->ops[i])
                != NGX_OK)
            {
                break;
            }
        }

        more = (res->nops == NGX_HTTP_COLLAB_DOC_CATCHUP
                && doc->state == NGX_HTTP_COLLAB_DOC_READY);
    }

    ngx_http_collab_store_result_free(res);

    if (doc->state != NGX_HTTP_COLLAB_DOC_READY) {
        return;
    }

    if (!more && !doc->catchup_again && head >= 0) {
        ngx_http_collab_doc_resync_seen(doc, head);
    }

    if (more || doc->catchup_again || doc->seen_v > doc->v) {
        doc->catchup_again = 0;

        if (rc == NGX_HTTP_COLLAB_STORE_OK) {
            ngx_http_collab_doc_catch_up(doc);

            if (doc->catching_up) {
                return;
            }
        }
    }

    ngx_http_collab_doc_process(doc);
    ngx_http_collab_commit_run(doc);
    ngx_http_collab_doc_idle(doc);
}


/* serves the waiting requests in order while each can finish now */
static void
ngx_http_collab_doc_process(ngx_http_collab_doc_t *doc)
{
    uint64_t                    first, to, end;
    ngx_int_t                   rc;
    ngx_queue_t                *q;
    ngx_http_collab_doc_req_t  *req;

    while (!ngx_queue_empty(&doc->waiters)) {

        if (doc->state != NGX_HTTP_COLLAB_DOC_READY || doc->catching_up
            || doc->reading)
        {
            return;
        }

        q = ngx_queue_head(&doc->waiters);
        req = ngx_queue_data(q, ngx_http_collab_doc_req_t, queue);

        if (req->fresh) {
            req->fresh = 0;

            if (ngx_http_collab_redis_enabled()) {
                ngx_http_collab_doc_catch_up(doc);

                if (doc->catching_up) {
                    return;
                }
            }
        }

        end = (req->until && req->until < doc->v) ? req->until : doc->v;

        if (req->want_ops && req->since < end) {
            rc = ngx_http_collab_doc_send_ring(doc, req->ws, req->since, end);

            if (rc == NGX_DECLINED) {
                /* older than the ring: read the rest from the database */
                first = doc->v - doc->ring_n;
                to = ngx_min(first, end) + 1;

                if (ngx_http_collab_store_ops(&doc->c, &doc->d,
                                              (int64_t) req->since + 1,
                                              (int64_t) to, 0,
                                              ngx_http_collab_doc_req_ops,
                                              doc)
                    == NGX_OK)
                {
                    doc->reading = 1;
                    doc->reading_req = req;
                    doc->refs++;
                    return;
                }
            }
        }

        ngx_queue_remove(q);
        req->queued = 0;

        req->handler(req, NGX_OK);

        ngx_http_collab_doc_unref(doc);

        if (doc->gone) {
            return;
        }
    }
}


static void
ngx_http_collab_doc_req_ops(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res)
{
    ngx_http_collab_doc_t  *doc = data;

    ngx_uint_t                  i;
    ngx_queue_t                *q;
    ngx_http_collab_frame_t    *f;
    ngx_http_collab_doc_req_t  *req;

    if (ngx_http_collab_doc_back(doc) != NGX_OK) {
        ngx_http_collab_store_result_free(res);
        return;
    }
    doc->reading = 0;

    if (ngx_queue_empty(&doc->waiters)) {
        /* the request was cancelled meanwhile */
        ngx_http_collab_store_result_free(res);
        ngx_http_collab_doc_idle(doc);
        return;
    }

    q = ngx_queue_head(&doc->waiters);
    req = ngx_queue_data(q, ngx_http_collab_doc_req_t, queue);

    if (req != doc->reading_req) {
        /* the request it was for was cancelled: start over */
        ngx_http_collab_store_result_free(res);
        ngx_http_collab_doc_process(doc);
        return;
    }

    if (rc != NGX_HTTP_COLLAB_STORE_OK || res->nops == 0) {
        ngx_http_collab_store_result_free(res);

        ngx_queue_remove(q);
        req->queued = 0;
        req->handler(req, NGX_HTTP_COLLAB_DOC_UNAVAILABLE);
        ngx_http_collab_doc_unref(doc);

        if (!doc->gone) {
            ngx_http_collab_doc_process(doc);
        }

        return;
    }

    if (req->want_ops) {
        for (i = 0; i < res->nops; i++) {
            if (req->until && req->since >= req->until) {
                break;
            }

            if ((uint64_t) res->ops[i].version != req->since + 1) {
                continue;
            }

            f = ngx_http_collab_doc_stored_frame(doc, &res->ops[i], NULL);
            if (f == NULL) {
                break;
            }

            (void) ngx_http_collab_doc_send_op(req->ws, f,
                                               &res->ops[i].src);
            ngx_http_collab_frame_release(f);

            req->since++;
        }
    }

    ngx_http_collab_store_result_free(res);

    ngx_http_collab_doc_process(doc);
}


static void
ngx_http_collab_doc_fail_waiters(ngx_http_collab_doc_t *doc, ngx_int_t rc)
{
    ngx_queue_t                *q;
    ngx_http_collab_doc_req_t  *req;

    doc->refs++;

    while (!ngx_queue_empty(&doc->waiters)) {
        q = ngx_queue_head(&doc->waiters);
        req = ngx_queue_data(q, ngx_http_collab_doc_req_t, queue);

        ngx_queue_remove(q);
        req->queued = 0;
        doc->refs--;

        req->handler(req, rc);
    }

    doc->refs--;
}


/* forgets the content before a (re)load */
static void
ngx_http_collab_doc_reset(ngx_http_collab_doc_t *doc)
{
    while (doc->ring_n) {
        ngx_http_collab_doc_ring_drop(doc);
    }

    doc->ring_head = 0;

    if (doc->text) {
        collab_text_free(doc->text);
        doc->text = NULL;
    }

    if (doc->work) {
        collab_text_free(doc->work);
        doc->work = NULL;
    }

    doc->v = 0;
    doc->exists = 0;
    doc->deleted = 0;
    doc->cached = 0;
}


static void
ngx_http_collab_doc_ring_push(ngx_http_collab_doc_t *doc,
    ngx_http_collab_doc_op_t *e)
{
    ngx_uint_t                 i, cap;
    ngx_http_collab_doc_op_t  *ring;

    if (doc->ring_n == doc->ring_cap
        && doc->ring_cap < NGX_HTTP_COLLAB_DOC_RING_MAX
        && doc->ring_bytes < NGX_HTTP_COLLAB_DOC_RING_BYTES)
    {
        cap = doc->ring_cap ? doc->ring_cap * 2 : NGX_HTTP_COLLAB_DOC_RING_MIN;

        ring = ngx_alloc(cap * sizeof(ngx_http_collab_doc_op_t),
                         ngx_http_collab_doc_worker.log);

        if (ring) {
            for (i = 0; i < doc->ring_n; i++) {
                ring[i] = doc->ring[(doc->ring_head + i) % doc->ring_cap];
            }

            if (doc->ring) {
                ngx_free(doc->ring);
            }

            doc->ring = ring;
            doc->ring_cap = cap;
            doc->ring_head = 0;
        }
    }

    if (doc->ring_cap == 0) {
        /* no memory for a ring: the op is not kept */
        ngx_http_collab_doc_op_free(e);
        return;
    }

    if (doc->ring_n == doc->ring_cap) {
        ngx_http_collab_doc_ring_drop(doc);
    }

    doc->ring[(doc->ring_head + doc->ring_n) % doc->ring_cap] = *e;
    doc->ring_n++;
    doc->ring_bytes += ngx_http_collab_doc_op_cost(e);

    while (doc->ring_bytes > NGX_HTTP_COLLAB_DOC_RING_BYTES
           && doc->ring_n > NGX_HTTP_COLLAB_DOC_RING_MIN)
    {
        ngx_http_collab_doc_ring_drop(doc);
    }
}


/* forgets the oldest op of the ring */
static void
ngx_http_collab_doc_ring_drop(ngx_http_collab_doc_t *doc)
{
    ngx_http_collab_doc_op_t  *e;

    e = &doc->ring[doc->ring_head];

    doc->ring_bytes -= ngx_http_collab_doc_op_cost(e);

    ngx_http_collab_doc_op_free(e);
    doc->ring_head = (doc->ring_head + 1) % doc->ring_cap;
    doc->ring_n--;
}


/* what an entry holds, roughly: the parsed op about as much as its JSON */
static size_t
ngx_http_collab_doc_op_cost(ngx_http_collab_doc_op_t *e)
{
    return sizeof(ngx_http_collab_doc_op_t) + 16 + e->src.len
           + (e->frame ? 2 * e->frame->len : 0);
}


static void
ngx_http_collab_doc_op_free(ngx_http_collab_doc_op_t *e)
{
    collab_op_free(&e->op);

    if (e->src.data) {
        ngx_free(e->src.data);
        e->src.data = NULL;
    }

    if (e->frame) {
        ngx_http_collab_frame_release(e->frame);
        e->frame = NULL;
    }
}


static ngx_uint_t
ngx_http_collab_doc_evictable(ngx_http_collab_doc_t *doc)
{
    return doc->nsubs == 0 && doc->refs == 0
           && ngx_queue_empty(&doc->waiters)
           && ngx_queue_empty(&doc->submits)
           && ngx_queue_empty(&doc->batch)
           && ngx_queue_empty(&doc->forwarded)
           && !doc->catching_up && !doc->committing
           && ngx_http_collab_commit_idle(doc);
}


/*
 * A load found PostgreSQL away: the requests and ops waiting for longer
 * than collab_commit_wait get their error now, the others wait for the
 * next try; returns 1 if anything still waits.
 */
static ngx_uint_t
ngx_http_collab_doc_load_wait(ngx_http_collab_doc_t *doc)
{
    ngx_msec_t                  wait;
    ngx_uint_t                  n;
    ngx_queue_t                *q, *next, expired;
    ngx_http_collab_doc_req_t  *req;

    wait = ngx_http_collab_doc_worker.cmcf->commit_wait;
    n = 0;

    ngx_queue_init(&expired);

    for (q = ngx_queue_head(&doc->waiters);
         q != ngx_queue_sentinel(&doc->waiters);
         q = next)
    {
        next = ngx_queue_next(q);
        req = ngx_queue_data(q, ngx_http_collab_doc_req_t, queue);

        if (!req->no_wait && ngx_current_msec - req->queued_at < wait) {
            n++;
            continue;
        }

        ngx_queue_remove(q);
        ngx_queue_insert_tail(&expired, q);
    }

    /* answered after the walk: a handler may touch the waiters */
    doc->refs++;

    while (!ngx_queue_empty(&expired)) {
        q = ngx_queue_head(&expired);
        req = ngx_queue_data(q, ngx_http_collab_doc_req_t, queue);

        ngx_queue_remove(q);
        req->queued = 0;
        doc->refs--;

        req->handler(req, NGX_HTTP_COLLAB_DOC_UNAVAILABLE);
    }

    doc->refs--;

    n += ngx_http_collab_commit_expire(doc);

    if (n == 0) {
        doc->db_backoff = 0;
        return 0;
    }

    ngx_log_error(NGX_LOG_INFO, ngx_http_collab_doc_worker.log, 0,
                  "collab: loading \"%V\": PostgreSQL is unavailable, "
                  "%ui request(s) and op(s) wait", &doc->name, n);

    ngx_add_timer(&doc->load_retry, ngx_http_collab_commit_backoff(doc));

    return 1;
}


static void
ngx_http_collab_doc_load_retry(ngx_event_t *ev)
{
    ngx_http_collab_doc_t  *doc = ev->data;

    if (doc->state == NGX_HTTP_COLLAB_DOC_LOADING && !doc->loading) {
        ngx_http_collab_doc_load(doc, 0);
    }
}


void
ngx_http_collab_doc_op_head(ngx_http_collab_doc_t *doc,
    collab_msg_op_head_t *h, const u_char *src, size_t src_len, uint64_t v,
    uint64_t seq)
{
    h->c.data = (const char *) doc->c.data;
    h->c.len = doc->c.len;
    h->d.data = (const char *) doc->d.data;
    h->d.len = doc->d.len;
    h->src.data = (const char *) src;
    h->src.len = src_len;
    h->v = v;
    h->seq = seq;
}


static void
ngx_http_collab_doc_evict_handler(ngx_event_t *ev)
{
    ngx_http_collab_doc_t  *doc = ev->data;

    if (!ngx_http_collab_doc_evictable(doc)) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "collab doc: evicting \"%V\"", &doc->name);

    ngx_http_collab_doc_free(doc);
}


static void
ngx_http_collab_doc_free(ngx_http_collab_doc_t *doc)
{
    ngx_queue_t                *q;
    ngx_http_collab_doc_req_t  *req;
    ngx_http_collab_doc_sub_t  *sub;

    ngx_http_collab_doc_worker.ndocs--;

    ngx_rbtree_delete(&ngx_http_collab_doc_worker.tree, &doc->sn.node);
    ngx_queue_remove(&doc->all);

    if (doc->evict.timer_set) {
        ngx_del_timer(&doc->evict);
    }

    if (doc->load_retry.timer_set) {
        ngx_del_timer(&doc->load_retry);
    }

    /* only at exit can subscribers or waiters still be here */

    while (!ngx_queue_empty(&doc->subs)) {
        q = ngx_queue_head(&doc->subs);
        sub = ngx_queue_data(q, ngx_http_collab_doc_sub_t, dq);
        ngx_queue_remove(q);
        ngx_queue_init(&sub->dq);
        sub->doc = NULL;
    }

    while (!ngx_queue_empty(&doc->waiters)) {
        q = ngx_queue_head(&doc->waiters);
        ngx_queue_remove(q);
        req = ngx_queue_data(q, ngx_http_collab_doc_req_t, queue);
        req->queued = 0;
    }

    ngx_http_collab_commit_free(doc);
    ngx_http_collab_fanout_free(doc);

    ngx_http_collab_doc_reset(doc);

    if (doc->ring) {
        ngx_free(doc->ring);
        doc->ring = NULL;
    }

    doc->gone = 1;

    if (doc->refs == 0) {
        ngx_free(doc);
    }
}


static int
ngx_http_collab_doc_emit_raw(yajl_gen g, void *ctx)
{
    ngx_str_t  *json = ctx;

    return collab_msg_emit_raw(g, (const char *) json->data, json->len);
}
