/*
 * The commit state machine of one document:
 *
 *   queue non-empty -> lock (Redis SET NX PX; skipped without Redis, and
 *   when Redis is down: the op log's primary key is the real fence) ->
 *   build a batch (transform, dedup, validate on the working copy) ->
 *   store_commit -> OK: advance + deliver + ack + publish, next batch;
 *   CONFLICT/UNKNOWN: catch up from PostgreSQL, retransform, retry
 *   (bounded); DUPLICATE: the one entry whose (src, seq) is committed is
 *   answered alone, the rest retried; UNAVAILABLE/ERROR: every op of the
 *   batch gets an error.
 *
 * Lock tenure: the holder keeps the lock while ops keep coming (extended
 * every lock_ttl/3) and releases it after an idle linger, or after its
 * current batch when another worker says it waits: a worker refused the
 * lock publishes a "want" nudge on the document channel, a releaser a
 * "free" nudge that makes waiting workers try again at once (no backoff
 * sleep).  Workers that take turns on a document keep its channel to
 * hear these nudges.  Nudges are hints: backoff timers stay the fallback
 * and the op log's primary key stays the fence.
 *
 * Locks outlive neither the worker nor a Redis outage: when a graceful
 * exit begins (reload, QUIT) every idle lock is released at once and busy
 * ones right after their batch, the worker staying up to
 * NGX_HTTP_COLLAB_COMMIT_DRAIN ms for the replies; when a Redis
 * connection comes back, held locks are checked at once, stale ones (a
 * release that missed Redis) given back, lockless documents lock again
 * and backoff waits end.
 *
 * Forwarding: a worker refused the lock publishes its queued ops ("S")
 * on the document channel instead; the holder commits them in its own
 * batches, and the origin acks its session when the committed op with
 * that (src, seq) arrives on the channel.  An op the holder cannot take
 * comes back ("B", bounce) and the origin processes it itself; so do ops
 * still out when the holder says "free", when nobody else heard the
 * PUBLISH, or after a timeout.  Resending is safe: (src, seq) dedups.
 *
 * Only one batch per document is in flight; ops that arrive meanwhile
 * form the next one, which is what makes a hot document fast.
 *
 * Group commit: the batches of many documents ready in one event loop
 * turn go to PostgreSQL in one statement (one transaction), with at most
 * collab_postgres_pool such statements out; batches that become ready
 * meanwhile wait for the next one.  A document whose head moved is left
 * out of the transaction and retried alone, as is every document of a
 * statement that failed as a whole.
 *
 * This file holds the batch itself: submits in, prepare, store, deliver,
 * ack.  The lock lease is in _lease.c, forwarding in _forward.c, group
 * commit in _group.c, transforms against history in _rebase.c, stage
 * timings in _latency.c; what they share in _int.h.
 */

#include "ngx_http_collab.h"
#include "store/ngx_http_collab_store.h"
#include "engine/collab_ot_json.h"
#include "doc/ngx_http_collab_doc.h"
#include "doc/ngx_http_collab_commit.h"
#include "doc/ngx_http_collab_commit_int.h"
#include "doc/ngx_http_collab_commit_latency.h"
#include "doc/ngx_http_collab_doc_resync.h"
#include "doc/ngx_http_collab_fanout.h"
#include "cache/ngx_http_collab_cache.h"
#include "protocol/ngx_http_collab_src.h"
#include "status/ngx_http_collab_status.h"


static ngx_int_t ngx_http_collab_commit_prepare(ngx_http_collab_doc_t *doc,
    ngx_http_collab_submit_t *s, ngx_uint_t n);
static ngx_uint_t ngx_http_collab_commit_fail_queued(
    ngx_http_collab_doc_t *doc, uint64_t wait_us);
static ngx_int_t ngx_http_collab_commit_duplicate(ngx_http_collab_doc_t *doc,
    ngx_http_collab_store_result_t *res);
static void ngx_http_collab_commit_success(ngx_http_collab_doc_t *doc);
static void ngx_http_collab_commit_published(redisReply *reply, void *data);
static void ngx_http_collab_commit_deliver(ngx_http_collab_doc_t *doc);
static void ngx_http_collab_commit_requeue(ngx_http_collab_doc_t *doc);
static void ngx_http_collab_commit_fail_batch(ngx_http_collab_doc_t *doc,
    const char *code, const char *message);
