/*
 * What the parts of the commit path share (ngx_http_collab_commit.c: the
 * batch; _lease.c: the document lock; _forward.c: ops sent to the lock
 * holder; _group.c: group commit; _rebase.c: transforms against history).
 * Private to src/doc/ngx_http_collab_commit*.c.
 */

#ifndef _NGX_HTTP_COLLAB_COMMIT_INT_H_INCLUDED_
#define _NGX_HTTP_COLLAB_COMMIT_INT_H_INCLUDED_


#include "ngx_http_collab.h"
#include "store/ngx_http_collab_store.h"
#include "doc/ngx_http_collab_doc.h"
#include "doc/ngx_http_collab_commit.h"


#define NGX_HTTP_COLLAB_COMMIT_BATCH     512
#define NGX_HTTP_COLLAB_COMMIT_RETRIES   16

/* the error of an op PostgreSQL could not take */
#define NGX_HTTP_COLLAB_COMMIT_UNAVAILABLE                                    \
    "Database unavailable: the op was not committed"

/* ms an idle queue keeps the lock for the next op */
#define NGX_HTTP_COLLAB_COMMIT_LINGER    20

/* ms a worker that handed the lock over waits for the "free" nudge */
#define NGX_HTTP_COLLAB_COMMIT_YIELD     2

/* nudges on the document channel: a byte, then the sender's pid */
#define NGX_HTTP_COLLAB_NUDGE_WANT       'W'
#define NGX_HTTP_COLLAB_NUDGE_FREE       'F'
#define NGX_HTTP_COLLAB_NUDGE_SUBMIT     'S'
#define NGX_HTTP_COLLAB_NUDGE_BOUNCE     'B'

/* documents in one group commit at most */
#define NGX_HTTP_COLLAB_COMMIT_GROUP     256

/* ms a forwarded op may stay unanswered before the origin takes it back */
#define NGX_HTTP_COLLAB_COMMIT_FWD_TIMEOUT  500

/* ms an exiting worker waits at most for its locks to be released */
#define NGX_HTTP_COLLAB_COMMIT_DRAIN        500
#define NGX_HTTP_COLLAB_COMMIT_DRAIN_TICK   5

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


/* debug counters shown by collab_status */
typedef struct {
    uint64_t                   batches;
    uint64_t                   ops;
    uint64_t                   max_batch;
    uint64_t                   acquires;
    uint64_t                   refused;
    uint64_t                   releases;
    uint64_t                   yields;
    uint64_t                   wants_sent;
    uint64_t                   wants_heard;
    uint64_t                   frees_heard;
    uint64_t                   conflicts;
    uint64_t                   forwarded;
    uint64_t                   fwd_received;
    uint64_t                   fwd_acked;
    uint64_t                   fwd_back;
    uint64_t                   bounced;
    uint64_t                   groups;
    uint64_t                   grouped_docs;
} ngx_http_collab_commit_stats_t;


/* the worker's group commits */
typedef struct {
    ngx_queue_t                pending;     /* docs with a batch ready */
    ngx_uint_t                 npending;
    ngx_uint_t                 inflight;    /* statements out */
    ngx_event_t                flush;       /* posted: at the turn's end */
    ngx_event_t                drain;       /* exiting: locks going back */
    ngx_msec_t                 drain_start;
} ngx_http_collab_commit_group_t;


typedef struct {
    ngx_uint_t                 n;
    ngx_http_collab_doc_t     *docs[1];
} ngx_http_collab_commit_greq_t;


extern collab_msg_t                    ngx_http_collab_commit_msg;
extern ngx_http_collab_commit_stats_t  ngx_http_collab_commit_stats;
extern ngx_http_collab_commit_group_t  ngx_http_collab_commit_group;


ngx_int_t ngx_http_collab_commit_lock(ngx_http_collab_doc_t *doc);
void ngx_http_collab_commit_locked(ngx_http_collab_lock_result_e rc,
    void *data);
void ngx_http_collab_commit_extended(
    ngx_http_collab_lock_result_e rc, void *data);
