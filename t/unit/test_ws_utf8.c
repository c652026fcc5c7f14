/*
 * Incremental UTF-8 validator: boundary vectors split at every position,
 * the exact byte where each invalid sequence is caught, and an exhaustive
 * comparison with a plain reference decoder over all 1-3 byte inputs and
 * a random sample of longer ones.
 */


#include <stdint.h>
#include <stdlib.h>

#include "collab_test.h"
#include "ws/collab_ws_utf8.h"


typedef struct {
    const char  *bytes;
    int          bad_at;        /* index of the byte that is refused */
} test_invalid_t;


static int test_reference(const uint8_t *s, size_t n);
static int test_whole(const uint8_t *s, size_t n);
static int test_fail_index(const uint8_t *s, size_t n);
static void test_valid_vectors(void);
static void test_invalid_vectors(void);
static void test_ascii_runs(void);
static void test_exhaustive(void);
static void test_random(void);
static uint32_t test_rand(void);


static uint32_t  test_seed = 2463534242u;


static const char  *test_valid[] = {
    "",
    "hello, world",
    "\x7f",
    "\xc2\x80",                     /* U+0080 */
    "\xc3\xa9t\xc3\xa9",            /* été */
    "\xdf\xbf",                     /* U+07FF */
    "\xe0\xa0\x80",                 /* U+0800 */
    "\xe2\x82\xac",                 /* euro sign */
    "\xed\x9f\xbf",                 /* U+D7FF, just below the surrogates */
    "\xee\x80\x80",                 /* U+E000, just above them */
    "\xef\xbf\xbf",                 /* U+FFFF */
    "\xf0\x90\x80\x80",             /* U+10000 */
    "\xf0\x9d\x84\x9e",             /* musical G clef */
    "\xf3\xbf\xbf\xbf",
    "\xf4\x8f\xbf\xbf",             /* U+10FFFF */
    "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z",
    NULL
};


static const test_invalid_t  test_invalid[] = {
    { "\x80", 0 },                  /* lone continuation */
    { "\xbf", 0 },
    { "a\x80", 1 },
    { "\xc0\x80", 0 },              /* overlong NUL */
    { "\xc1\xbf", 0 },              /* overlong U+007F */
    { "\xe0\x80\x80", 1 },          /* overlong 3-byte */
    { "\xe0\x9f\xbf", 1 },          /* overlong U+07FF */
    { "\xf0\x80\x80\x80", 1 },      /* overlong 4-byte */
    { "\xf0\x8f\xbf\xbf", 1 },      /* overlong U+FFFF */
    { "\xed\xa0\x80", 1 },          /* U+D800 */
    { "\xed\xbf\xbf", 1 },          /* U+DFFF */
    { "\xed\xa0\x80\xed\xb0\x80", 1 },  /* CESU-8 surrogate pair */
    { "\xf4\x90\x80\x80", 1 },      /* U+110000 */
    { "\xf5\x80\x80\x80", 0 },
    { "\xf8\x88\x80\x80\x80", 0 },  /* 5-byte form */
    { "\xfe", 0 },
    { "\xff", 0 },
    { "\xc3\x41", 1 },              /* lead byte followed by ASCII */
    { "\xe2\x82\x41", 2 },
    { "\xf0\x9d\x84\x41", 3 },
    { "\xc3\xc3\xa9", 1 },          /* lead byte followed by a lead byte */
    { "ab\xe2\x82\xac\xe2\x28\xa1", 6 },
    { NULL, 0 }
};


static const char  *test_truncated[] = {
    "\xc3",
    "\xe2\x82",
    "\xe2",
    "\xf0\x9d\x84",
    "\xf0\x9d",
    "abc\xf4",
    NULL
};


int
main(void)
{
    test_valid_vectors();
    test_invalid_vectors();
    test_ascii_runs();
    test_exhaustive();
    test_random();

    return COLLAB_TEST_DONE();
}


/* Valid vectors: whole, split in two at every position, byte by byte. */