static void ngx_http_collab_commit_missed(ngx_http_collab_doc_req_t *req,
    ngx_int_t rc);
static void ngx_http_collab_commit_snapshot(ngx_http_collab_doc_t *doc,
    uint64_t before);
static ngx_int_t ngx_http_collab_commit_json_string(
    ngx_http_collab_submit_t *s);
static int ngx_http_collab_commit_emit(yajl_gen g, void *ctx);
static void ngx_http_collab_commit_status(ngx_http_collab_status_t *st);


collab_msg_t                    ngx_http_collab_commit_msg;
ngx_http_collab_commit_stats_t  ngx_http_collab_commit_stats;
ngx_http_collab_commit_group_t  ngx_http_collab_commit_group;


ngx_int_t
ngx_http_collab_commit_init_process(void)
{
    ngx_http_collab_commit_group_t  *g;

    ngx_memzero(&ngx_http_collab_commit_stats,
                sizeof(ngx_http_collab_commit_stats_t));

    g = &ngx_http_collab_commit_group;
    ngx_memzero(g, sizeof(ngx_http_collab_commit_group_t));
    ngx_queue_init(&g->pending);

    g->flush.handler = ngx_http_collab_commit_flush_handler;
    g->flush.data = g;
    g->flush.log = ngx_cycle->log;

    /* not cancelable: it holds an exiting worker, briefly */
    g->drain.handler = ngx_http_collab_commit_drain_handler;
    g->drain.data = g;
    g->drain.log = ngx_cycle->log;

    ngx_http_collab_redis_on_lock_events(ngx_http_collab_commit_reconnected,
                                         ngx_http_collab_commit_shutdown,
                                         NULL);

    if (ngx_http_collab_commit_latency_init_process() != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_collab_status_add_section("commit",
                                              ngx_http_collab_commit_status);
}


void
ngx_http_collab_commit_exit_process(void)
{
    ngx_http_collab_commit_group_t  *g;

    g = &ngx_http_collab_commit_group;

    if (g->flush.posted) {
        ngx_delete_posted_event(&g->flush);
    }

    if (g->drain.timer_set) {
        ngx_del_timer(&g->drain);
    }
}


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

    doc->fwd_timer.handler = ngx_http_collab_commit_fwd_handler;
    doc->fwd_timer.data = doc;
    doc->fwd_timer.log = ngx_http_collab_doc_worker.log;
    doc->fwd_timer.cancelable = 1;

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

    if (doc->fwd_timer.timer_set) {
        ngx_del_timer(&doc->fwd_timer);
    }

    while (!ngx_queue_empty(&doc->forwarded)) {
        q = ngx_queue_head(&doc->forwarded);
        s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);
        ngx_queue_remove(q);
        ngx_http_collab_submit_free(s);
    }

    doc->nforwarded = 0;

    if (doc->grouped) {
        doc->grouped = 0;
        ngx_queue_remove(&doc->gq);
        ngx_http_collab_commit_group.npending--;
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

    s->stamps.received = collab_latency_now();

    collab_op_init(&s->op);
    collab_op_init(&s->bop);

    p = (u_char *) (s + 1);

    /* an empty string may have a NULL data: memcpy() must not see it */

    s->src.data = p;
    s->src.len = osrc.len;

    if (osrc.len) {
        p = ngx_cpymem(p, osrc.data, osrc.len);
    }

    *p++ = '\0';

    s->principal.data = p;
    s->principal.len = principal->len;

    if (principal->len) {
        p = ngx_cpymem(p, principal->data, principal->len);
    }

    *p++ = '\0';

    s->raw.data = p;
    s->raw.len = len;

    if (len) {
        p = ngx_cpymem(p, raw, len);
    }

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

        if (msg->create_data.len) {
            p = ngx_cpymem(p, msg->create_data.data, msg->create_data.len);
        }

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
    if (s->missing) {
        /* a carrier: nobody is left to answer */
        ngx_http_collab_doc_cancel(&s->missed);
        ngx_http_collab_submit_free(s);
        return;
    }

    if (s->ws) {
        s->ws = NULL;
        ngx_queue_remove(&s->sq);
    }
}


