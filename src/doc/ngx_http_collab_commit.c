/*
 * The commit state machine of one document:
 *
 *   queue non-empty -> lock (Redis SET NX PX; skipped without Redis, and
 *   when Redis is down: the op log's primary key is the real fence) ->
 *   build a batch (transform, dedup, validate on the working copy) ->
 *   store_commit -> OK: advance + deliver + ack + publish, next batch;
 *   CONFLICT/UNKNOWN: catch up from PostgreSQL, retransform, retry
 *   (bounded); UNAVAILABLE/ERROR: every op of the batch gets an error.
 *   An idle queue releases the lock; a long burst extends it.
 *
 * Only one batch per document is in flight; ops that arrive meanwhile
 * form the next one, which is what makes a hot document fast.
 */

#include "ngx_http_collab.h"
#include "store/ngx_http_collab_store.h"
#include "engine/collab_ot_json.h"
#include "doc/ngx_http_collab_doc.h"
#include "doc/ngx_http_collab_commit.h"
#include "doc/ngx_http_collab_fanout.h"


#define NGX_HTTP_COLLAB_COMMIT_BATCH     512
#define NGX_HTTP_COLLAB_COMMIT_RETRIES   16

/* ms an idle queue keeps the lock for the next op */
#define NGX_HTTP_COLLAB_COMMIT_LINGER    3

#define NGX_HTTP_COLLAB_LOCK_NONE        0
#define NGX_HTTP_COLLAB_LOCK_ACQUIRING   1
#define NGX_HTTP_COLLAB_LOCK_LOCKED      2
#define NGX_HTTP_COLLAB_LOCK_RELEASING   3
#define NGX_HTTP_COLLAB_LOCK_SKIP        4   /* Redis down: commit anyway */

/* prepare() outcomes */
#define NGX_HTTP_COLLAB_PREP_BATCH       0
#define NGX_HTTP_COLLAB_PREP_DONE        1
#define NGX_HTTP_COLLAB_PREP_WAIT        2
#define NGX_HTTP_COLLAB_PREP_STOP        3


static ngx_int_t ngx_http_collab_commit_lock(ngx_http_collab_doc_t *doc);
static void ngx_http_collab_commit_locked(ngx_http_collab_lock_result_e rc,
    void *data);
static void ngx_http_collab_commit_extended(
    ngx_http_collab_lock_result_e rc, void *data);
static void ngx_http_collab_commit_released(
    ngx_http_collab_lock_result_e rc, void *data);
static void ngx_http_collab_commit_release(ngx_http_collab_doc_t *doc);
static void ngx_http_collab_commit_retry_handler(ngx_event_t *ev);
static void ngx_http_collab_commit_linger(ngx_http_collab_doc_t *doc);
static void ngx_http_collab_commit_linger_handler(ngx_event_t *ev);
static void ngx_http_collab_commit_later(ngx_http_collab_doc_t *doc,
    ngx_msec_t ms);
static ngx_int_t ngx_http_collab_commit_prepare(ngx_http_collab_doc_t *doc,
    ngx_http_collab_submit_t *s, ngx_uint_t n);
static ngx_int_t ngx_http_collab_commit_past(ngx_http_collab_submit_t *s,
    ngx_uint_t kind, collab_op_t *op, ngx_str_t *src, uint64_t seq,
    uint64_t v);
static const char *ngx_http_collab_commit_transform(
    ngx_http_collab_submit_t *s, collab_op_t *op, ngx_uint_t kind,
    collab_op_t *other, ngx_uint_t okind, const char **message);
static void ngx_http_collab_commit_history(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res);
static void ngx_http_collab_commit_send(ngx_http_collab_doc_t *doc);
static void ngx_http_collab_commit_done(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res);
static void ngx_http_collab_commit_success(ngx_http_collab_doc_t *doc);
static void ngx_http_collab_commit_published(redisReply *reply, void *data);
static void ngx_http_collab_commit_deliver(ngx_http_collab_doc_t *doc);
static void ngx_http_collab_commit_requeue(ngx_http_collab_doc_t *doc);
static void ngx_http_collab_commit_fail_batch(ngx_http_collab_doc_t *doc,
    const char *code, const char *message);
static void ngx_http_collab_commit_ack(ngx_http_collab_doc_t *doc,
    ngx_http_collab_submit_t *s, uint64_t v);
static void ngx_http_collab_commit_error(ngx_http_collab_submit_t *s,
    const char *code, const char *message);
static void ngx_http_collab_commit_snapshot(ngx_http_collab_doc_t *doc,
    uint64_t before);
static void ngx_http_collab_submit_free(ngx_http_collab_submit_t *s);
static ngx_int_t ngx_http_collab_commit_json_string(
    ngx_http_collab_submit_t *s);
static ngx_uint_t ngx_http_collab_commit_same(ngx_str_t *src, uint64_t seq,
    ngx_str_t *src2, uint64_t seq2);
static int ngx_http_collab_commit_emit(yajl_gen g, void *ctx);


static collab_msg_t  ngx_http_collab_commit_msg;


ngx_int_t
ngx_http_collab_commit_init(ngx_http_collab_doc_t *doc)
{
    doc->lock_retry.handler = ngx_http_collab_commit_retry_handler;
    doc->lock_retry.data = doc;
    doc->lock_retry.log = ngx_http_collab_doc_worker.log;
    doc->lock_retry.cancelable = 1;

    doc->linger.handler = ngx_http_collab_commit_linger_handler;
    doc->linger.data = doc;
    doc->linger.log = ngx_http_collab_doc_worker.log;
    doc->linger.cancelable = 1;

    if (!ngx_http_collab_redis_enabled()) {
        return NGX_OK;
    }

    return ngx_http_collab_redis_lock_init(&doc->lock, &doc->name);
}


void
ngx_http_collab_commit_free(ngx_http_collab_doc_t *doc)
{
    ngx_queue_t               *q;
    ngx_http_collab_submit_t  *s;

    if (doc->lock_retry.timer_set) {
        ngx_del_timer(&doc->lock_retry);
    }

    if (doc->linger.timer_set) {
        ngx_del_timer(&doc->linger);
    }

    if (doc->lock.key.data) {
        ngx_http_collab_redis_lock_free(&doc->lock);
    }

    while (!ngx_queue_empty(&doc->batch)) {
        q = ngx_queue_head(&doc->batch);
        s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);
        ngx_queue_remove(q);
        ngx_http_collab_submit_free(s);
    }

    while (!ngx_queue_empty(&doc->submits)) {
        q = ngx_queue_head(&doc->submits);
        s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);
        ngx_queue_remove(q);
        ngx_http_collab_submit_free(s);
    }

    doc->nbatch = 0;
    doc->nsubmits = 0;
}