static void
test_valid_vectors(void)
{
    int                i;
    size_t             n, k, j;
    collab_ws_utf8_t   u;
    const uint8_t     *s;

    for (i = 0; test_valid[i]; i++) {
        s = (const uint8_t *) test_valid[i];
        n = strlen(test_valid[i]);

        COLLAB_CHECK_MSG(test_whole(s, n) == 0, "vector %d", i);

        for (k = 0; k <= n; k++) {
            collab_ws_utf8_init(&u);
            COLLAB_CHECK_MSG(collab_ws_utf8_feed(&u, s, k) == 0
                             && collab_ws_utf8_feed(&u, s + k, n - k) == 0
                             && collab_ws_utf8_finish(&u) == 0,
                             "vector %d split at %zu", i, k);

            /* a cut inside a code point is not a complete message */
            collab_ws_utf8_init(&u);
            collab_ws_utf8_feed(&u, s, k);
            COLLAB_CHECK_MSG(collab_ws_utf8_finish(&u)
                             == (k == n || (s[k] & 0xc0) != 0x80 ? 0 : -1),
                             "vector %d cut at %zu", i, k);
        }

        collab_ws_utf8_init(&u);

        for (j = 0; j < n; j++) {
            if (collab_ws_utf8_feed(&u, s + j, 1) != 0) {
                break;
            }
        }

        COLLAB_CHECK_MSG(j == n && collab_ws_utf8_finish(&u) == 0,
                         "vector %d byte by byte", i);
    }
}


/* Invalid vectors are refused exactly at the deciding byte, and stay so. */

static void
test_invalid_vectors(void)
{
    int                i;
    size_t             n, k;
    uint8_t            buf[64];
    collab_ws_utf8_t   u;
    const uint8_t     *s;

    for (i = 0; test_invalid[i].bytes; i++) {
        s = (const uint8_t *) test_invalid[i].bytes;
        n = strlen(test_invalid[i].bytes);

        COLLAB_CHECK_MSG(test_whole(s, n) != 0, "invalid %d whole", i);
        COLLAB_CHECK_MSG(test_fail_index(s, n) == test_invalid[i].bad_at,
                         "invalid %d fails at %d, want %d", i,
                         test_fail_index(s, n), test_invalid[i].bad_at);

        for (k = 0; k <= n; k++) {
            collab_ws_utf8_init(&u);
            collab_ws_utf8_feed(&u, s, k);
            COLLAB_CHECK_MSG(collab_ws_utf8_feed(&u, s + k, n - k) != 0,
                             "invalid %d split at %zu", i, k);
        }

        /* sticky: valid ASCII afterwards does not clear it */
        collab_ws_utf8_init(&u);
        collab_ws_utf8_feed(&u, s, n);
        COLLAB_CHECK(collab_ws_utf8_feed(&u, (const uint8_t *) "ok", 2)
                     == -1);
        COLLAB_CHECK(collab_ws_utf8_finish(&u) != 0);

        /* the same sequence behind a long ASCII run (word fast path) */
        memset(buf, 'x', sizeof(buf));
        memcpy(buf + 37, s, n);
        COLLAB_CHECK_MSG(test_whole(buf, 37 + n) != 0,
                         "invalid %d after ASCII", i);
        COLLAB_CHECK(test_fail_index(buf, 37 + n)
                     == 37 + test_invalid[i].bad_at);
    }

    for (i = 0; test_truncated[i]; i++) {
        s = (const uint8_t *) test_truncated[i];
        n = strlen(test_truncated[i]);

        collab_ws_utf8_init(&u);
        COLLAB_CHECK_MSG(collab_ws_utf8_feed(&u, s, n) == 0,
                         "truncated %d feeds", i);
        COLLAB_CHECK_MSG(collab_ws_utf8_finish(&u) != 0,
                         "truncated %d finishes", i);
    }
}


/*
 * A non-ASCII byte at every offset of a long ASCII run, and multi-byte
 * characters at every alignment, to exercise the word loop's edges.
 */

static void
test_ascii_runs(void)
{
    size_t   off, len, i;
    uint8_t  buf[80];

    for (len = 1; len <= sizeof(buf); len++) {
        for (off = 0; off < len; off++) {
            memset(buf, 'a', len);
            buf[off] = 0x80;
            COLLAB_CHECK_MSG(test_fail_index(buf, len) == (int) off,
                             "stray byte at %zu of %zu", off, len);

            if (off + 2 <= len) {
                buf[off] = 0xc3;
                buf[off + 1] = 0xa9;
                COLLAB_CHECK_MSG(test_whole(buf, len) == 0,
                                 "e-acute at %zu of %zu", off, len);
            }
        }
    }

    for (i = 0; i + 4 <= sizeof(buf); i += 4) {
        memcpy(buf + i, "\xf0\x9f\x98\x80", 4);
    }

    for (off = 0; off < 4; off++) {
        COLLAB_CHECK(test_whole(buf + 4 * off, sizeof(buf) - 4 * off) == 0);
    }
}


