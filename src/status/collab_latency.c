/*
 * Latency histograms (see collab_latency.h).
 *
 * Values below 16 us have a bucket each; above, a power of two 2^e is
 * cut in 8: bucket 16 + (e - 4) * 8 + the three bits after the leading
 * one.  A quantile reports the middle of its bucket.
 */

#include <time.h>

#include "status/collab_latency.h"


static unsigned collab_latency_index(uint64_t us);
static uint64_t collab_latency_mid(unsigned i);


uint64_t
collab_latency_now(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}


void
collab_latency_add(collab_latency_t *l, uint64_t us)
{
    l->count++;
    l->sum += us;

    if (us > l->max) {
        l->max = us;
    }

    l->bucket[collab_latency_index(us)]++;
}


uint64_t
collab_latency_quantile(const collab_latency_t *l, double q)
{
    unsigned  i;
    uint64_t  rank, seen;

    if (l->count == 0) {
        return 0;
    }

    if (q <= 0) {
        q = 0;
    }

    /* the smallest bucket holding the ceil(q * count)-th sample */
    rank = (uint64_t) (q * (double) l->count);

    if ((double) rank < q * (double) l->count || rank == 0) {
        rank++;
    }

    if (rank > l->count) {
        rank = l->count;
    }

    seen = 0;

    for (i = 0; i < COLLAB_LATENCY_BUCKETS; i++) {
        seen += l->bucket[i];

        if (seen >= rank) {
            if (i == COLLAB_LATENCY_BUCKETS - 1) {
                /* the overflow bucket: beyond 2^36 us */
                return l->max;
            }

            return collab_latency_mid(i) < l->max ? collab_latency_mid(i)
                                                  : l->max;
        }
    }

    return l->max;
}


static unsigned
collab_latency_index(uint64_t us)
{
    unsigned  e, i;

    if (us < 16) {
        return (unsigned) us;
    }

    e = 63 - (unsigned) __builtin_clzll(us);
    i = 16 + (e - 4) * 8 + (unsigned) ((us >> (e - 3)) & 7);

    return i < COLLAB_LATENCY_BUCKETS ? i : COLLAB_LATENCY_BUCKETS - 1;
}


static uint64_t
collab_latency_mid(unsigned i)
{
    unsigned  e, m;
    uint64_t  lo, width;

    if (i < 16) {
        return i;
    }

    e = (i - 16) / 8 + 4;
    m = (i - 16) % 8;
    width = (uint64_t) 1 << (e - 3);
    lo = ((uint64_t) 1 << e) + m * width;

    return lo + width / 2;
}