ngx_http_collab_submit_t *
ngx_http_collab_submit_new(collab_msg_t *msg, u_char *raw, size_t len,
    ngx_str_t *src, ngx_str_t *principal, ngx_http_collab_ws_t *ws,
    const char **code, const char **message)
{
    int                        rc;
    u_char                    *p;
    size_t                     size;
    ngx_str_t                  osrc;
    ngx_http_collab_submit_t  *s;

    *code = NULL;
    *message = NULL;

    osrc = *src;

    if (msg->src.data) {
        osrc.data = (u_char *) msg->src.data;
        osrc.len = msg->src.len;
    }

    size = sizeof(ngx_http_collab_submit_t) + osrc.len + principal->len
           + len + 3;

    if (msg->kind == COLLAB_MSG_OP_CREATE) {
        size += msg->create_data.len + 1;
    }

    s = ngx_alloc(size, ngx_http_collab_doc_worker.log);
    if (s == NULL) {
        return NULL;
    }

    ngx_memzero(s, sizeof(ngx_http_collab_submit_t));

    collab_op_init(&s->op);
    collab_op_init(&s->bop);

    p = (u_char *) (s + 1);

    s->src.data = p;
    s->src.len = osrc.len;
    p = ngx_cpymem(p, osrc.data, osrc.len);
    *p++ = '\0';

    s->principal.data = p;
    s->principal.len = principal->len;
    p = ngx_cpymem(p, principal->data, principal->len);
    *p++ = '\0';

    s->raw.data = p;
    s->raw.len = len;
    p = ngx_cpymem(p, raw, len);
    *p++ = '\0';

    s->seq = msg->seq;
    s->v = msg->v;
    s->tv = msg->v;
    s->has_v = msg->has_v;

    switch (msg->kind) {

    case COLLAB_MSG_OP_CREATE:
        s->kind = NGX_HTTP_COLLAB_DOC_CREATE;
        s->data.data = p;
        s->data.len = msg->create_data.len;
        p = ngx_cpymem(p, msg->create_data.data, msg->create_data.len);
        *p = '\0';
        break;

    case COLLAB_MSG_OP_DEL:
        s->kind = NGX_HTTP_COLLAB_DOC_DEL;
        break;

    default:
        s->kind = NGX_HTTP_COLLAB_DOC_OP;

        rc = collab_op_decode(&s->op, msg->op);
        if (rc != COLLAB_OT_OK) {
            *code = (rc == COLLAB_OT_ERR_NOMEM) ? NULL
                    : COLLAB_MSG_ERR_OT_BADLY_FORMED;
            *message = collab_ot_strerror(rc);
            ngx_http_collab_submit_free(s);
            return NULL;
        }

        break;
    }

    /* from here on the caller links s->sq into its session */
    s->ws = ws;

    return s;
}


void
ngx_http_collab_commit_submit(ngx_http_collab_doc_t *doc,
    ngx_http_collab_submit_t *s)
{
    s->doc = doc;

    ngx_queue_insert_tail(&doc->submits, &s->queue);
    doc->nsubmits++;

    if (doc->evict.timer_set) {
        ngx_del_timer(&doc->evict);
    }

    ngx_http_collab_commit_run(doc);
}


void
ngx_http_collab_commit_discard(ngx_http_collab_submit_t *s)
{
    ngx_http_collab_submit_free(s);
}


void
ngx_http_collab_submit_detach(ngx_http_collab_submit_t *s)
{
    if (s->ws) {
        s->ws = NULL;
        ngx_queue_remove(&s->sq);
    }
}


void
ngx_http_collab_commit_run(ngx_http_collab_doc_t *doc)
{
    ngx_int_t                  rc;
    ngx_uint_t                 n;
    ngx_queue_t               *q;
    ngx_http_collab_submit_t  *s;

    if (doc->committing || doc->catching_up
        || doc->state != NGX_HTTP_COLLAB_DOC_READY
        || doc->lock_retry.timer_set || doc->gone
        || ngx_http_collab_doc_worker.exiting)
    {
        return;
    }

    if (ngx_queue_empty(&doc->submits)) {
        ngx_http_collab_commit_linger(doc);
        return;
    }

    if (doc->linger.timer_set) {
        ngx_del_timer(&doc->linger);
    }

    if (ngx_http_collab_commit_lock(doc) != NGX_OK) {
        return;
    }

    n = 0;

    while (!ngx_queue_empty(&doc->submits)
           && n < NGX_HTTP_COLLAB_COMMIT_BATCH)
    {
        q = ngx_queue_head(&doc->submits);
        s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);

        rc = ngx_http_collab_commit_prepare(doc, s, n);

        if (rc == NGX_HTTP_COLLAB_PREP_BATCH) {
            ngx_queue_remove(q);
            doc->nsubmits--;
            ngx_queue_insert_tail(&doc->batch, q);
            n++;

            if (s->kind != NGX_HTTP_COLLAB_DOC_OP) {
                /* a create or a delete goes alone */
                break;
            }

            continue;
        }

        if (rc == NGX_HTTP_COLLAB_PREP_DONE) {
            ngx_queue_remove(q);
            doc->nsubmits--;
            ngx_http_collab_submit_free(s);

            if (doc->gone) {
                return;
            }

            continue;
        }

        /* WAIT or STOP */
        break;
    }

    doc->nbatch = n;

    if (n == 0) {
        if (ngx_queue_empty(&doc->submits)) {
            ngx_http_collab_commit_linger(doc);
        }

        return;
    }

    ngx_http_collab_commit_send(doc);
}


