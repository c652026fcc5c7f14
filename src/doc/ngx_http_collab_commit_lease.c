/*
 * The document lock as a lease (see ngx_http_collab_commit.c for the whole
 * state machine): taken before a batch, kept while ops keep coming
 * (extended every lock_ttl/3), released after an idle linger or when
 * another worker says it waits ("want" / "free" nudges on the document
 * channel), given back on graceful exit, checked again when Redis returns.
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
#include "protocol/ngx_http_collab_src.h"
#include "status/ngx_http_collab_status.h"


/* a nudge of another worker arrived on the document channel */
void
ngx_http_collab_commit_nudge(ngx_http_collab_doc_t *doc, u_char *payload,
    size_t len)
{
    u_char     *p, *last;
    ngx_int_t   pid;

    last = payload + len;

    p = ngx_http_collab_commit_field(payload + 1, last, &pid);
    if (p == NULL) {
        return;
    }

    if (payload[0] == NGX_HTTP_COLLAB_NUDGE_BOUNCE) {
        if ((ngx_pid_t) pid == ngx_pid) {
            ngx_http_collab_commit_bounced(doc, p, last);
        }

        return;
    }

    if ((ngx_pid_t) pid == ngx_pid) {
        return;
    }

    if (payload[0] == NGX_HTTP_COLLAB_NUDGE_SUBMIT) {
        ngx_http_collab_commit_received(doc, (ngx_pid_t) pid, p, last);
        return;
    }

    if (payload[0] == NGX_HTTP_COLLAB_NUDGE_WANT) {
        ngx_http_collab_commit_stats.wants_heard++;

        doc->wanted = 1;
        doc->contended = 1;

        if (doc->lock_state != NGX_HTTP_COLLAB_LOCK_LOCKED
            || doc->committing)
        {
            /* the batch in flight completes first */
            return;
        }

        if (ngx_queue_empty(&doc->submits)) {
            if (doc->linger.timer_set) {
                ngx_del_timer(&doc->linger);
            }

            doc->wanted = 0;
            ngx_http_collab_commit_release(doc);
            ngx_http_collab_doc_idle(doc);
            return;
        }

        ngx_http_collab_commit_run(doc);
        return;
    }

    if (payload[0] != NGX_HTTP_COLLAB_NUDGE_FREE) {
        return;
    }

    ngx_http_collab_commit_stats.frees_heard++;

    if (doc->forwarding || doc->nforwarded) {
        /* what the holder did not commit before it let go */
        doc->forwarding = 0;
        ngx_http_collab_commit_take_back(doc, 0);

        if (doc->lock_state == NGX_HTTP_COLLAB_LOCK_NONE
            && doc->lock_retry.timer_set)
        {
            ngx_del_timer(&doc->lock_retry);
        }

        ngx_http_collab_commit_run(doc);
        return;
    }

    if (doc->lock_state == NGX_HTTP_COLLAB_LOCK_ACQUIRING) {
        /* a refusal on its way may predate this release */
        doc->freed = 1;
        return;
    }

    if (doc->lock_state == NGX_HTTP_COLLAB_LOCK_NONE
        && doc->lock_retry.timer_set && !ngx_queue_empty(&doc->submits))
    {
        ngx_del_timer(&doc->lock_retry);
        doc->yielded = 0;
        ngx_http_collab_commit_run(doc);
    }
}


ngx_uint_t
ngx_http_collab_commit_idle(ngx_http_collab_doc_t *doc)
{
    return (doc->lock_state == NGX_HTTP_COLLAB_LOCK_NONE
            || doc->lock_state == NGX_HTTP_COLLAB_LOCK_SKIP)
           && doc->lock.op == NULL && !doc->lock_retry.timer_set
           && !doc->linger.timer_set && !doc->fwd_timer.timer_set;
}


/* NGX_OK: the batch may be committed now */
ngx_int_t
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
        ngx_http_collab_commit_stats.acquires++;
        doc->lock_asked = collab_latency_now();
        doc->lock_state = NGX_HTTP_COLLAB_LOCK_ACQUIRING;
        doc->freed = 0;
        ngx_http_collab_commit_drain();
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


