/*
 * Commit stage latencies (see ngx_http_collab_commit_latency.h).
 */

#include "ngx_http_collab.h"
#include "status/ngx_http_collab_status.h"
#include "doc/ngx_http_collab_commit_latency.h"


typedef enum {
    NGX_HTTP_COLLAB_STAGE_QUEUE = 0,
    NGX_HTTP_COLLAB_STAGE_TRANSFORM,
    NGX_HTTP_COLLAB_STAGE_PREPARE,
    NGX_HTTP_COLLAB_STAGE_STORE,
    NGX_HTTP_COLLAB_STAGE_DELIVER,
    NGX_HTTP_COLLAB_STAGE_TOTAL,
    NGX_HTTP_COLLAB_STAGE_LOCK,
    NGX_HTTP_COLLAB_STAGE_PUBLISH,
    NGX_HTTP_COLLAB_NSTAGES
} ngx_http_collab_stage_e;


static void ngx_http_collab_commit_latency_status(
    ngx_http_collab_status_t *st);


static const char  *ngx_http_collab_stage_names[NGX_HTTP_COLLAB_NSTAGES] = {
    "queue", "transform", "prepare", "store", "deliver", "total",
    "lock_acquire", "publish"
};

/* per worker; a few KB */
static collab_latency_t  ngx_http_collab_stages[NGX_HTTP_COLLAB_NSTAGES];


ngx_int_t
ngx_http_collab_commit_latency_init_process(void)
{
    ngx_memzero(ngx_http_collab_stages, sizeof(ngx_http_collab_stages));

    return ngx_http_collab_status_add_section("commit_latency",
                                      ngx_http_collab_commit_latency_status);
}


void
ngx_http_collab_commit_latency_acked(ngx_http_collab_commit_stamps_t *st)
{
    uint64_t  now;

    if (st->received == 0 || st->batched < st->received
        || st->sent < st->batched || st->answered < st->sent)
    {
        /* not through the whole path (a resend acked from history) */
        return;
    }

    now = collab_latency_now();

    collab_latency_add(&ngx_http_collab_stages[NGX_HTTP_COLLAB_STAGE_QUEUE],
                       st->batched - st->received);
    collab_latency_add(
        &ngx_http_collab_stages[NGX_HTTP_COLLAB_STAGE_TRANSFORM],
        st->transform);
    collab_latency_add(&ngx_http_collab_stages[NGX_HTTP_COLLAB_STAGE_PREPARE],
                       st->sent - st->batched);
    collab_latency_add(&ngx_http_collab_stages[NGX_HTTP_COLLAB_STAGE_STORE],
                       st->answered - st->sent);
    collab_latency_add(&ngx_http_collab_stages[NGX_HTTP_COLLAB_STAGE_DELIVER],
                       now - st->answered);
    collab_latency_add(&ngx_http_collab_stages[NGX_HTTP_COLLAB_STAGE_TOTAL],
                       now - st->received);
}


void
ngx_http_collab_commit_latency_lock(uint64_t us)
{
    collab_latency_add(&ngx_http_collab_stages[NGX_HTTP_COLLAB_STAGE_LOCK],
                       us);
}


void
ngx_http_collab_commit_latency_publish(uint64_t us)
{
    collab_latency_add(&ngx_http_collab_stages[NGX_HTTP_COLLAB_STAGE_PUBLISH],
                       us);
}


static void
ngx_http_collab_commit_latency_status(ngx_http_collab_status_t *st)
{
    ngx_uint_t         i;
    collab_latency_t  *l;

    for (i = 0; i < NGX_HTTP_COLLAB_NSTAGES; i++) {
        l = &ngx_http_collab_stages[i];

        ngx_http_collab_status_open(st, ngx_http_collab_stage_names[i]);
        ngx_http_collab_status_counter(st, "count", l->count);
        ngx_http_collab_status_counter(st, "sum_us", l->sum);
        ngx_http_collab_status_gauge(st, "p50_us",
                                  (int64_t) collab_latency_quantile(l, 0.5));
        ngx_http_collab_status_gauge(st, "p99_us",
                                 (int64_t) collab_latency_quantile(l, 0.99));
        ngx_http_collab_status_gauge(st, "max_us", (int64_t) l->max);
        ngx_http_collab_status_close(st);
    }
}
