/*
 * Timing helpers shared by the C micro-benchmarks (bench/ot, bench/ws).
 */

#ifndef _BENCH_TIME_H_INCLUDED_
#define _BENCH_TIME_H_INCLUDED_


/* seconds on the monotonic clock */
double bench_now(void);

/* the median of v[0 .. n - 1] (sorts v) */
double bench_median(double *v, int n);


#endif /* _BENCH_TIME_H_INCLUDED_ */