/* Every input of 1, 2 and 3 bytes against the reference decoder. */

static void
test_exhaustive(void)
{
    uint8_t        s[3];
    uint32_t       v;
    unsigned long  bad;

    bad = 0;

    for (v = 0; v < 0x100; v++) {
        s[0] = (uint8_t) v;
        bad += (test_whole(s, 1) != test_reference(s, 1));
    }

    for (v = 0; v < 0x10000; v++) {
        s[0] = (uint8_t) (v >> 8);
        s[1] = (uint8_t) v;
        bad += (test_whole(s, 2) != test_reference(s, 2));
    }

    for (v = 0; v < 0x1000000; v++) {
        s[0] = (uint8_t) (v >> 16);

        if (s[0] < 0x80) {
            /* ASCII first byte: the rest is the 2-byte case again */
            v |= 0xffff;
            continue;
        }

        s[1] = (uint8_t) (v >> 8);
        s[2] = (uint8_t) v;
        bad += (test_whole(s, 3) != test_reference(s, 3));
    }

    COLLAB_CHECK_MSG(bad == 0, "%lu mismatches with the reference", bad);
}


/*
 * Random strings biased toward interesting bytes, validated whole and in
 * random pieces, against the reference decoder.
 */

static void
test_random(void)
{
    int                rc, i;
    size_t             n, k, j;
    uint8_t            s[24];
    unsigned long      bad;
    collab_ws_utf8_t   u;

    static const uint8_t  pick[] = {
        'a', 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2,
        0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4,
        0xf5, 0xff
    };

    bad = 0;

    for (i = 0; i < 400000; i++) {
        n = 1 + test_rand() % sizeof(s);

        for (j = 0; j < n; j++) {
            s[j] = (test_rand() & 1) ? pick[test_rand() % sizeof(pick)]
                                     : (uint8_t) test_rand();
        }

        bad += (test_whole(s, n) != test_reference(s, n));

        k = test_rand() % (n + 1);

        collab_ws_utf8_init(&u);
        rc = collab_ws_utf8_feed(&u, s, k);
        rc |= collab_ws_utf8_feed(&u, s + k, n - k);
        rc |= collab_ws_utf8_finish(&u);

        bad += ((rc != 0) != (test_reference(s, n) != 0));
    }

    COLLAB_CHECK_MSG(bad == 0, "%lu random mismatches", bad);
}


static int
test_whole(const uint8_t *s, size_t n)
{
    collab_ws_utf8_t  u;

    collab_ws_utf8_init(&u);

    if (collab_ws_utf8_feed(&u, s, n) != 0) {
        return -1;
    }

    return collab_ws_utf8_finish(&u);
}


/* The index of the byte at which byte-by-byte feeding fails, or -1. */

static int
test_fail_index(const uint8_t *s, size_t n)
{
    size_t            i;
    collab_ws_utf8_t  u;

    collab_ws_utf8_init(&u);

    for (i = 0; i < n; i++) {
        if (collab_ws_utf8_feed(&u, s + i, 1) != 0) {
            return (int) i;
        }
    }

    return -1;
}


/*
 * Reference: decode each code point by its length, then check the value
 * range; deliberately a different shape from the state machine.
 */

static int
test_reference(const uint8_t *s, size_t n)
{
    size_t    i, k, len;
    uint32_t  cp, min;

    i = 0;

    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }

        if ((s[i] & 0xe0) == 0xc0) {
            len = 2;
            cp = s[i] & 0x1f;
            min = 0x80;

        } else if ((s[i] & 0xf0) == 0xe0) {
            len = 3;
            cp = s[i] & 0x0f;
            min = 0x800;

        } else if ((s[i] & 0xf8) == 0xf0) {
            len = 4;
            cp = s[i] & 0x07;
            min = 0x10000;

        } else {
            return -1;
        }

        if (i + len > n) {
            return -1;
        }

        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return -1;
            }

            cp = cp << 6 | (s[i + k] & 0x3f);
        }

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return -1;
        }

        i += len;
    }

    return 0;
}


static uint32_t
test_rand(void)
{
    test_seed ^= test_seed << 13;
    test_seed ^= test_seed >> 17;
    test_seed ^= test_seed << 5;

    return test_seed;
}