void
ngx_http_collab_commit_fail(ngx_http_collab_doc_t *doc, ngx_int_t rc)
{
    ngx_queue_t               *q;
    ngx_http_collab_submit_t  *s;

    while (!ngx_queue_empty(&doc->submits)) {
        q = ngx_queue_head(&doc->submits);
        s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);
        ngx_queue_remove(q);
        doc->nsubmits--;

        ngx_http_collab_commit_error(s, COLLAB_MSG_ERR_UNKNOWN,
                                     "Database unavailable: "
                                     "the op was not committed");
        ngx_http_collab_submit_free(s);
    }
}


ngx_uint_t
ngx_http_collab_commit_idle(ngx_http_collab_doc_t *doc)
{
    return (doc->lock_state == NGX_HTTP_COLLAB_LOCK_NONE
            || doc->lock_state == NGX_HTTP_COLLAB_LOCK_SKIP)
           && doc->lock.op == NULL && !doc->lock_retry.timer_set
           && !doc->linger.timer_set;
}


void
ngx_http_collab_commit_reply_error(ngx_http_collab_ws_t *ws, ngx_str_t *raw,
    const char *code, const char *message)
{
    int                            rc;
    collab_msg_t                  *m;
    collab_msg_err_t               err;
    ngx_http_collab_doc_worker_t  *w;

    w = &ngx_http_collab_doc_worker;
    m = &ngx_http_collab_commit_msg;

    (void) collab_msg_decode((const char *) raw->data, raw->len, m, &err);

    rc = collab_msg_enc_error(&w->enc, m->root ? m : NULL, code, message);

    if (rc == COLLAB_MSG_OK) {
        (void) ngx_http_collab_ws_send_text(ws, collab_msg_enc_data(&w->enc),
                                            w->enc.len);
    }

    collab_msg_free(m);
}


/* NGX_OK: the batch may be committed now */
static ngx_int_t
ngx_http_collab_commit_lock(ngx_http_collab_doc_t *doc)
{
    ngx_int_t    rc;
    ngx_msec_t   ttl;

    if (!ngx_http_collab_redis_enabled()) {
        return NGX_OK;
    }

    switch (doc->lock_state) {

    case NGX_HTTP_COLLAB_LOCK_LOCKED:
        ttl = ngx_http_collab_doc_worker.cmcf->lock_ttl;

        if (ngx_current_msec - doc->lock_time > ttl / 3
            && doc->lock.op == NULL)
        {
            if (ngx_http_collab_redis_lock_extend(&doc->lock,
                                          ngx_http_collab_commit_extended,
                                          doc)
                == NGX_OK)
            {
                doc->lock_time = ngx_current_msec;
            }
        }

        return NGX_OK;

    case NGX_HTTP_COLLAB_LOCK_SKIP:
        return NGX_OK;

    case NGX_HTTP_COLLAB_LOCK_NONE:
        break;

    default:
        return NGX_AGAIN;
    }

    rc = ngx_http_collab_redis_lock_acquire(&doc->lock,
                                            ngx_http_collab_commit_locked,
                                            doc);

    if (rc == NGX_OK) {
        doc->lock_state = NGX_HTTP_COLLAB_LOCK_ACQUIRING;
        return NGX_AGAIN;
    }

    if (rc == NGX_BUSY) {
        /* a release is still on its way */
        ngx_http_collab_commit_later(doc, 1);
        return NGX_AGAIN;
    }

    /* Redis is down: commit without the lock, the primary key fences */
    doc->lock_state = NGX_HTTP_COLLAB_LOCK_SKIP;

    return NGX_OK;
}


static void
ngx_http_collab_commit_locked(ngx_http_collab_lock_result_e rc, void *data)
{
    ngx_http_collab_doc_t  *doc = data;

    switch (rc) {

    case NGX_HTTP_COLLAB_LOCK_OK:
        doc->lock_state = NGX_HTTP_COLLAB_LOCK_LOCKED;
        doc->lock_time = ngx_current_msec;
        doc->lock_backoff = 0;
        break;

    case NGX_HTTP_COLLAB_LOCK_HELD:
        /* another worker commits this document: try again shortly */
        doc->lock_state = NGX_HTTP_COLLAB_LOCK_NONE;

        if (doc->lock_backoff == 0) {
            doc->lock_wait = ngx_current_msec;

        } else if (ngx_current_msec - doc->lock_wait
                   > ngx_http_collab_doc_worker.cmcf->lock_ttl / 2)
        {
            /*
             * Its holder may be dead (its lease has not run out yet):
             * commit anyway, the primary key keeps the log right.
             */
            doc->lock_backoff = 0;
            doc->lock_state = NGX_HTTP_COLLAB_LOCK_SKIP;
            break;
        }

        if (doc->lock_backoff < 8) {
            doc->lock_backoff = doc->lock_backoff ? doc->lock_backoff * 2 : 1;
        }

        ngx_http_collab_commit_later(doc, doc->lock_backoff
                                          + ngx_random() % 3);
        return;

    default:
        doc->lock_state = NGX_HTTP_COLLAB_LOCK_SKIP;
        break;
    }

    ngx_http_collab_commit_run(doc);
}


static void
ngx_http_collab_commit_extended(ngx_http_collab_lock_result_e rc,
    void *data)
{
    ngx_http_collab_doc_t  *doc = data;

    if (rc == NGX_HTTP_COLLAB_LOCK_HELD
        && doc->lock_state == NGX_HTTP_COLLAB_LOCK_LOCKED)
    {
        /* lost: the batch in flight is fenced by the primary key */
        ngx_log_error(NGX_LOG_WARN, ngx_http_collab_doc_worker.log, 0,
                      "collab: lock of \"%V\" was lost", &doc->name);
        doc->lock_state = NGX_HTTP_COLLAB_LOCK_NONE;
    }

    if (doc->release_pending) {
        doc->release_pending = 0;
        ngx_http_collab_commit_release(doc);
        return;
    }

    ngx_http_collab_commit_run(doc);
}


static void
ngx_http_collab_commit_release(ngx_http_collab_doc_t *doc)
{
    if (doc->lock_state == NGX_HTTP_COLLAB_LOCK_SKIP) {
        doc->lock_state = NGX_HTTP_COLLAB_LOCK_NONE;
        return;
    }

    if (doc->lock_state != NGX_HTTP_COLLAB_LOCK_LOCKED) {
        return;
    }

    if (doc->lock.op) {
        doc->release_pending = 1;
        return;
    }

    if (ngx_http_collab_redis_lock_release(&doc->lock,
                                           ngx_http_collab_commit_released,
                                           doc)
        == NGX_OK)
    {
        doc->lock_state = NGX_HTTP_COLLAB_LOCK_RELEASING;
        return;
    }

    /* Redis is down: the lock expires by itself */
    doc->lock_state = NGX_HTTP_COLLAB_LOCK_NONE;
    doc->lock.held = 0;
}


