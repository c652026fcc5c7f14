/*
 * The leaky bucket of the op rate limits (collab_limit_ops), as nginx's
 * limit_req counts it: excess is the work ahead of a request in 1/1000s
 * of a request, leaking at rate (1/1000 requests a second).  No nginx
 * headers (unit-tested); the caller holds the zone's lock.
 */

#ifndef _COLLAB_LIMIT_H_INCLUDED_
#define _COLLAB_LIMIT_H_INCLUDED_


#include <stdint.h>


/* a bucket that has never been used: last == 0 */
typedef struct {
    uint64_t  last;                /* ms of the last accepted request */
    uint64_t  excess;              /* 1/1000 requests */
} collab_limit_bucket_t;


typedef enum {
    COLLAB_LIMIT_ACCEPT = 0,       /* within the rate */
    COLLAB_LIMIT_DELAY,            /* over it, within the burst: wait */
    COLLAB_LIMIT_REFUSE            /* past the burst (bucket untouched) */
} collab_limit_e;


/*
 * One request at now (ms, monotonic, never 0) against rate (1/1000
 * requests a second, > 0) and burst (requests).  On DELAY, *delay is the
 * wait in ms until the bucket has leaked what is ahead of it.
 */
collab_limit_e collab_limit_take(collab_limit_bucket_t *b, uint64_t now,
    uint64_t rate, uint64_t burst, uint64_t *delay);

/* whether a bucket has leaked empty by now (its node may be reused) */
int collab_limit_idle(const collab_limit_bucket_t *b, uint64_t now,
    uint64_t rate);


/* refusals of one socket in a fixed window: too many close it */
typedef struct {
    uint64_t  since;               /* ms the window opened */
    uint64_t  count;
} collab_limit_strikes_t;

/*
 * One more refusal at now; whether it makes max within window ms (max 0:
 * never).
 */
int collab_limit_strike(collab_limit_strikes_t *s, uint64_t now,
    uint64_t window, uint64_t max);


#endif /* _COLLAB_LIMIT_H_INCLUDED_ */
