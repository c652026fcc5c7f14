/*
 * Where a commit's time goes: each acknowledged op's stages, measured on
 * a monotonic microsecond clock and shown by collab_status (section
 * "commit_latency": count, sum_us, p50_us, p99_us, max_us per stage).
 *
 *   queue      received -> taken into a batch (waiting for the lock, the
 *              commit before, a catch-up, history)
 *   transform  the op's own transform and apply (part of queue+prepare)
 *   prepare    taken -> the statement sent (the rest of the batch)
 *   store      sent -> PostgreSQL answered (pool wait, round trip, fsync)
 *   deliver    answered -> ack written (publish sent, subscribers fed)
 *   total      received -> ack written
 *
 * and per batch the Redis round trips of its lock acquire and of its
 * last PUBLISH.
 */

#ifndef _NGX_HTTP_COLLAB_COMMIT_LATENCY_H_INCLUDED_
#define _NGX_HTTP_COLLAB_COMMIT_LATENCY_H_INCLUDED_


#include "ngx_http_collab.h"
#include "status/collab_latency.h"


/* the stamps a submit carries, in us (collab_latency_now) */
typedef struct {
    uint64_t  received;
    uint64_t  batched;
    uint64_t  sent;
    uint64_t  answered;
    uint64_t  transform;      /* accumulated */
} ngx_http_collab_commit_stamps_t;


ngx_int_t ngx_http_collab_commit_latency_init_process(void);

/* an op acknowledged now */
void ngx_http_collab_commit_latency_acked(
    ngx_http_collab_commit_stamps_t *st);

void ngx_http_collab_commit_latency_lock(uint64_t us);
void ngx_http_collab_commit_latency_publish(uint64_t us);


#endif /* _NGX_HTTP_COLLAB_COMMIT_LATENCY_H_INCLUDED_ */