void
ngx_http_collab_commit_run(ngx_http_collab_doc_t *doc)
{
    uint64_t                   t;
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

    if (doc->release_pending) {
        return;
    }

    if (ngx_queue_empty(&doc->submits)) {
        ngx_http_collab_commit_linger(doc);
        return;
    }

    if (doc->linger.timer_set) {
        ngx_del_timer(&doc->linger);
    }

    if (doc->forwarding && doc->lock_state == NGX_HTTP_COLLAB_LOCK_NONE
        && ngx_http_collab_commit_forward(doc) == NGX_OK)
    {
        return;
    }

    if (doc->lock_state == NGX_HTTP_COLLAB_LOCK_LOCKED && doc->wanted
        && doc->tenure > 0)
    {
        /* another worker waits: its turn, ours again after it */
        ngx_http_collab_commit_stats.yields++;
        doc->wanted = 0;
        doc->yielded = 1;
        ngx_http_collab_commit_release(doc);
        return;
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

        t = collab_latency_now();
        rc = ngx_http_collab_commit_prepare(doc, s, n);
        s->stamps.batched = collab_latency_now();
        s->stamps.transform += s->stamps.batched - t;

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


/*
 * The queued submits that waited wait_us or longer get the error (none
 * of them was committed); returns how many still wait.
 */
static ngx_uint_t
ngx_http_collab_commit_fail_queued(ngx_http_collab_doc_t *doc,
    uint64_t wait_us)
{
    uint64_t                   now;
    ngx_uint_t                 n;
    ngx_queue_t               *q, *next;
    ngx_http_collab_submit_t  *s;

    now = collab_latency_now();
    n = 0;

    for (q = ngx_queue_head(&doc->submits);
         q != ngx_queue_sentinel(&doc->submits);
         q = next)
    {
        next = ngx_queue_next(q);
        s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);

        if (now - s->stamps.received < wait_us) {
            n++;
            continue;
        }

        ngx_queue_remove(q);
        doc->nsubmits--;

        ngx_http_collab_commit_error(s, COLLAB_MSG_ERR_UNKNOWN,
                                     NGX_HTTP_COLLAB_COMMIT_UNAVAILABLE);
        ngx_http_collab_submit_free(s);
    }

    return n;
}


void
ngx_http_collab_commit_fail(ngx_http_collab_doc_t *doc, ngx_int_t rc)
{
    (void) ngx_http_collab_commit_fail_queued(doc, 0);
}


/*
 * The ops queued longer than collab_commit_wait get an error, the others
 * keep waiting for the database; returns how many still wait.
 */
ngx_uint_t
ngx_http_collab_commit_expire(ngx_http_collab_doc_t *doc)
{
    ngx_uint_t  n;

    n = ngx_http_collab_commit_fail_queued(doc,
                (uint64_t) ngx_http_collab_doc_worker.cmcf->commit_wait * 1000);

    if (n) {
        ngx_log_error(NGX_LOG_INFO, ngx_http_collab_doc_worker.log, 0,
                      "collab: \"%V\": %ui op(s) wait for PostgreSQL",
                      &doc->name, n);
    }

    return n;
}


/* ms before the next try while the database is away: 50 ms to 1 s */
ngx_msec_t
ngx_http_collab_commit_backoff(ngx_http_collab_doc_t *doc)
{
    doc->db_backoff = doc->db_backoff ? ngx_min(doc->db_backoff * 2, 1000)
                                      : 50;

    return doc->db_backoff;
}


/*
 * The copy is thrown away: a queued op was made against it, so its
 * submitter is closed with NGX_HTTP_COLLAB_CLOSE_RELOADED like the
 * subscribers, unanswered; an error would make the stock client roll the
 * user's edit back, while an op left unacknowledged can be sent again.
 */
void
ngx_http_collab_commit_reset(ngx_http_collab_doc_t *doc)
{
    ngx_queue_t               *q;
    ngx_http_collab_ws_t      *ws;
    ngx_http_collab_submit_t  *s;

    while (!ngx_queue_empty(&doc->submits)) {
        q = ngx_queue_head(&doc->submits);
        s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);
        ngx_queue_remove(q);
        doc->nsubmits--;

        ws = s->ws;
        ngx_http_collab_submit_free(s);

        if (ws) {
            /* may free the session, which detaches its other submits */
            ngx_http_collab_ws_close(ws, NGX_HTTP_COLLAB_CLOSE_RELOADED,
                                     "document reloaded: fetch it again");
        }
    }

    doc->retries = 0;
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
                    ngx_http_collab_commit_resend(s, e->kind, &e->op, w);
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

    if (ngx_http_collab_commit_too_old(doc, s)) {
        ngx_http_collab_commit_error(s, COLLAB_MSG_ERR_SUBMIT_REJECTED,
                                     "Op too far behind the document to "
                                     "transform (collab_max_op_lag)");
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


void
ngx_http_collab_commit_send_one(ngx_http_collab_doc_t *doc)
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


void
ngx_http_collab_commit_done(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res)
{
    ngx_http_collab_doc_t  *doc = data;

    if (ngx_http_collab_doc_back(doc) != NGX_OK) {
        ngx_http_collab_store_result_free(res);
        return;
    }
    doc->committing = 0;

    if (rc == NGX_HTTP_COLLAB_STORE_DUPLICATE
        && ngx_http_collab_commit_duplicate(doc, res) == NGX_OK)
    {
        /* only that op was answered: the rest retry, not counted */
        ngx_http_collab_store_result_free(res);

        ngx_http_collab_commit_requeue(doc);
        ngx_http_collab_doc_catch_up(doc);

        if (!doc->catching_up) {
            ngx_http_collab_commit_run(doc);
        }

        ngx_http_collab_doc_idle(doc);
        return;
    }

    ngx_http_collab_store_result_free(res);

    switch (rc) {

    case NGX_HTTP_COLLAB_STORE_OK:
        doc->retries = 0;
        doc->db_backoff = 0;
        doc->tenure++;

        ngx_http_collab_commit_stats.batches++;
        ngx_http_collab_commit_stats.ops += doc->nbatch;

        if (doc->nbatch > ngx_http_collab_commit_stats.max_batch) {
            ngx_http_collab_commit_stats.max_batch = doc->nbatch;
        }

        ngx_http_collab_commit_success(doc);

        break;

    case NGX_HTTP_COLLAB_STORE_CONFLICT:
    case NGX_HTTP_COLLAB_STORE_ALREADY_EXISTS:
    case NGX_HTTP_COLLAB_STORE_DUPLICATE:
    case NGX_HTTP_COLLAB_STORE_UNKNOWN:
    case NGX_HTTP_COLLAB_STORE_NOT_FOUND:

        /*
         * Someone else committed first (a stale or lost lock, or no lock),
         * or the outcome is unknown: read what the log has, then retry;
         * our own ops, if they landed, are found there by (src, seq).
         * The read also tells whether the copy itself is wrong (a head
         * above the log's, or no such document: the doc's resync).
         */

        ngx_http_collab_commit_stats.conflicts++;

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

        /* the last op the copy has is read back and compared */
        if (doc->v && doc->verify_v == 0) {
            doc->verify_v = doc->v;
        }

        ngx_http_collab_doc_catch_up(doc);

        if (!doc->catching_up) {
            ngx_http_collab_commit_later(doc, 10);
        }

        return;

    case NGX_HTTP_COLLAB_STORE_UNAVAILABLE:
        /*
         * The statement did not run: the batch waits for the database,
         * tried again with a backoff, and only ops older than
         * collab_commit_wait get an error.
         */
        ngx_http_collab_commit_requeue(doc);

        if (ngx_http_collab_commit_expire(doc) == 0) {
            doc->db_backoff = 0;
            break;
        }

        ngx_http_collab_commit_later(doc, ngx_http_collab_commit_backoff(doc));
        return;

    default:
        ngx_http_collab_commit_fail_batch(doc, COLLAB_MSG_ERR_UNKNOWN,
                                          "Database error: the op was not "
                                          "committed");
        break;
    }

    ngx_http_collab_commit_resume(doc);
}


/*
 * A unique violation on (src, seq): the store says which batch entry and
 * at what version its (src, seq) is committed.  If this worker has that
 * version, the entry alone is answered: acked as the resend it is (as
 * ShareDB does), or rejected if the op there is not the same.
 * NGX_DECLINED: not known here yet, the whole batch is retried after a
 * catch-up.
 */
static ngx_int_t
ngx_http_collab_commit_duplicate(ngx_http_collab_doc_t *doc,
    ngx_http_collab_store_result_t *res)
{
    uint64_t                   v;
    ngx_uint_t                 i;
    ngx_queue_t               *q;
    ngx_http_collab_doc_op_t  *e;
    ngx_http_collab_submit_t  *s;

    if (res == NULL || res->dup_version <= 0
        || res->dup_index >= doc->nbatch)
    {
        return NGX_DECLINED;
    }

    /* the wire version the committed op applied at */
    v = (uint64_t) res->dup_version - 1;

    if (v >= doc->v) {
        return NGX_DECLINED;
    }

    q = ngx_queue_head(&doc->batch);

    for (i = 0; i < res->dup_index; i++) {
        q = ngx_queue_next(q);
    }

    s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);

    e = ngx_http_collab_doc_ring_get(doc, v);

    if (e == NULL) {
        return NGX_DECLINED;
    }

    ngx_queue_remove(q);
    doc->nbatch--;

    ngx_http_collab_commit_stats.conflicts++;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_http_collab_doc_worker.log, 0,
                   "collab commit: \"%V\" entry %ui is committed at v%uL",
                   &doc->name, res->dup_index, v);

    /*
     * s was made at a version after v (a resend from before v is found in
     * the ring when it is prepared): a client that had seen its own op
     * would not resend it, so only the very same op is acked; another op
     * under that (src, seq) is refused, not retried (a retry meets the
     * same duplicate again, and the batch's other ops with it).
     */

    if (ngx_http_collab_commit_same(&e->src, e->seq, &s->src, s->seq)) {
        if (e->kind == s->kind
            && (e->kind != NGX_HTTP_COLLAB_DOC_OP
                || collab_op_equal(&e->op, &s->bop)))
        {
            ngx_http_collab_commit_ack(doc, s, v);

        } else {
            ngx_log_error(NGX_LOG_INFO, ngx_http_collab_doc_worker.log, 0,
                          "collab: \"%V\": another op is committed under "
                          "this src and seq at v%uL", &doc->name, v);
            ngx_http_collab_commit_error(s, COLLAB_MSG_ERR_SEQ_TAKEN,
                                         "Another op is committed under "
                                         "this src and seq");
        }

    } else {
        ngx_http_collab_commit_error(s, COLLAB_MSG_ERR_SUBMIT_REJECTED,
                                     "Op already submitted");
    }

    ngx_http_collab_submit_free(s);

    return NGX_OK;
}