void
ngx_http_collab_commit_locked(ngx_http_collab_lock_result_e rc, void *data)
{
    ngx_http_collab_doc_t  *doc = data;

    switch (rc) {

    case NGX_HTTP_COLLAB_LOCK_OK:
        ngx_http_collab_commit_latency_lock(collab_latency_now()
                                            - doc->lock_asked);
        doc->lock_state = NGX_HTTP_COLLAB_LOCK_LOCKED;
        doc->lock_time = ngx_current_msec;
        doc->lock_backoff = 0;
        doc->tenure = 0;
        doc->yielded = 0;
        break;

    case NGX_HTTP_COLLAB_LOCK_HELD:
        /*
         * Another worker commits this document: tell it, and try again
         * when it says "free" (or after a backoff, should that be lost).
         */
        ngx_http_collab_commit_stats.refused++;
        doc->lock_state = NGX_HTTP_COLLAB_LOCK_NONE;

        if (!doc->contended || !doc->channel_on) {
            doc->contended = 1;
            ngx_http_collab_fanout_channel_on(doc);
        }

        if (doc->channel_active && !doc->freed) {
            /* the holder hears the channel: send it the ops */
            doc->forwarding = 1;

            if (ngx_http_collab_commit_forward(doc) == NGX_OK) {
                return;
            }
        }

        ngx_http_collab_commit_nudge_send(doc, NGX_HTTP_COLLAB_NUDGE_WANT);

        if (doc->freed) {
            /* released meanwhile */
            doc->freed = 0;
            ngx_http_collab_commit_later(doc, 1);
            return;
        }

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


void
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

        if (doc->lock_state == NGX_HTTP_COLLAB_LOCK_LOCKED) {
            ngx_http_collab_commit_release(doc);
            return;
        }

        /* lost meanwhile: nothing to release, but the queue goes on */
        doc->yielded = 0;
    }

    ngx_http_collab_commit_run(doc);
    ngx_http_collab_doc_idle(doc);
}


void
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
        ngx_http_collab_commit_stats.releases++;
        doc->lock_state = NGX_HTTP_COLLAB_LOCK_RELEASING;
        ngx_http_collab_commit_drain();
        return;
    }

    /* Redis is down: the lock expires by itself or is given back later */
    doc->lock_state = NGX_HTTP_COLLAB_LOCK_NONE;
}


void
ngx_http_collab_commit_released(ngx_http_collab_lock_result_e rc,
    void *data)
{
    ngx_http_collab_doc_t  *doc = data;

    doc->lock_state = NGX_HTTP_COLLAB_LOCK_NONE;

    if (doc->contended) {
        /* after the ops published on the same connection */
        ngx_http_collab_commit_nudge_send(doc, NGX_HTTP_COLLAB_NUDGE_FREE);
    }

    if (doc->yielded) {
        /* let the waiting worker take it; it says "free" when done */
        doc->yielded = 0;

        if (!ngx_queue_empty(&doc->submits)) {
            ngx_http_collab_commit_nudge_send(doc,
                                              NGX_HTTP_COLLAB_NUDGE_WANT);
            ngx_http_collab_commit_later(doc, NGX_HTTP_COLLAB_COMMIT_YIELD);
            return;
        }
    }

    if (!ngx_queue_empty(&doc->submits)) {
        ngx_http_collab_commit_run(doc);
        return;
    }

    ngx_http_collab_doc_idle(doc);
}


/* a graceful exit begins: every lock goes back, the idle ones now */
void
ngx_http_collab_commit_shutdown(void *data)
{
    ngx_queue_t            *q;
    ngx_http_collab_doc_t  *doc;

    for (q = ngx_queue_head(&ngx_http_collab_doc_worker.all);
         q != ngx_queue_sentinel(&ngx_http_collab_doc_worker.all);
         q = ngx_queue_next(q))
    {
        doc = ngx_queue_data(q, ngx_http_collab_doc_t, all);

        /* busy ones follow after their batch: no linger while exiting */
        if (doc->lock_state == NGX_HTTP_COLLAB_LOCK_LOCKED
            && !doc->committing && ngx_queue_empty(&doc->submits))
        {
            if (doc->linger.timer_set) {
                ngx_del_timer(&doc->linger);
            }

            ngx_http_collab_commit_release(doc);
        }
    }

    ngx_http_collab_commit_drain();
}


/* an exiting worker takes or gives back a lock: it waits for the reply */
void
ngx_http_collab_commit_drain(void)
{
    ngx_http_collab_commit_group_t  *g;

    g = &ngx_http_collab_commit_group;

    if (!ngx_exiting || g->drain.timer_set) {
        return;
    }

    g->drain_start = ngx_current_msec;
    ngx_add_timer(&g->drain, NGX_HTTP_COLLAB_COMMIT_DRAIN_TICK);
}


