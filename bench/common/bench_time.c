/*
 * Timing helpers shared by the C micro-benchmarks (see bench_time.h).
 */

#include <stdlib.h>
#include <time.h>

#include "bench_time.h"


static int bench_cmp(const void *a, const void *b);


double
bench_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


double
bench_median(double *v, int n)
{
    qsort(v, n, sizeof(double), bench_cmp);

    return v[n / 2];
}


static int
bench_cmp(const void *a, const void *b)
{
    double  x, y;

    x = *(const double *) a;
    y = *(const double *) b;

    return (x > y) - (x < y);
}
