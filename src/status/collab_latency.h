/*
 * Latency histograms: log-linear buckets (8 per power of two, so about
 * 9% apart) over microseconds, cheap enough to fill on every op, read
 * out as count, sum and quantiles.  No nginx headers (unit-tested).
 */

#ifndef _COLLAB_LATENCY_H_INCLUDED_
#define _COLLAB_LATENCY_H_INCLUDED_


#include <stdint.h>


#define COLLAB_LATENCY_BUCKETS  272


typedef struct {
    uint64_t  count;
    uint64_t  sum;                 /* us */
    uint64_t  max;                 /* us */
    uint32_t  bucket[COLLAB_LATENCY_BUCKETS];
} collab_latency_t;


/* a monotonic clock in microseconds */
uint64_t collab_latency_now(void);

void collab_latency_add(collab_latency_t *l, uint64_t us);

/* the value (us) below which a fraction q of the samples lie; 0 if none */
uint64_t collab_latency_quantile(const collab_latency_t *l, double q);


#endif /* _COLLAB_LATENCY_H_INCLUDED_ */