static void
ngx_http_collab_commit_released(ngx_http_collab_lock_result_e rc,
    void *data)
{
    ngx_http_collab_doc_t  *doc = data;

    doc->lock_state = NGX_HTTP_COLLAB_LOCK_NONE;

    if (!ngx_queue_empty(&doc->submits)) {
        ngx_http_collab_commit_run(doc);
        return;
    }

    ngx_http_collab_doc_idle(doc);
}


/*
 * The queue is empty: keep the lock a moment, as a client usually sends
 * its next op right after its ack; then let it go.
 */
static void
ngx_http_collab_commit_linger(ngx_http_collab_doc_t *doc)
{
    /* others elsewhere edit it too: let them have the lock at once */
    if (doc->lock_state != NGX_HTTP_COLLAB_LOCK_LOCKED || !doc->remote_quiet)
    {
        ngx_http_collab_commit_release(doc);
        ngx_http_collab_doc_idle(doc);
        return;
    }

    if (!doc->linger.timer_set) {
        ngx_add_timer(&doc->linger, NGX_HTTP_COLLAB_COMMIT_LINGER);
    }
}


static void
ngx_http_collab_commit_linger_handler(ngx_event_t *ev)
{
    ngx_http_collab_doc_t  *doc = ev->data;

    if (ngx_queue_empty(&doc->submits) && !doc->committing) {
        ngx_http_collab_commit_release(doc);
        ngx_http_collab_doc_idle(doc);
        return;
    }

    ngx_http_collab_commit_run(doc);
}


static void
ngx_http_collab_commit_retry_handler(ngx_event_t *ev)
{
    ngx_http_collab_doc_t  *doc = ev->data;

    ngx_http_collab_commit_run(doc);

    if (!doc->gone) {
        ngx_http_collab_doc_idle(doc);
    }
}


static void
ngx_http_collab_commit_later(ngx_http_collab_doc_t *doc, ngx_msec_t ms)
{
    if (!doc->lock_retry.timer_set) {
        ngx_add_timer(&doc->lock_retry, ms ? ms : 1);
    }
}


/*
 * Brings s from its version to the head (ring or database), against the
 * n batch entries before it, and validates it on the working copy.
 */
static ngx_int_t
ngx_http_collab_commit_prepare(ngx_http_collab_doc_t *doc,
    ngx_http_collab_submit_t *s, ngx_uint_t n)
{
    int                        rc;
    uint64_t                   w, first;
    ngx_int_t                  past;
    ngx_queue_t               *q;
    const char                *code, *message;
    collab_text_t             *t;
    ngx_http_collab_doc_op_t  *e;
    ngx_http_collab_submit_t  *b;

    if (!s->has_v) {
        /* no version: applies at the head; a create may be a resend */
        if (s->kind == NGX_HTTP_COLLAB_DOC_CREATE && doc->exists) {
            for (w = doc->v - doc->ring_n; w < doc->v; w++) {
                e = ngx_http_collab_doc_ring_get(doc, w);

                if (ngx_http_collab_commit_same(&e->src, e->seq, &s->src,
                                                s->seq))
                {
                    ngx_http_collab_commit_ack(doc, s, w);
                    return NGX_HTTP_COLLAB_PREP_DONE;
                }
            }
        }

        s->tv = doc->v;
        s->has_v = 1;
        s->v = doc->v;
    }

    if (s->tv > doc->v) {
        if (!s->caught_up) {
            /* the client may have seen ops this worker has not yet */
            s->caught_up = 1;

            if (n > 0) {
                return NGX_HTTP_COLLAB_PREP_STOP;
            }

            ngx_http_collab_doc_catch_up(doc);

            if (doc->catching_up) {
                return NGX_HTTP_COLLAB_PREP_WAIT;
            }
        }

        ngx_http_collab_commit_error(s, COLLAB_MSG_ERR_VERSION_NEWER,
                                     "Op submit version newer than the "
                                     "current snapshot");
        return NGX_HTTP_COLLAB_PREP_DONE;
    }

    first = doc->v - doc->ring_n;

    if (s->tv < first) {
        if (n > 0) {
            return NGX_HTTP_COLLAB_PREP_STOP;
        }

        /* older than the ring: read the ops in between */
        if (ngx_http_collab_store_ops(&doc->c, &doc->d, (int64_t) s->tv + 1,
                                      (int64_t) first + 1, 0,
                                      ngx_http_collab_commit_history, doc)
            != NGX_OK)
        {
            ngx_http_collab_commit_error(s, COLLAB_MSG_ERR_UNKNOWN,
                                         "Out of memory");
            return NGX_HTTP_COLLAB_PREP_DONE;
        }

        doc->refs++;
        doc->committing = 1;

        return NGX_HTTP_COLLAB_PREP_WAIT;
    }

    for (w = s->tv; w < doc->v; w++) {
        e = ngx_http_collab_doc_ring_get(doc, w);

        past = ngx_http_collab_commit_past(s, e->kind, &e->op, &e->src,
                                           e->seq, w);
        if (past != NGX_OK) {
            return NGX_HTTP_COLLAB_PREP_DONE;
        }
    }

    /* past the entries of this batch */

    collab_op_reset(&s->bop);

    if (s->kind == NGX_HTTP_COLLAB_DOC_OP) {
        if (collab_op_copy(&s->bop, &s->op) != COLLAB_OT_OK) {
            ngx_http_collab_commit_error(s, COLLAB_MSG_ERR_UNKNOWN,
                                         "Out of memory");
            return NGX_HTTP_COLLAB_PREP_DONE;
        }
    }

    for (q = ngx_queue_head(&doc->batch);
         q != ngx_queue_sentinel(&doc->batch);
         q = ngx_queue_next(q))
    {
        b = ngx_queue_data(q, ngx_http_collab_submit_t, queue);

        if (ngx_http_collab_commit_same(&b->src, b->seq, &s->src, s->seq)) {
            /* a resend of an op of this batch: answered after it */
            return NGX_HTTP_COLLAB_PREP_STOP;
        }

        code = ngx_http_collab_commit_transform(s, &s->bop, s->kind,
                                                &b->bop, b->kind, &message);
        if (code) {
            ngx_http_collab_commit_error(s, code, message);
            return NGX_HTTP_COLLAB_PREP_DONE;
        }
    }

    switch (s->kind) {

    case NGX_HTTP_COLLAB_DOC_CREATE:
        if (n > 0) {
            return NGX_HTTP_COLLAB_PREP_STOP;
        }

        if (doc->exists) {
            ngx_http_collab_commit_error(s, COLLAB_MSG_ERR_ALREADY_CREATED,
                                         "Document already exists");
            return NGX_HTTP_COLLAB_PREP_DONE;
        }

        break;

    case NGX_HTTP_COLLAB_DOC_DEL:
        if (n > 0) {
            return NGX_HTTP_COLLAB_PREP_STOP;
        }

        if (!doc->exists) {
            ngx_http_collab_commit_error(s,
                                         doc->deleted
                                         ? COLLAB_MSG_ERR_WAS_DELETED
                                         : COLLAB_MSG_ERR_DOES_NOT_EXIST,
                                         "Document does not exist");
            return NGX_HTTP_COLLAB_PREP_DONE;
        }

        break;

    default:
        if (!doc->exists) {
            ngx_http_collab_commit_error(s,
                                         doc->deleted
                                         ? COLLAB_MSG_ERR_WAS_DELETED
                                         : COLLAB_MSG_ERR_DOES_NOT_EXIST,
                                         "Document does not exist");
            return NGX_HTTP_COLLAB_PREP_DONE;
        }

        if (doc->work == NULL) {
            if (ngx_http_collab_doc_work(doc) != NGX_OK) {
                ngx_http_collab_commit_error(s, COLLAB_MSG_ERR_UNKNOWN,
                                             "Out of memory");
                return NGX_HTTP_COLLAB_PREP_DONE;
            }
        }

        t = doc->work;

        rc = collab_text_apply(t, &s->bop);
        if (rc != COLLAB_OT_OK) {
            ngx_http_collab_commit_error(s,
                                         collab_ot_err_not_applied(rc)
                                         ? COLLAB_MSG_ERR_OT_NOT_APPLIED
                                         : COLLAB_MSG_ERR_OT_BADLY_FORMED,
                                         collab_ot_strerror(rc));
            return NGX_HTTP_COLLAB_PREP_DONE;
        }

        if (s->json) {
            free(s->json);
            s->json = NULL;
        }

        rc = collab_op_encode_json(&s->bop, &s->json, &s->json_len);
        if (rc != COLLAB_OT_OK) {
            /* the working copy went ahead: rebuild it */
            collab_text_free(doc->work);
            doc->work = NULL;
            ngx_http_collab_commit_error(s, COLLAB_MSG_ERR_UNKNOWN,
                                         "Out of memory");
            return NGX_HTTP_COLLAB_PREP_DONE;
        }

        break;
    }

    return NGX_HTTP_COLLAB_PREP_BATCH;
}


