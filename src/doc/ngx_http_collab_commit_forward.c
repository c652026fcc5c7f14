/*
 * Forwarding (see ngx_http_collab_commit.c): a worker refused the lock
 * publishes its queued ops ("S") on the document channel; the holder
 * commits them in its batches and the origin acks when the committed op
 * with that (src, seq) comes back; what the holder cannot take bounces
 * ("B"), and what stays unanswered is taken back after a timeout.
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


/* NGX_OK: every queued op went to the holder */
ngx_int_t
ngx_http_collab_commit_forward(ngx_http_collab_doc_t *doc)
{
    u_char                    *buf, *p;
    size_t                     size;
    ngx_int_t                  rc;
    ngx_queue_t               *q, *next;
    ngx_http_collab_submit_t  *s;

    for (q = ngx_queue_head(&doc->submits);
         q != ngx_queue_sentinel(&doc->submits);
         q = next)
    {
        next = ngx_queue_next(q);
        s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);

        if (s->kind != NGX_HTTP_COLLAB_DOC_OP || !s->has_v || s->no_forward)
        {
            continue;
        }

        size = 1 + 3 * (NGX_INT64_LEN + 1) + s->src.len + s->principal.len
               + s->raw.len;

        buf = ngx_alloc(size, ngx_http_collab_doc_worker.log);
        if (buf == NULL) {
            break;
        }

        p = ngx_sprintf(buf, "%c%P %uz %uz ", NGX_HTTP_COLLAB_NUDGE_SUBMIT,
                        ngx_pid, s->src.len, s->principal.len);
        p = ngx_cpymem(p, s->src.data, s->src.len);
        p = ngx_cpymem(p, s->principal.data, s->principal.len);
        p = ngx_cpymem(p, s->raw.data, s->raw.len);

        rc = ngx_http_collab_redis_publish_cb(&doc->channel, buf, p - buf,
                                      ngx_http_collab_commit_forward_sent,
                                      doc);
        ngx_free(buf);

        if (rc != NGX_OK) {
            break;
        }

        doc->refs++;

        ngx_queue_remove(q);
        doc->nsubmits--;
        ngx_queue_insert_tail(&doc->forwarded, q);
        doc->nforwarded++;

        s->fwd_time = ngx_current_msec;
        ngx_http_collab_commit_stats.forwarded++;
    }

    if (doc->nforwarded && !doc->fwd_timer.timer_set) {
        ngx_add_timer(&doc->fwd_timer, NGX_HTTP_COLLAB_COMMIT_FWD_TIMEOUT);
    }

    return ngx_queue_empty(&doc->submits) ? NGX_OK : NGX_DECLINED;
}


/* nobody but this worker heard it: there is no holder to forward to */
void
ngx_http_collab_commit_forward_sent(redisReply *reply, void *data)
{
    ngx_http_collab_doc_t  *doc = data;

    if (ngx_http_collab_doc_back(doc) != NGX_OK) {
        return;
    }

    if ((reply == NULL || reply->type != REDIS_REPLY_INTEGER
         || reply->integer <= (doc->channel_on ? 1 : 0))
        && doc->nforwarded)
    {
        doc->forwarding = 0;
        ngx_http_collab_commit_take_back(doc, 1);
        ngx_http_collab_commit_run(doc);
    }

    ngx_http_collab_doc_idle(doc);
}


/* forwarded ops back to the front of the queue, in order */
void
ngx_http_collab_commit_take_back(ngx_http_collab_doc_t *doc,
    ngx_uint_t no_forward)
{
    ngx_queue_t               *q;
    ngx_http_collab_submit_t  *s;

    while (!ngx_queue_empty(&doc->forwarded)) {
        q = ngx_queue_last(&doc->forwarded);
        s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);

        ngx_queue_remove(q);
        doc->nforwarded--;
        ngx_queue_insert_head(&doc->submits, q);
        doc->nsubmits++;

        if (no_forward) {
            s->no_forward = 1;
        }

        ngx_http_collab_commit_stats.fwd_back++;
    }

    if (doc->fwd_timer.timer_set) {
        ngx_del_timer(&doc->fwd_timer);
    }
}