/*
 * Committed: every op is encoded once and published (pipelined), then
 * delivered and acked at once: the ack needs the COMMIT only.  Order
 * across workers does not need the PUBLISH replies either: a receiver
 * applies ops in version order and fills gaps from the database, and the
 * "free" nudge follows the ops on the same Redis connection.
 */
static void
ngx_http_collab_commit_success(ngx_http_collab_doc_t *doc)
{
    int                            rc;
    uint64_t                       v, now;
    ngx_int_t                      last;
    ngx_queue_t                   *q;
    collab_msg_str_t               data;
    collab_msg_op_head_t           h;
    ngx_http_collab_submit_t      *s;
    ngx_http_collab_doc_worker_t  *w;
    u_char                         pub[NGX_HTTP_COLLAB_SRC_LEN];

    w = &ngx_http_collab_doc_worker;

    v = doc->v;
    last = NGX_DECLINED;
    now = collab_latency_now();

    for (q = ngx_queue_head(&doc->batch);
         q != ngx_queue_sentinel(&doc->batch);
         q = ngx_queue_next(q))
    {
        s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);
        s->stamps.answered = now;

        /* subscribers see the public form; the real src goes to Redis */
        ngx_http_collab_src_public(s->src.data, s->src.len, pub);

        ngx_http_collab_doc_op_head(doc, &h, pub,
                                    s->src.len ? NGX_HTTP_COLLAB_SRC_LEN : 0,
                                    v++, s->seq);

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

        last = ngx_http_collab_fanout_publish(doc, &s->src,
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
        doc->publish_sent = now;
        doc->refs++;
    }

    ngx_http_collab_commit_deliver(doc);
}