/*
 * One committed op at version v between the submit's version and the
 * head: NGX_OK after transforming past it, NGX_DONE when s was answered
 * (it is that op, or it conflicts).
 */
static ngx_int_t
ngx_http_collab_commit_past(ngx_http_collab_submit_t *s, ngx_uint_t kind,
    collab_op_t *op, ngx_str_t *src, uint64_t seq, uint64_t v)
{
    const char  *code, *message;

    if (ngx_http_collab_commit_same(src, seq, &s->src, s->seq)) {
        /* already committed (a resend after a reconnect): just ack it */
        ngx_http_collab_commit_ack(s->doc, s, v);
        return NGX_DONE;
    }

    code = ngx_http_collab_commit_transform(s, &s->op, s->kind, op, kind,
                                            &message);
    if (code) {
        ngx_http_collab_commit_error(s, code, message);
        return NGX_DONE;
    }

    s->tv = v + 1;

    return NGX_OK;
}


/* ShareDB's ot.transform() for text-unicode */
static const char *
ngx_http_collab_commit_transform(ngx_http_collab_submit_t *s,
    collab_op_t *op, ngx_uint_t kind, collab_op_t *other, ngx_uint_t okind,
    const char **message)
{
    int          rc;
    collab_op_t  tmp;

    if (okind == NGX_HTTP_COLLAB_DOC_DEL) {
        if (kind != NGX_HTTP_COLLAB_DOC_DEL) {
            *message = "Document was deleted";
            return COLLAB_MSG_ERR_WAS_DELETED;
        }

        return NULL;
    }

    if (okind == NGX_HTTP_COLLAB_DOC_CREATE
        || kind == NGX_HTTP_COLLAB_DOC_CREATE)
    {
        *message = "Document was created remotely";
        return COLLAB_MSG_ERR_ALREADY_CREATED;
    }

    if (kind != NGX_HTTP_COLLAB_DOC_OP) {
        return NULL;
    }

    collab_op_init(&tmp);

    rc = collab_op_transform(&tmp, op, other, COLLAB_OT_LEFT);
    if (rc != COLLAB_OT_OK) {
        collab_op_free(&tmp);
        *message = collab_ot_strerror(rc);
        return rc == COLLAB_OT_ERR_NOMEM ? COLLAB_MSG_ERR_UNKNOWN
                                         : COLLAB_MSG_ERR_OT_BADLY_FORMED;
    }

    collab_op_free(op);
    *op = tmp;

    return NULL;
}