void
ngx_http_collab_commit_fwd_handler(ngx_event_t *ev)
{
    ngx_http_collab_doc_t  *doc = ev->data;

    ngx_msec_t                 age;
    ngx_queue_t               *q;
    ngx_http_collab_submit_t  *s;

    if (ngx_queue_empty(&doc->forwarded)) {
        ngx_http_collab_doc_idle(doc);
        return;
    }

    q = ngx_queue_head(&doc->forwarded);
    s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);

    age = ngx_current_msec - s->fwd_time;

    if (age < NGX_HTTP_COLLAB_COMMIT_FWD_TIMEOUT) {
        ngx_add_timer(ev, NGX_HTTP_COLLAB_COMMIT_FWD_TIMEOUT - age);
        return;
    }

    /* the holder went quiet: commit them here, under the lock */
    ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                  "collab: forwarded ops of \"%V\" unanswered, taking them "
                  "back", &doc->name);

    doc->forwarding = 0;
    ngx_http_collab_commit_take_back(doc, 1);
    ngx_http_collab_commit_run(doc);

    if (!doc->gone) {
        ngx_http_collab_doc_idle(doc);
    }
}


/* "S<pid> <src len> <principal len> <src><principal><raw op message>" */
void
ngx_http_collab_commit_received(ngx_http_collab_doc_t *doc, ngx_pid_t pid,
    u_char *p, u_char *last)
{
    ngx_int_t                  slen, plen;
    ngx_str_t                  src, principal;
    const char                *code, *message;
    collab_msg_t              *m;
    collab_msg_err_t           err;
    ngx_http_collab_submit_t  *s;

    /* whatever happens, a release from now on says "free" */
    doc->contended = 1;

    if (doc->lock_state != NGX_HTTP_COLLAB_LOCK_LOCKED
        || doc->release_pending || doc->state != NGX_HTTP_COLLAB_DOC_READY
        || ngx_http_collab_doc_worker.exiting || ngx_exiting)
    {
        /*
         * Not the holder (any more), or about to let go as the worker
         * exits: its "free" sends the origin back
         */
        return;
    }

    p = ngx_http_collab_commit_field(p, last, &slen);
    if (p == NULL) {
        return;
    }

    p = ngx_http_collab_commit_field(p, last, &plen);
    if (p == NULL || last - p <= slen + plen) {
        return;
    }

    src.data = p;
    src.len = slen;
    p += slen;

    principal.data = p;
    principal.len = plen;
    p += plen;

    m = &ngx_http_collab_commit_msg;

    if (collab_msg_decode((const char *) p, last - p, m, &err)
        != COLLAB_MSG_OK
        || m->action != COLLAB_MSG_A_OP || m->kind != COLLAB_MSG_OP_EDIT
        || !m->has_v)
    {
        collab_msg_free(m);
        return;
    }

    s = ngx_http_collab_submit_new(m, p, last - p, &src, &principal, NULL,
                                   &code, &message);
    collab_msg_free(m);

    if (s == NULL) {
        /* the origin's timeout takes it back */
        return;
    }

    ngx_http_collab_commit_stats.fwd_received++;

    s->origin = pid;

    ngx_http_collab_commit_submit(doc, s);
}


/* "B<pid> <seq> <src>": the holder did not commit it */
void
ngx_http_collab_commit_bounced(ngx_http_collab_doc_t *doc, u_char *p,
    u_char *last)
{
    ngx_int_t                  seq;
    ngx_str_t                  src;
    ngx_queue_t               *q;
    ngx_http_collab_submit_t  *s;

    p = ngx_http_collab_commit_field(p, last, &seq);
    if (p == NULL) {
        return;
    }

    src.data = p;
    src.len = last - p;

    for (q = ngx_queue_head(&doc->forwarded);
         q != ngx_queue_sentinel(&doc->forwarded);
         q = ngx_queue_next(q))
    {
        s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);

        if (!ngx_http_collab_commit_same(&s->src, s->seq, &src,
                                         (uint64_t) seq))
        {
            continue;
        }

        ngx_queue_remove(q);
        doc->nforwarded--;
        ngx_queue_insert_head(&doc->submits, q);
        doc->nsubmits++;
        s->no_forward = 1;

        if (doc->nforwarded == 0 && doc->fwd_timer.timer_set) {
            ngx_del_timer(&doc->fwd_timer);
        }

        ngx_http_collab_commit_run(doc);
        return;
    }
}