static void
ngx_http_collab_commit_published(redisReply *reply, void *data)
{
    ngx_http_collab_doc_t  *doc = data;

    if (ngx_http_collab_doc_back(doc) != NGX_OK) {
        return;
    }
    doc->publish_pending--;

    ngx_http_collab_commit_latency_publish(collab_latency_now()
                                           - doc->publish_sent);

    /*
     * The receivers of the last PUBLISH: only this worker's subscription
     * (or none) means no one elsewhere waits, and later acks need not
     * wait for Redis.
     */

    if (reply && reply->type == REDIS_REPLY_INTEGER) {
        doc->remote_quiet = (reply->integer <= (doc->channel_on ? 1 : 0));

        if (!doc->remote_quiet && !doc->contended) {
            /* another worker follows it: listen for its nudges */
            doc->contended = 1;
            ngx_http_collab_fanout_channel_on(doc);
        }

    } else {
        doc->remote_quiet = 0;
    }

    /* acks do not wait for the PUBLISH: they went out in success() */
}


/* advances the document op by op: delivery and acks in version order */
static void
ngx_http_collab_commit_deliver(ngx_http_collab_doc_t *doc)
{
    uint64_t                   v, before;
    ngx_int_t                  delivered;
    ngx_queue_t               *q;
    ngx_http_collab_frame_t   *ack;
    ngx_http_collab_submit_t  *s;

    before = doc->v;

    while (!ngx_queue_empty(&doc->batch)) {
        q = ngx_queue_head(&doc->batch);
        s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);
        ngx_queue_remove(q);
        doc->nbatch--;

        v = doc->v;

        ack = s->ws ? ngx_http_collab_commit_ack_frame(doc, s, v) : NULL;

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
                ngx_http_collab_commit_reply(doc, s, v, ack);

            } else {
                (void) ngx_http_collab_ws_send(s->ws, ack);
            }
        }

        if (ack) {
            ngx_http_collab_frame_release(ack);

            if (delivered == NGX_OK) {
                ngx_http_collab_commit_latency_acked(&s->stamps);
            }
        }

        ngx_http_collab_submit_free(s);

        if (delivered == NGX_ERROR) {
            /* the document is being reloaded */
            ngx_http_collab_commit_requeue(doc);
            return;
        }
    }

    ngx_http_collab_commit_snapshot(doc, before);

    /* after the acks went out; a delete leaves a versioned tombstone */
    if (doc->v > before) {
        ngx_http_collab_cache_put(&doc->name, doc->v,
                                  doc->exists ? doc->text : NULL);
    }
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
void
ngx_http_collab_commit_ack(ngx_http_collab_doc_t *doc,
    ngx_http_collab_submit_t *s, uint64_t v)
{
    ngx_http_collab_frame_t  *ack;

    if (s->origin) {
        ngx_http_collab_commit_bounce(s);
        return;
    }

    if (s->ws == NULL) {
        return;
    }

    ack = ngx_http_collab_commit_ack_frame(doc, s, v);
    if (ack == NULL) {
        return;
    }

    ngx_http_collab_commit_reply(doc, s, v, ack);

    ngx_http_collab_frame_release(ack);
}