static void
ngx_http_collab_commit_history(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res)
{
    ngx_http_collab_doc_t  *doc = data;

    int                          r;
    ngx_uint_t                   i, kind;
    ngx_queue_t                 *q;
    collab_op_t                  op;
    ngx_http_collab_submit_t    *s;
    ngx_http_collab_store_op_t  *so;

    if (doc->gone) {
        ngx_http_collab_store_result_free(res);
        ngx_http_collab_doc_unref(doc);
        return;
    }

    doc->refs--;
    doc->committing = 0;

    if (doc->catchup_again) {
        /* a gap was seen meanwhile: catch up first, then go on */
        doc->catchup_again = 0;
        ngx_http_collab_doc_catch_up(doc);
    }

    if (ngx_queue_empty(&doc->submits)) {
        ngx_http_collab_store_result_free(res);
        goto next;
    }

    q = ngx_queue_head(&doc->submits);
    s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);

    if (rc != NGX_HTTP_COLLAB_STORE_OK) {
        ngx_http_collab_store_result_free(res);
        ngx_queue_remove(q);
        doc->nsubmits--;

        if (rc == NGX_HTTP_COLLAB_STORE_NOT_FOUND) {
            ngx_http_collab_commit_error(s, COLLAB_MSG_ERR_OPS_NOT_FOUND,
                                         "Missing ops to transform against");
        } else {
            ngx_http_collab_commit_error(s, COLLAB_MSG_ERR_UNKNOWN,
                                         "Database unavailable: the op "
                                         "was not committed");
        }

        ngx_http_collab_submit_free(s);
        goto next;
    }

    collab_op_init(&op);

    for (i = 0; i < res->nops; i++) {
        so = &res->ops[i];

        if ((uint64_t) so->version != s->tv + 1) {
            continue;
        }

        kind = so->kind;

        if (kind == NGX_HTTP_COLLAB_STORE_OP) {
            r = collab_op_decode_json(&op, (const char *) so->op.data,
                                      so->op.len);
            if (r != COLLAB_OT_OK) {
                break;
            }
        }

        if (ngx_http_collab_commit_past(s, kind, &op, &so->src,
                                        (uint64_t) so->seq, s->tv)
            != NGX_OK)
        {
            ngx_queue_remove(q);
            doc->nsubmits--;
            ngx_http_collab_submit_free(s);
            break;
        }
    }

    collab_op_free(&op);
    ngx_http_collab_store_result_free(res);

next:

    ngx_http_collab_commit_run(doc);
    ngx_http_collab_doc_idle(doc);
}


static void
ngx_http_collab_commit_send(ngx_http_collab_doc_t *doc)
{
    ngx_int_t                    rc;
    ngx_uint_t                   i;
    ngx_queue_t                 *q;
    ngx_http_collab_submit_t    *s;
    ngx_http_collab_store_op_t  *ops;

    ops = ngx_alloc(doc->nbatch * sizeof(ngx_http_collab_store_op_t),
                    ngx_http_collab_doc_worker.log);
    if (ops == NULL) {
        ngx_http_collab_commit_fail_batch(doc, COLLAB_MSG_ERR_UNKNOWN,
                                          "Out of memory");
        return;
    }

    ngx_memzero(ops, doc->nbatch * sizeof(ngx_http_collab_store_op_t));

    i = 0;

    for (q = ngx_queue_head(&doc->batch);
         q != ngx_queue_sentinel(&doc->batch);
         q = ngx_queue_next(q))
    {
        s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);

        ops[i].kind = s->kind;
        ops[i].src = s->src;
        ops[i].seq = (int64_t) s->seq;
        ops[i].principal = s->principal;

        if (s->kind == NGX_HTTP_COLLAB_DOC_OP) {
            ops[i].op.data = (u_char *) s->json;
            ops[i].op.len = s->json_len;

        } else if (s->kind == NGX_HTTP_COLLAB_DOC_CREATE) {
            ngx_str_set(&ops[i].create_type, COLLAB_MSG_TYPE_TEXT_UNICODE);

            /* create_data holds the JSON text of the initial string */
            if (s->json == NULL
                && ngx_http_collab_commit_json_string(s) != NGX_OK)
            {
                ngx_free(ops);
                ngx_http_collab_commit_fail_batch(doc,
                                                  COLLAB_MSG_ERR_UNKNOWN,
                                                  "Out of memory");
                return;
            }

            ops[i].create_data.data = (u_char *) s->json;
            ops[i].create_data.len = s->json_len;
        }

        i++;
    }

    doc->committing = 1;

    if (doc->v == 0) {
        rc = ngx_http_collab_store_create(&doc->c, &doc->d, &ops[0],
                                          ngx_http_collab_commit_done, doc);

    } else {
        rc = ngx_http_collab_store_commit(&doc->c, &doc->d, (int64_t) doc->v,
                                          ops, doc->nbatch,
                                          ngx_http_collab_commit_done, doc);
    }

    ngx_free(ops);

    if (rc != NGX_OK) {
        doc->committing = 0;
        ngx_http_collab_commit_fail_batch(doc, COLLAB_MSG_ERR_UNKNOWN,
                                          "Out of memory");
        return;
    }

    doc->refs++;
}


static void
ngx_http_collab_commit_done(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res)
{
    ngx_http_collab_doc_t  *doc = data;

    if (doc->gone) {
        ngx_http_collab_store_result_free(res);
        ngx_http_collab_doc_unref(doc);
        return;
    }

    doc->refs--;
    doc->committing = 0;

    ngx_http_collab_store_result_free(res);

    switch (rc) {

    case NGX_HTTP_COLLAB_STORE_OK:
        doc->retries = 0;
        ngx_http_collab_commit_success(doc);

        if (doc->publishing) {
            return;
        }

        break;

    case NGX_HTTP_COLLAB_STORE_CONFLICT:
    case NGX_HTTP_COLLAB_STORE_ALREADY_EXISTS:
    case NGX_HTTP_COLLAB_STORE_DUPLICATE:
    case NGX_HTTP_COLLAB_STORE_UNKNOWN:

        /*
         * Someone else committed first (a stale or lost lock, or no lock),
         * or the outcome is unknown: read what the log has, then retry;
         * our own ops, if they landed, are found there by (src, seq).
         */

        if (++doc->retries > NGX_HTTP_COLLAB_COMMIT_RETRIES) {
            doc->retries = 0;
            ngx_http_collab_commit_fail_batch(doc,
                                              COLLAB_MSG_ERR_MAX_RETRIES,
                                              "Maximum submit retries "
                                              "exceeded");
            break;
        }

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_http_collab_doc_worker.log, 0,
                       "collab commit: \"%V\" retry %ui", &doc->name,
                       doc->retries);

        ngx_http_collab_commit_requeue(doc);
        ngx_http_collab_doc_catch_up(doc);

        if (!doc->catching_up) {
            ngx_http_collab_commit_later(doc, 10);
        }

        return;

    case NGX_HTTP_COLLAB_STORE_UNAVAILABLE:
        ngx_http_collab_commit_fail_batch(doc, COLLAB_MSG_ERR_UNKNOWN,
                                          "Database unavailable: the op "
                                          "was not committed");
        break;

    default:
        ngx_http_collab_commit_fail_batch(doc, COLLAB_MSG_ERR_UNKNOWN,
                                          "Database error: the op was not "
                                          "committed");
        break;
    }

    if (doc->catchup_again) {
        doc->catchup_again = 0;
        ngx_http_collab_doc_catch_up(doc);
    }

    ngx_http_collab_commit_run(doc);
    ngx_http_collab_doc_idle(doc);
}


