/*
 * The latency histograms: every value lands in a bucket whose middle is
 * within 1/16 of it, quantiles of known samples come out within that
 * error, and the edges (no samples, one, huge values) hold.
 */

#include "collab_test.h"
#include "status/collab_latency.h"


static int
close_to(uint64_t got, uint64_t want)
{
    uint64_t  d;

    d = got > want ? got - want : want - got;

    return d * 16 <= want || d <= 1;
}


static void
test_empty_and_one(void)
{
    collab_latency_t  l;

    memset(&l, 0, sizeof(l));
    COLLAB_CHECK(collab_latency_quantile(&l, 0.5) == 0);

    collab_latency_add(&l, 7);
    COLLAB_CHECK(collab_latency_quantile(&l, 0.5) == 7);
    COLLAB_CHECK(collab_latency_quantile(&l, 0.99) == 7);
    COLLAB_CHECK(l.count == 1 && l.sum == 7 && l.max == 7);

    collab_latency_add(&l, (uint64_t) 1 << 50);
    COLLAB_CHECK(collab_latency_quantile(&l, 1.0) == (uint64_t) 1 << 50);
}


static void
test_every_value_close(void)
{
    uint64_t          v;
    collab_latency_t  l;

    for (v = 0; v < 2000000; v = v < 100 ? v + 1 : v + v / 7) {
        memset(&l, 0, sizeof(l));
        collab_latency_add(&l, v);
        collab_latency_add(&l, v + 1000000000);
        COLLAB_CHECK_MSG(close_to(collab_latency_quantile(&l, 0.5), v),
                         "%llu -> %llu", (unsigned long long) v,
                         (unsigned long long) collab_latency_quantile(&l,
                                                                      0.5));
    }
}


static void
test_quantiles(void)
{
    uint64_t          i;
    collab_latency_t  l;

    /* 1..10000 us, shuffled: p50 ~ 5000, p99 ~ 9900 */
    memset(&l, 0, sizeof(l));

    for (i = 1; i <= 10000; i++) {
        collab_latency_add(&l, (i * 7919) % 10000 + 1);
    }

    COLLAB_CHECK(l.count == 10000 && l.max == 10000);
    COLLAB_CHECK(close_to(collab_latency_quantile(&l, 0.5), 5000));
    COLLAB_CHECK(close_to(collab_latency_quantile(&l, 0.99), 9900));
    COLLAB_CHECK(collab_latency_quantile(&l, 0.0)
                 <= collab_latency_quantile(&l, 0.5));
}


static void
test_clock(void)
{
    uint64_t  a, b;

    a = collab_latency_now();
    b = collab_latency_now();
    COLLAB_CHECK(a > 0 && b >= a);
}


int
main(void)
{
    test_empty_and_one();
    test_every_value_close();
    test_quantiles();
    test_clock();

    return COLLAB_TEST_DONE();
}