/* the ack of submit s, committed at v, as a new frame; NULL: no memory */
ngx_http_collab_frame_t *
ngx_http_collab_commit_ack_frame(ngx_http_collab_doc_t *doc,
    ngx_http_collab_submit_t *s, uint64_t v)
{
    collab_msg_op_head_t           h;
    ngx_http_collab_doc_worker_t  *w;

    w = &ngx_http_collab_doc_worker;

    ngx_http_collab_doc_op_head(doc, &h, s->src.data, s->src.len, v, s->seq);

    if (collab_msg_enc_op_ack(&w->enc, &h) != COLLAB_MSG_OK) {
        return NULL;
    }

    return ngx_http_collab_frame_text(collab_msg_enc_data(&w->enc), w->enc.len,
                                      w->log);
}


/*
 * To a submitter that is not subscribed: the ops [s->v, v) it had not
 * seen, then its ack (ShareDB's order: the client checks that the ack's
 * version is its own).  What the ring no longer holds is read from
 * PostgreSQL by a carrier, kept in the session's list of submits so that
 * a close cancels it.
 */
void
ngx_http_collab_commit_reply(ngx_http_collab_doc_t *doc,
    ngx_http_collab_submit_t *s, uint64_t v, ngx_http_collab_frame_t *ack)
{
    ngx_queue_t                *q;
    ngx_http_collab_submit_t   *r;
    ngx_http_collab_doc_req_t  *req;

    /* an earlier reply to this socket still waits: acks keep their order */
    for (q = ngx_queue_head(&doc->waiters);
         q != ngx_queue_sentinel(&doc->waiters);
         q = ngx_queue_next(q))
    {
        req = ngx_queue_data(q, ngx_http_collab_doc_req_t, queue);

        if (req->handler == ngx_http_collab_commit_missed
            && req->ws == s->ws)
        {
            goto carrier;
        }
    }

    if (!s->has_v || s->v >= v
        || ngx_http_collab_doc_send_ring(doc, s->ws, s->v, v) != NGX_DECLINED)
    {
        (void) ngx_http_collab_ws_send(s->ws, ack);
        return;
    }

carrier:

    r = ngx_calloc(sizeof(ngx_http_collab_submit_t),
                   ngx_http_collab_doc_worker.log);
    if (r == NULL) {
        /* the client sees the version jump and fetches */
        (void) ngx_http_collab_ws_send(s->ws, ack);
        return;
    }

    r->doc = doc;
    r->ws = s->ws;
    ngx_queue_insert_after(&s->sq, &r->sq);

    ngx_http_collab_frame_retain(ack);
    r->ack = ack;
    r->missing = 1;

    r->missed.handler = ngx_http_collab_commit_missed;
    r->missed.data = r;
    r->missed.ws = s->ws;
    r->missed.since = (s->has_v && s->v < v) ? s->v : v;
    r->missed.until = v;
    r->missed.want_ops = (r->missed.since < v);

    /* the handler may run before this returns */
    ngx_http_collab_doc_wait(doc, &r->missed);
}


