/*
 * Log-linear histogram: bucket index = (exponent, top 6 mantissa bits).
 */

#include <string.h>

#include "lg_hist.h"


static unsigned lg_hist_index(uint64_t v);
static uint64_t lg_hist_value(unsigned i);


static unsigned
lg_hist_index(uint64_t v)
{
    unsigned  e;

    if (v < LG_HIST_SUB) {
        return (unsigned) v;
    }

    e = 63 - (unsigned) __builtin_clzll(v);       /* e >= LG_HIST_SHIFT */

    return (e - LG_HIST_SHIFT + 1) * LG_HIST_SUB
           + (unsigned) ((v >> (e - LG_HIST_SHIFT)) - LG_HIST_SUB);
}


/* the midpoint of a bucket: what a percentile reports */

static uint64_t
lg_hist_value(unsigned i)
{
    uint64_t  e, m, lo;

    if (i < LG_HIST_SUB) {
        return i;
    }

    e = i / LG_HIST_SUB + LG_HIST_SHIFT - 1;
    m = i % LG_HIST_SUB + LG_HIST_SUB;
    lo = m << (e - LG_HIST_SHIFT);

    return lo + ((1ULL << (e - LG_HIST_SHIFT)) >> 1);
}


void
lg_hist_reset(lg_hist_t *h)
{
    memset(h, 0, sizeof(lg_hist_t));
}


void
lg_hist_add(lg_hist_t *h, uint64_t ns)
{
    h->b[lg_hist_index(ns)]++;
    h->count++;
    h->sum += (double) ns;

    if (ns > h->max) {
        h->max = ns;
    }
}


void
lg_hist_merge(lg_hist_t *dst, const lg_hist_t *src)
{
    unsigned  i;

    for (i = 0; i < LG_HIST_BUCKETS; i++) {
        dst->b[i] += src->b[i];
    }

    dst->count += src->count;
    dst->sum += src->sum;

    if (src->max > dst->max) {
        dst->max = src->max;
    }
}


uint64_t
lg_hist_quantile(const lg_hist_t *h, double q)
{
    uint64_t  want, seen, v;
    unsigned  i;

    if (h->count == 0) {
        return 0;
    }

    want = (uint64_t) (q * (double) h->count + 0.999999);
    if (want == 0) {
        want = 1;
    }

    seen = 0;

    for (i = 0; i < LG_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= want) {
            v = lg_hist_value(i);
            return v > h->max ? h->max : v;
        }
    }

    return h->max;
}


void
lg_hist_json(FILE *f, const lg_hist_t *h)
{
    fprintf(f, "{\"n\":%llu,\"mean_ms\":%.3f,\"p50_ms\":%.3f,"
            "\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,"
            "\"max_ms\":%.3f}",
            (unsigned long long) h->count,
            h->count ? h->sum / (double) h->count / 1e6 : 0.0,
            lg_hist_quantile(h, 0.50) / 1e6,
            lg_hist_quantile(h, 0.90) / 1e6,
            lg_hist_quantile(h, 0.99) / 1e6,
            lg_hist_quantile(h, 0.999) / 1e6,
            h->max / 1e6);
}