void
ngx_http_collab_commit_bounce(ngx_http_collab_submit_t *s)
{
    u_char                 *buf, *p;
    size_t                  size;
    ngx_http_collab_doc_t  *doc;

    doc = s->doc;

    if (doc == NULL || doc->channel.data == NULL) {
        return;
    }

    size = 1 + 2 * (NGX_INT64_LEN + 1) + s->src.len;

    buf = ngx_alloc(size, ngx_http_collab_doc_worker.log);
    if (buf == NULL) {
        return;
    }

    p = ngx_sprintf(buf, "%c%P %uL ", NGX_HTTP_COLLAB_NUDGE_BOUNCE,
                    s->origin, s->seq);
    p = ngx_cpymem(p, s->src.data, s->src.len);

    ngx_http_collab_commit_stats.bounced++;

    (void) ngx_http_collab_redis_publish(&doc->channel, buf, p - buf);

    ngx_free(buf);

    /* answered once */
    s->origin = 0;
}


ngx_http_collab_submit_t *
ngx_http_collab_commit_forwarded(ngx_http_collab_doc_t *doc, ngx_str_t *src,
    uint64_t seq, ngx_http_collab_frame_t **ack)
{
    ngx_queue_t               *q;
    ngx_http_collab_submit_t  *s;

    *ack = NULL;

    for (q = ngx_queue_head(&doc->forwarded);
         q != ngx_queue_sentinel(&doc->forwarded);
         q = ngx_queue_next(q))
    {
        s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);

        if (!ngx_http_collab_commit_same(&s->src, s->seq, src, seq)) {
            continue;
        }

        ngx_queue_remove(q);
        doc->nforwarded--;

        if (doc->nforwarded == 0 && doc->fwd_timer.timer_set) {
            ngx_del_timer(&doc->fwd_timer);
        }

        ngx_http_collab_commit_stats.fwd_acked++;

        if (s->ws == NULL) {
            return s;
        }

        *ack = ngx_http_collab_commit_ack_frame(doc, s, doc->v);

        return s;
    }

    return NULL;
}


void
ngx_http_collab_commit_forwarded_done(ngx_http_collab_doc_t *doc,
    ngx_http_collab_submit_t *s, ngx_http_collab_frame_t *ack,
    ngx_int_t delivered, uint64_t v)
{
    if (delivered == NGX_ERROR) {
        /* the document reloads: the op goes again, (src, seq) acks it */
        if (ack) {
            ngx_http_collab_frame_release(ack);
        }

        s->no_forward = 1;
        ngx_queue_insert_head(&doc->submits, &s->queue);
        doc->nsubmits++;
        return;
    }

    if (delivered == NGX_OK && s->ws && ack) {
        /* not subscribed: the ops it has not seen, then its ack */
        ngx_http_collab_commit_reply(doc, s, v, ack);
    }

    if (ack) {
        ngx_http_collab_frame_release(ack);
    }

    ngx_http_collab_submit_free(s);
}


/* a decimal number followed by a space */
u_char *
ngx_http_collab_commit_field(u_char *p, u_char *last, ngx_int_t *n)
{
    u_char  *start;

    start = p;

    while (p < last && *p >= '0' && *p <= '9') {
        p++;
    }

    if (p == start || p == last || *p != ' ') {
        *n = ngx_atoi(start, p - start);
        return (*n == NGX_ERROR || p != last) ? NULL : p;
    }

    *n = ngx_atoi(start, p - start);

    return *n == NGX_ERROR ? NULL : p + 1;
}


/*
 * After a batch is settled (committed, published or failed): a gap seen
 * meanwhile is caught up first, then the next batch goes, or the document
 * may go idle.
 */
void
ngx_http_collab_commit_resume(ngx_http_collab_doc_t *doc)
{
    if (doc->catchup_again) {
        doc->catchup_again = 0;
        ngx_http_collab_doc_catch_up(doc);
    }

    ngx_http_collab_commit_run(doc);
    ngx_http_collab_doc_idle(doc);
}