void ngx_http_collab_commit_released(
    ngx_http_collab_lock_result_e rc, void *data);
void ngx_http_collab_commit_release(ngx_http_collab_doc_t *doc);
void ngx_http_collab_commit_shutdown(void *data);
void ngx_http_collab_commit_drain(void);
void ngx_http_collab_commit_drain_handler(ngx_event_t *ev);
void ngx_http_collab_commit_reconnected(void *data);
void ngx_http_collab_commit_retry_handler(ngx_event_t *ev);
void ngx_http_collab_commit_linger(ngx_http_collab_doc_t *doc);
void ngx_http_collab_commit_linger_handler(ngx_event_t *ev);
void ngx_http_collab_commit_later(ngx_http_collab_doc_t *doc,
    ngx_msec_t ms);
ngx_uint_t ngx_http_collab_commit_too_old(ngx_http_collab_doc_t *doc,
    ngx_http_collab_submit_t *s);
ngx_int_t ngx_http_collab_commit_past(ngx_http_collab_submit_t *s,
    ngx_uint_t kind, collab_op_t *op, ngx_str_t *src, uint64_t seq,
    uint64_t v);
const char *ngx_http_collab_commit_transform(
    ngx_http_collab_submit_t *s, collab_op_t *op, ngx_uint_t kind,
    collab_op_t *other, ngx_uint_t okind, const char **message);
void ngx_http_collab_commit_history(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res);
void ngx_http_collab_commit_send(ngx_http_collab_doc_t *doc);
void ngx_http_collab_commit_done(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res);
void ngx_http_collab_commit_resend(ngx_http_collab_submit_t *s,
    ngx_uint_t kind, collab_op_t *op, uint64_t v);
void ngx_http_collab_commit_resume(ngx_http_collab_doc_t *doc);
void ngx_http_collab_commit_reply(ngx_http_collab_doc_t *doc,
    ngx_http_collab_submit_t *s, uint64_t v, ngx_http_collab_frame_t *ack);
void ngx_http_collab_commit_ack(ngx_http_collab_doc_t *doc,
    ngx_http_collab_submit_t *s, uint64_t v);
void ngx_http_collab_commit_error(ngx_http_collab_submit_t *s,
    const char *code, const char *message);
void ngx_http_collab_submit_free(ngx_http_collab_submit_t *s);
ngx_uint_t ngx_http_collab_commit_same(ngx_str_t *src, uint64_t seq,
    ngx_str_t *src2, uint64_t seq2);
void ngx_http_collab_commit_nudge_send(ngx_http_collab_doc_t *doc,
    u_char type);
ngx_int_t ngx_http_collab_commit_forward(ngx_http_collab_doc_t *doc);
void ngx_http_collab_commit_forward_sent(redisReply *reply,
    void *data);
void ngx_http_collab_commit_take_back(ngx_http_collab_doc_t *doc,
    ngx_uint_t no_forward);
void ngx_http_collab_commit_fwd_handler(ngx_event_t *ev);
void ngx_http_collab_commit_received(ngx_http_collab_doc_t *doc,
    ngx_pid_t pid, u_char *p, u_char *last);
void ngx_http_collab_commit_bounced(ngx_http_collab_doc_t *doc,
    u_char *p, u_char *last);
void ngx_http_collab_commit_bounce(ngx_http_collab_submit_t *s);
u_char *ngx_http_collab_commit_field(u_char *p, u_char *last,
    ngx_int_t *n);
void ngx_http_collab_commit_send_one(ngx_http_collab_doc_t *doc);
void ngx_http_collab_commit_flush_handler(ngx_event_t *ev);
ngx_int_t ngx_http_collab_commit_send_group(void);
void ngx_http_collab_commit_group_done(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res);


ngx_http_collab_frame_t *ngx_http_collab_commit_ack_frame(
    ngx_http_collab_doc_t *doc, ngx_http_collab_submit_t *s, uint64_t v);


#endif /* _NGX_HTTP_COLLAB_COMMIT_INT_H_INCLUDED_ */
