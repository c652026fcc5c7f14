/*
 * A log-linear latency histogram (values in nanoseconds): 64 sub-buckets
 * per power of two above 64 ns, so every recorded value is kept within
 * 1.6% and percentiles come from the full distribution, not a sample.
 */

#ifndef _LG_HIST_H_INCLUDED_
#define _LG_HIST_H_INCLUDED_


#include <stdint.h>
#include <stdio.h>


#define LG_HIST_SUB      64
#define LG_HIST_SHIFT    6
#define LG_HIST_BUCKETS  ((64 - LG_HIST_SHIFT) * LG_HIST_SUB + LG_HIST_SUB)


typedef struct {
    uint64_t    count;
    uint64_t    max;
    double      sum;
    uint64_t    b[LG_HIST_BUCKETS];
} lg_hist_t;


void lg_hist_reset(lg_hist_t *h);
void lg_hist_add(lg_hist_t *h, uint64_t ns);
void lg_hist_merge(lg_hist_t *dst, const lg_hist_t *src);
uint64_t lg_hist_quantile(const lg_hist_t *h, double q);
void lg_hist_json(FILE *f, const lg_hist_t *h);


#endif /* _LG_HIST_H_INCLUDED_ */