/*
 * Committed: every op is encoded once and published; local delivery and
 * the acks wait until Redis has taken the last PUBLISH, so that a client
 * on another worker sees an op about when its submitter sees the ack.
 */
static void
ngx_http_collab_commit_success(ngx_http_collab_doc_t *doc)
{
    int                            rc;
    uint64_t                       v;
    ngx_int_t                      last;
    ngx_queue_t                   *q;
    collab_msg_str_t               data;
    collab_msg_op_head_t           h;
    ngx_http_collab_submit_t      *s;
    ngx_http_collab_doc_worker_t  *w;

    w = &ngx_http_collab_doc_worker;

    h.c.data = (const char *) doc->c.data;
    h.c.len = doc->c.len;
    h.d.data = (const char *) doc->d.data;
    h.d.len = doc->d.len;

    v = doc->v;
    last = NGX_DECLINED;

    for (q = ngx_queue_head(&doc->batch);
         q != ngx_queue_sentinel(&doc->batch);
         q = ngx_queue_next(q))
    {
        s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);

        h.src.data = (const char *) s->src.data;
        h.src.len = s->src.len;
        h.v = v++;
        h.seq = s->seq;

        switch (s->kind) {

        case NGX_HTTP_COLLAB_DOC_CREATE:
            data.data = (const char *) s->data.data;
            data.len = s->data.len;
            rc = collab_msg_enc_op_create(&w->enc, &h, &data);
            break;

        case NGX_HTTP_COLLAB_DOC_DEL:
            rc = collab_msg_enc_op_del(&w->enc, &h);
            break;

        default:
            rc = collab_msg_enc_op(&w->enc, &h, ngx_http_collab_commit_emit,
                                   s);
            break;
        }

        if (rc != COLLAB_MSG_OK) {
            /* committed but not deliverable: subscribers will refetch */
            ngx_log_error(NGX_LOG_ERR, w->log, 0,
                          "collab: no memory to deliver v%uL of \"%V\"",
                          h.v, &doc->name);
            continue;
        }

        last = ngx_http_collab_fanout_publish(doc,
                                        collab_msg_enc_data(&w->enc),
                                        w->enc.len,
                                        ngx_queue_next(q)
                                        == ngx_queue_sentinel(&doc->batch)
                                        ? ngx_http_collab_commit_published
                                        : NULL,
                                        doc);

        if (s->frame) {
            ngx_http_collab_frame_release(s->frame);
        }

        s->frame = ngx_http_collab_frame_text(collab_msg_enc_data(&w->enc),
                                              w->enc.len, w->log);
    }

    if (last == NGX_OK) {
        doc->publish_pending++;
        doc->refs++;

        if (!doc->remote_quiet) {
            /* others may be subscribed: they should see it about now */
            doc->committing = 1;
            doc->publishing = 1;
            doc->publish_end = v;
            return;
        }
    }

    ngx_http_collab_commit_deliver(doc);
}


static void
ngx_http_collab_commit_published(redisReply *reply, void *data)
{
    ngx_http_collab_doc_t  *doc = data;

    if (doc->gone) {
        ngx_http_collab_doc_unref(doc);
        return;
    }

    doc->refs--;
    doc->publish_pending--;

    /*
     * The receivers of the last PUBLISH: only this worker's subscription
     * (or none) means no one elsewhere waits, and later acks need not
     * wait for Redis.
     */

    if (reply && reply->type == REDIS_REPLY_INTEGER) {
        doc->remote_quiet = (reply->integer <= (doc->channel_on ? 1 : 0));

    } else {
        doc->remote_quiet = 0;
    }

    if (!doc->publishing || doc->publish_pending) {
        return;
    }

    doc->committing = 0;
    doc->publishing = 0;

    ngx_http_collab_commit_deliver(doc);

    if (doc->catchup_again) {
        doc->catchup_again = 0;
        ngx_http_collab_doc_catch_up(doc);
    }

    ngx_http_collab_commit_run(doc);
    ngx_http_collab_doc_idle(doc);
}


/* advances the document op by op: delivery and acks in version order */
static void
ngx_http_collab_commit_deliver(ngx_http_collab_doc_t *doc)
{
    uint64_t                       v, before;
    ngx_int_t                      delivered;
    ngx_queue_t                   *q;
    collab_msg_op_head_t           h;
    ngx_http_collab_frame_t       *ack;
    ngx_http_collab_submit_t      *s;
    ngx_http_collab_doc_worker_t  *w;

    w = &ngx_http_collab_doc_worker;

    before = doc->v;

    h.c.data = (const char *) doc->c.data;
    h.c.len = doc->c.len;
    h.d.data = (const char *) doc->d.data;
    h.d.len = doc->d.len;

    while (!ngx_queue_empty(&doc->batch)) {
        q = ngx_queue_head(&doc->batch);
        s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);
        ngx_queue_remove(q);
        doc->nbatch--;

        v = doc->v;

        h.src.data = (const char *) s->src.data;
        h.src.len = s->src.len;
        h.v = v;
        h.seq = s->seq;

        ack = NULL;

        if (s->ws && collab_msg_enc_op_ack(&w->enc, &h) == COLLAB_MSG_OK) {
            ack = ngx_http_collab_frame_text(collab_msg_enc_data(&w->enc),
                                             w->enc.len, w->log);
        }

        doc->own_apply = 1;

        delivered = ngx_http_collab_doc_advance(doc, s->kind, &s->bop,
                                                (const char *) s->data.data,
                                                s->data.len, &s->src, s->seq,
                                                s->frame,
                                                ack ? s->ws : NULL, ack);
        doc->own_apply = 0;

        if (delivered == NGX_OK && s->ws && ack) {
            /* not subscribed: the ops it has not seen, then its ack */
            if (s->kind == NGX_HTTP_COLLAB_DOC_OP) {
                (void) ngx_http_collab_doc_send_ring(doc, s->ws, s->v, v);
            }

            (void) ngx_http_collab_ws_send(s->ws, ack);
        }

        if (ack) {
            ngx_http_collab_frame_release(ack);
        }

        ngx_http_collab_submit_free(s);

        if (delivered == NGX_ERROR) {
            /* the document is being reloaded */
            ngx_http_collab_commit_requeue(doc);
            return;
        }
    }

    ngx_http_collab_commit_snapshot(doc, before);
}