/* keeps the exiting worker until its locks are back, or for the bound */
void
ngx_http_collab_commit_drain_handler(ngx_event_t *ev)
{
    ngx_uint_t                       n;
    ngx_queue_t                     *q;
    ngx_http_collab_doc_t           *doc;
    ngx_http_collab_commit_group_t  *g;

    g = ev->data;
    n = 0;

    for (q = ngx_queue_head(&ngx_http_collab_doc_worker.all);
         q != ngx_queue_sentinel(&ngx_http_collab_doc_worker.all);
         q = ngx_queue_next(q))
    {
        doc = ngx_queue_data(q, ngx_http_collab_doc_t, all);

        if (doc->lock_state == NGX_HTTP_COLLAB_LOCK_LOCKED
            || doc->lock_state == NGX_HTTP_COLLAB_LOCK_ACQUIRING
            || doc->lock_state == NGX_HTTP_COLLAB_LOCK_RELEASING)
        {
            n++;
        }
    }

    if (n == 0 && ngx_http_collab_redis_lock_pending() == 0) {
        return;
    }

    if (ngx_current_msec - g->drain_start >= NGX_HTTP_COLLAB_COMMIT_DRAIN) {
        ngx_log_error(NGX_LOG_NOTICE, ev->log, 0,
                      "collab: exiting with %ui document locks not given "
                      "back: they expire after collab_lock_ttl", n);
        return;
    }

    ngx_add_timer(ev, NGX_HTTP_COLLAB_COMMIT_DRAIN_TICK);
}


/*
 * A Redis connection is back: check held locks now (the key may have
 * gone with a restart), give back stale ones that would block other
 * workers, lock again what was committed without the lock, and end the
 * backoff waits, which are for a holder that may well be gone.
 */
void
ngx_http_collab_commit_reconnected(void *data)
{
    ngx_queue_t            *q;
    ngx_http_collab_doc_t  *doc;

    for (q = ngx_queue_head(&ngx_http_collab_doc_worker.all);
         q != ngx_queue_sentinel(&ngx_http_collab_doc_worker.all);
         q = ngx_queue_next(q))
    {
        doc = ngx_queue_data(q, ngx_http_collab_doc_t, all);

        if (doc->lock.key.data == NULL) {
            continue;
        }

        if (doc->lock_state == NGX_HTTP_COLLAB_LOCK_SKIP) {
            /* the next batch takes the lock again */
            doc->lock_state = NGX_HTTP_COLLAB_LOCK_NONE;
        }

        if (doc->lock_state == NGX_HTTP_COLLAB_LOCK_LOCKED
            && doc->lock.op == NULL)
        {
            if (ngx_http_collab_redis_lock_extend(&doc->lock,
                                          ngx_http_collab_commit_extended,
                                          doc)
                == NGX_OK)
            {
                doc->lock_time = ngx_current_msec;
            }

        } else if (doc->lock_state == NGX_HTTP_COLLAB_LOCK_NONE
                   && doc->lock.stale && doc->lock.op == NULL
                   && ngx_queue_empty(&doc->submits))
        {
            (void) ngx_http_collab_redis_lock_release(&doc->lock,
                                          ngx_http_collab_commit_released,
                                          doc);
        }

        if (doc->lock_retry.timer_set) {
            /* from the event loop: commit_run() may free documents */
            ngx_del_timer(&doc->lock_retry);
            doc->lock_backoff = 0;
            ngx_add_timer(&doc->lock_retry, 1);
        }
    }
}


/*
 * The queue is empty: keep the lock a moment, as a client usually sends
 * its next op right after its ack; then let it go.
 */
void
ngx_http_collab_commit_linger(ngx_http_collab_doc_t *doc)
{
    /* another worker waits, or this one exits: let go at once */
    if (doc->lock_state != NGX_HTTP_COLLAB_LOCK_LOCKED || doc->wanted
        || ngx_exiting)
    {
        doc->wanted = 0;
        ngx_http_collab_commit_release(doc);
        ngx_http_collab_doc_idle(doc);
        return;
    }

    if (!doc->linger.timer_set) {
        ngx_add_timer(&doc->linger, NGX_HTTP_COLLAB_COMMIT_LINGER);
    }
}


void
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


void
ngx_http_collab_commit_retry_handler(ngx_event_t *ev)
{
    ngx_http_collab_doc_t  *doc = ev->data;

    ngx_http_collab_commit_run(doc);

    if (!doc->gone) {
        ngx_http_collab_doc_idle(doc);
    }
}


void
ngx_http_collab_commit_later(ngx_http_collab_doc_t *doc, ngx_msec_t ms)
{
    if (!doc->lock_retry.timer_set) {
        ngx_add_timer(&doc->lock_retry, ms ? ms : 1);
    }
}


void
ngx_http_collab_commit_nudge_send(ngx_http_collab_doc_t *doc, u_char type)
{
    u_char  *p;
    u_char   buf[NGX_INT64_LEN + 1];

    if (doc->channel.data == NULL) {
        return;
    }

    if (type == NGX_HTTP_COLLAB_NUDGE_WANT) {
        ngx_http_collab_commit_stats.wants_sent++;
    }

    buf[0] = type;
    p = ngx_sprintf(buf + 1, "%P", ngx_pid);

    (void) ngx_http_collab_redis_publish(&doc->channel, buf, p - buf);
}
