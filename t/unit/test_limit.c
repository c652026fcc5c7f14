/*
 * The op rate limit's leaky bucket: a first request is free; requests at
 * the rate are accepted; faster ones are delayed by what is ahead of
 * them, up to the burst, then refused without being counted; the bucket
 * leaks empty; a clock that goes back is survived; strikes close within
 * their window only.
 */

#include "collab_test.h"
#include "protocol/collab_limit.h"


static void
test_at_rate(void)
{
    uint64_t               d, t;
    collab_limit_bucket_t  b = { 0, 0 };

    /* 10 r/s, no burst: one every 100 ms is always accepted */
    COLLAB_CHECK(collab_limit_take(&b, 1000, 10000, 0, &d)
                 == COLLAB_LIMIT_ACCEPT && d == 0);

    for (t = 1100; t < 3000; t += 100) {
        COLLAB_CHECK(collab_limit_take(&b, t, 10000, 0, &d)
                     == COLLAB_LIMIT_ACCEPT);
    }

    /* 50 ms early, no burst: refused, and the bucket is untouched */
    COLLAB_CHECK(collab_limit_take(&b, 2950, 10000, 0, &d)
                 == COLLAB_LIMIT_REFUSE);
    COLLAB_CHECK(b.last == 2900 && b.excess == 0);
}


static void
test_delay_and_burst(void)
{
    int                    i, refused, delayed;
    uint64_t               d, last;
    collab_limit_bucket_t  b = { 0, 0 };

    /* 10 r/s, burst 5: 20 at once: 1 free, 5 delayed 100..500 ms, refused */
    refused = 0;
    delayed = 0;
    last = 0;

    for (i = 0; i < 20; i++) {
        switch (collab_limit_take(&b, 5000, 10000, 5, &d)) {

        case COLLAB_LIMIT_ACCEPT:
            COLLAB_CHECK(i == 0);
            break;

        case COLLAB_LIMIT_DELAY:
            delayed++;
            COLLAB_CHECK_MSG(d == (uint64_t) delayed * 100,
                             "delay %llu at %d", (unsigned long long) d, i);
            COLLAB_CHECK(d > last);
            last = d;
            break;

        case COLLAB_LIMIT_REFUSE:
            refused++;
            break;
        }
    }

    COLLAB_CHECK(delayed == 5 && refused == 14);

    /* 250 ms later 2.5 of 5 have leaked: the next waits behind 3.5 */
    COLLAB_CHECK(collab_limit_take(&b, 5250, 10000, 5, &d)
                 == COLLAB_LIMIT_DELAY);
    COLLAB_CHECK_MSG(d == 350, "delay %llu", (unsigned long long) d);

    /* leaked empty after the excess / rate */
    COLLAB_CHECK(!collab_limit_idle(&b, 5500, 10000));
    COLLAB_CHECK(collab_limit_idle(&b, 5250 + 350, 10000));
    COLLAB_CHECK(collab_limit_take(&b, 5250 + 600, 10000, 5, &d)
                 == COLLAB_LIMIT_ACCEPT);

    /* a fractional rate (1 r/m) rounds the delay up, never down */
    b.last = 0;
    collab_limit_take(&b, 100, 17, 3, &d);
    COLLAB_CHECK(collab_limit_take(&b, 100, 17, 3, &d)
                 == COLLAB_LIMIT_DELAY);
    COLLAB_CHECK(d * 17 >= 1000 * 1000 && (d - 1) * 17 < 1000 * 1000);
}


static void
test_sustained(void)
{
    int                    accepted;
    uint64_t               d, t, wait;
    collab_limit_bucket_t  b = { 0, 0 };

    /*
     * A client that sends the next request as soon as the last one was
     * released (one in flight, as the sharedb client) at 20 r/s over 5 s:
     * 100 requests, give or take the first.
     */
    accepted = 0;
    wait = 0;

    for (t = 1000; t < 6000; t += wait + 1) {
        if (collab_limit_take(&b, t, 20000, 10, &d) == COLLAB_LIMIT_REFUSE) {
            break;
        }

        accepted++;
        wait = d;
    }

    COLLAB_CHECK_MSG(accepted >= 95 && accepted <= 102, "%d", accepted);
    COLLAB_CHECK(t >= 6000);
}


static void
test_clock(void)
{
    uint64_t               d;
    collab_limit_bucket_t  b = { 0, 0 };

    collab_limit_take(&b, 100000, 1000, 1, &d);
    COLLAB_CHECK(collab_limit_take(&b, 100000, 1000, 1, &d)
                 == COLLAB_LIMIT_DELAY && d == 1000);

    /* a little back: nothing leaked, full */
    COLLAB_CHECK(collab_limit_take(&b, 99990, 1000, 1, &d)
                 == COLLAB_LIMIT_REFUSE);

    /* far back: taken as 1 ms passed, still full */
    COLLAB_CHECK(collab_limit_take(&b, 10, 1000, 1, &d)
                 == COLLAB_LIMIT_REFUSE);

    /* hours idle at a huge rate: no overflow, empty */
    COLLAB_CHECK(collab_limit_idle(&b, (uint64_t) 1 << 40,
                                   (uint64_t) 1 << 40));
    COLLAB_CHECK(collab_limit_take(&b, (uint64_t) 1 << 40, 1000, 1, &d)
                 == COLLAB_LIMIT_ACCEPT);
}


static void
test_strikes(void)
{
    int                     i, closed;
    collab_limit_strikes_t  s = { 0, 0 };

    /* 3 within 10 s close; spread wider they do not */
    COLLAB_CHECK(!collab_limit_strike(&s, 1000, 10000, 3));
    COLLAB_CHECK(!collab_limit_strike(&s, 5000, 10000, 3));
    COLLAB_CHECK(!collab_limit_strike(&s, 11000, 10000, 3));
    COLLAB_CHECK(!collab_limit_strike(&s, 12000, 10000, 3));
    COLLAB_CHECK(collab_limit_strike(&s, 13000, 10000, 3));

    /* max 0: never */
    s.count = 0;
    closed = 0;

    for (i = 0; i < 1000; i++) {
        closed |= collab_limit_strike(&s, 1000 + i, 10000, 0);
    }

    COLLAB_CHECK(!closed);
}


int
main(void)
{
    test_at_rate();
    test_delay_and_burst();
    test_sustained();
    test_clock();
    test_strikes();

    return COLLAB_TEST_DONE();
}