/* the batch goes back to the front of the queue, in order */
static void
ngx_http_collab_commit_requeue(ngx_http_collab_doc_t *doc)
{
    ngx_queue_t               *q;
    ngx_http_collab_submit_t  *s;

    while (!ngx_queue_empty(&doc->batch)) {
        q = ngx_queue_last(&doc->batch);
        s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);

        ngx_queue_remove(q);
        ngx_queue_insert_head(&doc->submits, q);
        doc->nsubmits++;

        collab_op_reset(&s->bop);
    }

    doc->nbatch = 0;

    if (doc->work) {
        collab_text_free(doc->work);
        doc->work = NULL;
    }
}


static void
ngx_http_collab_commit_fail_batch(ngx_http_collab_doc_t *doc,
    const char *code, const char *message)
{
    ngx_queue_t               *q;
    ngx_http_collab_submit_t  *s;

    while (!ngx_queue_empty(&doc->batch)) {
        q = ngx_queue_head(&doc->batch);
        s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);
        ngx_queue_remove(q);

        ngx_http_collab_commit_error(s, code, message);
        ngx_http_collab_submit_free(s);
    }

    doc->nbatch = 0;

    if (doc->work) {
        collab_text_free(doc->work);
        doc->work = NULL;
    }
}


/* an op found already committed at v: its ack, after what it missed */
static void
ngx_http_collab_commit_ack(ngx_http_collab_doc_t *doc,
    ngx_http_collab_submit_t *s, uint64_t v)
{
    collab_msg_op_head_t           h;
    ngx_http_collab_doc_worker_t  *w;

    if (s->ws == NULL) {
        return;
    }

    w = &ngx_http_collab_doc_worker;

    h.c.data = (const char *) doc->c.data;
    h.c.len = doc->c.len;
    h.d.data = (const char *) doc->d.data;
    h.d.len = doc->d.len;
    h.src.data = (const char *) s->src.data;
    h.src.len = s->src.len;
    h.v = v;
    h.seq = s->seq;

    if (s->has_v && s->v < v) {
        (void) ngx_http_collab_doc_send_ring(doc, s->ws, s->v, v);
    }

    if (collab_msg_enc_op_ack(&w->enc, &h) == COLLAB_MSG_OK) {
        (void) ngx_http_collab_ws_send_text(s->ws,
                                            collab_msg_enc_data(&w->enc),
                                            w->enc.len);
    }
}


static void
ngx_http_collab_commit_error(ngx_http_collab_submit_t *s, const char *code,
    const char *message)
{
    if (s->ws == NULL) {
        return;
    }

    ngx_http_collab_commit_reply_error(s->ws, &s->raw, code, message);
}


/* every collab_snapshot_interval versions, fire and forget */
static void
ngx_http_collab_commit_snapshot(ngx_http_collab_doc_t *doc, uint64_t before)
{
    size_t       len;
    u_char      *p;
    ngx_str_t    type, text;
    ngx_uint_t   every;

    every = ngx_http_collab_doc_worker.cmcf->snapshot_interval;

    if (!doc->exists || every == 0 || doc->v / every == before / every) {
        return;
    }

    len = collab_text_bytes(doc->text);

    p = ngx_alloc(len + 1, ngx_http_collab_doc_worker.log);
    if (p == NULL) {
        return;
    }

    collab_text_copy(doc->text, (char *) p);

    text.data = p;
    text.len = len;
    ngx_str_set(&type, COLLAB_MSG_TYPE_TEXT_UNICODE);

    (void) ngx_http_collab_store_snapshot(&doc->c, &doc->d, (int64_t) doc->v,
                                          &type, &text);
    doc->snapshot_v = doc->v;

    ngx_free(p);
}


static void
ngx_http_collab_submit_free(ngx_http_collab_submit_t *s)
{
    if (s->ws) {
        ngx_queue_remove(&s->sq);
        s->ws = NULL;
    }

    collab_op_free(&s->op);
    collab_op_free(&s->bop);

    if (s->frame) {
        ngx_http_collab_frame_release(s->frame);
    }

    if (s->json) {
        free(s->json);
    }

    ngx_free(s);
}


/* the create data as a JSON string, the way the store keeps it */
static ngx_int_t
ngx_http_collab_commit_json_string(ngx_http_collab_submit_t *s)
{
    size_t                len;
    yajl_gen              g;
    const unsigned char  *buf;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NGX_ERROR;
    }

    if (yajl_gen_string(g, s->data.data, s->data.len) != yajl_gen_status_ok
        || yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
    {
        yajl_gen_free(g);
        return NGX_ERROR;
    }

    s->json = malloc(len + 1);
    if (s->json == NULL) {
        yajl_gen_free(g);
        return NGX_ERROR;
    }

    ngx_memcpy(s->json, buf, len);
    s->json[len] = '\0';
    s->json_len = len;

    yajl_gen_free(g);

    return NGX_OK;
}


static ngx_uint_t
ngx_http_collab_commit_same(ngx_str_t *src, uint64_t seq, ngx_str_t *src2,
    uint64_t seq2)
{
    return seq == seq2 && src->len == src2->len && src->len
           && ngx_memcmp(src->data, src2->data, src->len) == 0;
}


static int
ngx_http_collab_commit_emit(yajl_gen g, void *ctx)
{
    ngx_http_collab_submit_t  *s = ctx;

    return collab_msg_emit_raw(g, s->json, s->json_len);
}
