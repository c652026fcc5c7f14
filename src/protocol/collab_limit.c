/*
 * The leaky bucket of the op rate limits (see collab_limit.h).  The
 * arithmetic is limit_req's: each request adds 1000 to the excess, which
 * leaks rate * elapsed / 1000; a request that would take the excess past
 * the burst is refused without being counted, so a refused flood does not
 * push later requests further back.
 */

#include "protocol/collab_limit.h"


/* a clock that went back more than this is taken as a restart */
#define COLLAB_LIMIT_CLOCK_SKEW  60000

/* longer than any bucket takes to leak empty; keeps rate * ms in range */
#define COLLAB_LIMIT_MAX_IDLE    3600000


static int64_t collab_limit_excess(const collab_limit_bucket_t *b,
    uint64_t now, uint64_t rate);


collab_limit_e
collab_limit_take(collab_limit_bucket_t *b, uint64_t now, uint64_t rate,
    uint64_t burst, uint64_t *delay)
{
    int64_t  excess;

    *delay = 0;

    if (b->last == 0) {
        /* the first request of a key is free, as in limit_req */
        b->last = now;
        b->excess = 0;
        return COLLAB_LIMIT_ACCEPT;
    }

    /* a late request gets credit for at most itself */
    excess = collab_limit_excess(b, now, rate) + 1000;

    if (excess < 0) {
        excess = 0;
    }

    if ((uint64_t) excess > burst * 1000) {
        return COLLAB_LIMIT_REFUSE;
    }

    b->last = now;
    b->excess = (uint64_t) excess;

    if (excess == 0) {
        return COLLAB_LIMIT_ACCEPT;
    }

    /* rounded up: released early, it would find the bucket still full */
    *delay = ((uint64_t) excess * 1000 + rate - 1) / rate;

    return COLLAB_LIMIT_DELAY;
}


int
collab_limit_idle(const collab_limit_bucket_t *b, uint64_t now,
    uint64_t rate)
{
    return b->last == 0 || collab_limit_excess(b, now, rate) <= 0;
}


int
collab_limit_strike(collab_limit_strikes_t *s, uint64_t now,
    uint64_t window, uint64_t max)
{
    if (s->count == 0 || now - s->since >= window) {
        s->since = now;
        s->count = 0;
    }

    s->count++;

    return max && s->count >= max;
}


/* what is left of the excess at now: below 0 when idle for a while */
static int64_t
collab_limit_excess(const collab_limit_bucket_t *b, uint64_t now,
    uint64_t rate)
{
    int64_t  ms;

    ms = (int64_t) (now - b->last);

    if (ms < -COLLAB_LIMIT_CLOCK_SKEW) {
        ms = 1;

    } else if (ms < 0) {
        ms = 0;

    } else if (ms > COLLAB_LIMIT_MAX_IDLE) {
        ms = COLLAB_LIMIT_MAX_IDLE;
    }

    return (int64_t) b->excess - (int64_t) (rate * (uint64_t) ms / 1000);
}