static void
ngx_http_collab_commit_missed(ngx_http_collab_doc_req_t *req, ngx_int_t rc)
{
    ngx_http_collab_submit_t  *r = req->data;

    r->missing = 0;

    if (r->ws) {
        if (rc != NGX_OK) {
            ngx_log_error(NGX_LOG_INFO, ngx_http_collab_doc_worker.log, 0,
                          "collab: an ack of \"%V\" goes without the ops "
                          "before it (the database is unavailable)",
                          &r->doc->name);
        }

        /* committed either way: without the ops the client refetches */
        (void) ngx_http_collab_ws_send(r->ws, r->ack);
    }

    ngx_http_collab_submit_free(r);
}


void
ngx_http_collab_commit_error(ngx_http_collab_submit_t *s, const char *code,
    const char *message)
{
    if (s->origin) {
        /* its origin answers it: it processes the op itself */
        ngx_http_collab_commit_bounce(s);
        return;
    }

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

    ngx_free(p);
}


void
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

    if (s->ack) {
        ngx_http_collab_frame_release(s->ack);
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


ngx_uint_t
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


static void
ngx_http_collab_commit_status(ngx_http_collab_status_t *st)
{
    ngx_http_collab_commit_stats_t  *cs;

    cs = &ngx_http_collab_commit_stats;

    ngx_http_collab_status_counter(st, "batches", cs->batches);
    ngx_http_collab_status_counter(st, "ops", cs->ops);
    ngx_http_collab_status_gauge(st, "max_batch", (int64_t) cs->max_batch);
    ngx_http_collab_status_counter(st, "lock_acquires", cs->acquires);
    ngx_http_collab_status_counter(st, "lock_refused", cs->refused);
    ngx_http_collab_status_counter(st, "lock_releases", cs->releases);
    ngx_http_collab_status_counter(st, "lock_yields", cs->yields);
    ngx_http_collab_status_counter(st, "wants_sent", cs->wants_sent);
    ngx_http_collab_status_counter(st, "wants_heard", cs->wants_heard);
    ngx_http_collab_status_counter(st, "frees_heard", cs->frees_heard);
    ngx_http_collab_status_counter(st, "conflicts", cs->conflicts);
    ngx_http_collab_status_counter(st, "forwarded", cs->forwarded);
    ngx_http_collab_status_counter(st, "fwd_received", cs->fwd_received);
    ngx_http_collab_status_counter(st, "fwd_acked", cs->fwd_acked);
    ngx_http_collab_status_counter(st, "fwd_taken_back", cs->fwd_back);
    ngx_http_collab_status_counter(st, "bounced", cs->bounced);
    ngx_http_collab_status_counter(st, "group_commits", cs->groups);
    ngx_http_collab_status_counter(st, "grouped_docs", cs->grouped_docs);
}


