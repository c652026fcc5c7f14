/*
 * RFC 6455 frame parser and encoder.  Every input is parsed whole, one
 * byte at a time and in random chunk sizes; each way must give the same
 * event log (completed messages, control frames, the error code).
 */


#include <stdint.h>
#include <stdlib.h>

#include "collab_test.h"
#include "ws/collab_ws_frame.h"


#define FIN                 0x80
#define TEXT                COLLAB_WS_OP_TEXT
#define CONT                COLLAB_WS_OP_CONT
#define BINARY              COLLAB_WS_OP_BINARY
#define CLOSE               COLLAB_WS_OP_CLOSE
#define PING                COLLAB_WS_OP_PING
#define PONG                COLLAB_WS_OP_PONG

#define LEN_MIN             0
#define LEN_16              16
#define LEN_64              64

#define BIG                 (1 << 20)
#define TEST_INPUT_MAX      (300 * 1024)
#define TEST_LOG_MAX        (600 * 1024)


typedef struct {
    char      *log;
    size_t     log_len;
    uint8_t   *msg;
    size_t     msg_len;
    unsigned   in_msg;
    unsigned   broken;          /* an API invariant was violated */
    size_t     consumed;        /* total bytes consumed */
} test_run_t;


static void t_reset(void);
static void t_frame(int b0, const void *payload, size_t n, int form);
static void t_frame_raw(int b0, int masked, uint64_t declared, int form);
static void t_str(int b0, const char *s);
static void t_log(test_run_t *r, const char *tag, const void *p, size_t n,
    unsigned v);
static char *t_run(const uint8_t *in, size_t len, uint64_t max, int mode,
    uint32_t seed, size_t *consumed);
static void t_expect(int line, uint64_t max, const char *want);
static const char *t_want(const char *head, int c, size_t n,
    const char *tail);
static uint32_t t_rand(uint32_t *s);

static void test_basic(void);
static void test_header_rules(void);
static void test_lengths(void);
static void test_fragmentation(void);
static void test_control(void);
static void test_close(void);
static void test_utf8(void);
static void test_size(void);
static void test_zero_length(void);
static void test_event_flags(void);
static void test_payload_sizes(void);
static void test_encoder(void);
static void test_sticky_error(void);


static uint8_t   t_in[TEST_INPUT_MAX];
static size_t    t_len;
static uint32_t  t_key = 0x9e3779b9;


int
main(void)
{
    test_basic();
    test_header_rules();
    test_lengths();
    test_fragmentation();
    test_control();
    test_close();
    test_utf8();
    test_size();
    test_zero_length();
    test_event_flags();
    test_payload_sizes();
    test_encoder();
    test_sticky_error();

    return COLLAB_TEST_DONE();
}


/* input builders */

static void
t_reset(void)
{
    t_len = 0;
}


static void
t_frame_raw(int b0, int masked, uint64_t declared, int form)
{
    int  i;

    t_in[t_len++] = (uint8_t) b0;

    if (form == LEN_MIN && declared < 126) {
        form = 7;

    } else if (form == LEN_MIN && declared < 65536) {
        form = LEN_16;

    } else if (form == LEN_MIN) {
        form = LEN_64;
    }

    masked = masked ? 0x80 : 0;

    if (form == 7) {
        t_in[t_len++] = (uint8_t) (masked | declared);

    } else if (form == LEN_16) {
        t_in[t_len++] = (uint8_t) (masked | 126);
        t_in[t_len++] = (uint8_t) (declared >> 8);
        t_in[t_len++] = (uint8_t) declared;

    } else {
        t_in[t_len++] = (uint8_t) (masked | 127);

        for (i = 7; i >= 0; i--) {
            t_in[t_len++] = (uint8_t) (declared >> (8 * i));
        }
    }

    if (masked) {
        t_rand(&t_key);
        memcpy(t_in + t_len, &t_key, 4);
        t_len += 4;
    }
}


/* a masked client frame, masked with a fresh key */

static void
t_frame(int b0, const void *payload, size_t n, int form)
{
    size_t   i;
    uint8_t  *key;

    t_frame_raw(b0, 1, n, form);

    key = t_in + t_len - 4;

    for (i = 0; i < n; i++) {
        t_in[t_len + i] = ((const uint8_t *) payload)[i] ^ key[i & 3];
    }

    t_len += n;
}


static void
t_str(int b0, const char *s)
{
    t_frame(b0, s, strlen(s), LEN_MIN);
}


/*
 * The event log: T<len>:<bytes>; per completed text message, P/O/C per
 * ping, pong, close, t<len>:<bytes>; for an unfinished message at the
 * end, E<code>; for an error, !0; for a broken API invariant.  Bytes
 * are logged as they are.
 */

static void
t_log(test_run_t *r, const char *tag, const void *p, size_t n, unsigned v)
{
    int  k;

    if (r->log_len + n + 64 > TEST_LOG_MAX) {
        r->broken = 1;
        return;
    }

    k = sprintf(r->log + r->log_len, "%s%u%s", tag, v,
                (tag[0] == 'E' || tag[0] == '!') ? "" : ":");
    r->log_len += k;

    if (n) {
        memcpy(r->log + r->log_len, p, n);
        r->log_len += n;
    }

    r->log[r->log_len++] = ';';
    r->log[r->log_len] = '\0';
}


/*
 * mode 0: whole; 1: one byte at a time; 2: random chunk sizes from seed.
 * Returns a malloc'ed log; "!" marks an API invariant violation.
 */

static char *
t_run(const uint8_t *in, size_t len, uint64_t max, int mode, uint32_t seed,
    size_t *consumed)
{
    size_t              off, chunk, left, n;
    uint8_t            *buf;
    test_run_t          r;
    collab_ws_event_t   ev;
    collab_ws_parser_t  p;

    memset(&r, 0, sizeof(test_run_t));
    r.log = malloc(TEST_LOG_MAX);
    r.msg = malloc(len + 1);
    buf = malloc(len + 1);

    if (r.log == NULL || r.msg == NULL || buf == NULL) {
        abort();
    }

    r.log[0] = '\0';
    memcpy(buf, in, len);

    collab_ws_parser_init(&p, max);

    off = 0;
    ev.type = COLLAB_WS_EV_NONE;

    while (off < len) {

        if (mode == 0) {
            chunk = len - off;

        } else if (mode == 1) {
            chunk = 1;

        } else {
            chunk = 1 + t_rand(&seed) % ((t_rand(&seed) & 1) ? 7 : 300);
            if (chunk > len - off) {
                chunk = len - off;
            }
        }

        left = chunk;

        for ( ;; ) {
            n = collab_ws_parse(&p, buf + off, left, &ev);

            if (n > left) {
                r.broken = 1;
                goto done;
            }

            off += n;
            left -= n;

            if (ev.type == COLLAB_WS_EV_NONE) {
                if (left != 0) {
                    r.broken = 1;
                }

                break;
            }

            if (ev.type == COLLAB_WS_EV_ERROR) {
                t_log(&r, "E", NULL, 0, ev.close_code);

                if (ev.error == NULL) {
                    r.broken = 1;
                }

                goto done;
            }

            if (ev.type == COLLAB_WS_EV_CONTROL) {
                t_log(&r, ev.opcode == PING ? "P"
                          : ev.opcode == PONG ? "O" : "C",
                      ev.data, ev.len,
                      ev.opcode == CLOSE ? ev.close_code : 0);

                if (ev.opcode == CLOSE && ev.len >= 2
                    && (ev.reason != ev.data + 2
                        || ev.reason_len != ev.len - 2))
                {
                    r.broken = 1;
                }

                continue;
            }

            /* DATA: the chunk ends exactly where consumption stopped */

            if (ev.opcode != TEXT || ev.data + ev.len != buf + off
                || ev.message_start != !r.in_msg
                || (ev.len == 0 && !ev.message_end))
            {
                r.broken = 1;
            }

            memcpy(r.msg + r.msg_len, ev.data, ev.len);
            r.msg_len += ev.len;
            r.in_msg = 1;

            if (ev.message_end) {
                t_log(&r, "T", r.msg, r.msg_len, (unsigned) r.msg_len);
                r.msg_len = 0;
                r.in_msg = 0;
            }
        }
    }

    if (r.in_msg) {
        t_log(&r, "t", r.msg, r.msg_len, (unsigned) r.msg_len);
    }

done:

    if (r.broken) {
        t_log(&r, "!", NULL, 0, 0);
    }

    if (consumed) {
        *consumed = off;
    }

    free(r.msg);
    free(buf);

    return r.log;
}


/* The current input must give `want` whole, byte by byte and chunked. */

static void
t_expect(int line, uint64_t max, const char *want)
{
    int     mode;
    char   *got;
    size_t  i;

    for (mode = 0; mode < 8; mode++) {
        got = t_run(t_in, t_len, max, mode > 1 ? 2 : mode,
                    (uint32_t) (mode * 7919 + 1), NULL);

        if (strcmp(got, want) != 0) {
            collab_test_failed++;
            fprintf(stderr, "FAIL line %d mode %d: got ", line, mode);

            for (i = 0; got[i] && i < 200; i++) {
                fputc(got[i] >= 32 && got[i] < 127 ? got[i] : '.', stderr);
            }

            fprintf(stderr, " want %.200s\n", want);

        } else {
            collab_test_passed++;
        }

        free(got);
    }
}


#define EXPECT(max, want)  t_expect(__LINE__, max, want)


/* head, then n copies of c, then tail (one static buffer) */

static const char *
t_want(const char *head, int c, size_t n, const char *tail)
{
    size_t       h;
    static char  buf[1024];

    h = strlen(head);
    memcpy(buf, head, h);
    memset(buf + h, c, n);
    strcpy(buf + h + n, tail);

    return buf;
}


static void
test_basic(void)
{
    t_reset();
    t_str(FIN | TEXT, "hello");
    EXPECT(BIG, "T5:hello;");

    /* back to back messages in one buffer */
    t_reset();
    t_str(FIN | TEXT, "one");
    t_str(FIN | TEXT, "two");
    t_str(FIN | PING, "");
    t_str(FIN | TEXT, "three");
    EXPECT(BIG, "T3:one;T3:two;P0:;T5:three;");

    /* a truncated stream reports what it has and no error */
    t_reset();
    t_str(FIN | TEXT, "one");
    t_str(FIN | TEXT, "partial");
    t_len -= 3;
    EXPECT(BIG, "T3:one;t4:part;");

    t_reset();
    t_str(FIN | TEXT, "one");
    t_len -= 5;     /* cut inside the header */
    EXPECT(BIG, "");
}


static void
test_header_rules(void)
{
    int  op;

    /* unmasked client frames */
    t_reset();
    t_frame_raw(FIN | TEXT, 0, 2, LEN_MIN);
    memcpy(t_in + t_len, "hi", 2);
    t_len += 2;
    EXPECT(BIG, "E1002;");

    t_reset();
    t_frame_raw(FIN | PING, 0, 0, LEN_MIN);
    EXPECT(BIG, "E1002;");

    /* each RSV bit */
    t_reset();
    t_str(FIN | 0x40 | TEXT, "x");
    EXPECT(BIG, "E1002;");

    t_reset();
    t_str(FIN | 0x20 | TEXT, "x");
    EXPECT(BIG, "E1002;");

    t_reset();
    t_str(FIN | 0x10 | PING, "x");
    EXPECT(BIG, "E1002;");

    /* every reserved opcode */
    for (op = 3; op < 16; op++) {
        if (op >= CLOSE && op <= PONG) {
            continue;
        }

        t_reset();
        t_str(FIN | TEXT, "ok");
        t_str(FIN | op, "");
        EXPECT(BIG, "T2:ok;E1002;");
    }

    /* binary: refused from its header alone, payload never read */
    t_reset();
    t_str(FIN | BINARY, "bin");
    EXPECT(BIG, "E1003;");

    t_reset();
    t_frame_raw(FIN | BINARY, 1, 1000, LEN_MIN);
    EXPECT(BIG, "E1003;");

    t_reset();
    t_frame_raw(BINARY, 1, 0, LEN_MIN);
    EXPECT(BIG, "E1003;");
}


static void
test_lengths(void)
{
    uint8_t  big[70000];

    memset(big, 'b', sizeof(big));

    /* non-minimal 16-bit, 64-bit; the smallest legal value of each */
    t_reset();
    t_frame(FIN | TEXT, "short", 5, LEN_16);
    EXPECT(BIG, "E1002;");

    t_reset();
    t_frame(FIN | TEXT, big, 125, LEN_16);
    EXPECT(BIG, "E1002;");

    t_reset();
    t_frame(FIN | TEXT, big, 126, LEN_16);
    t_str(FIN | TEXT, "z");
    EXPECT(BIG, t_want("T126:", 'b', 126, ";T1:z;"));

    t_reset();
    t_frame(FIN | TEXT, "short", 5, LEN_64);
    EXPECT(BIG, "E1002;");

    t_reset();
    t_frame(FIN | TEXT, big, 65535, LEN_64);
    EXPECT(BIG, "E1002;");

    t_reset();
    t_frame_raw(FIN | TEXT, 1, 0x8000000000000000ULL, LEN_64);
    EXPECT(BIG, "E1002;");

    t_reset();
    t_frame_raw(FIN | TEXT, 1, 0xffffffffffffffffULL, LEN_64);
    EXPECT(BIG, "E1002;");
}


static void
test_fragmentation(void)
{
    /* pings and pongs between fragments */
    t_reset();
    t_str(TEXT, "Hel");
    t_str(FIN | PING, "p1");
    t_str(CONT, "lo");
    t_str(FIN | PONG, "");
    t_str(CONT, ", ");
    t_str(FIN | PING, "p2");
    t_str(FIN | CONT, "world");
    t_str(FIN | TEXT, "next");
    EXPECT(BIG, "P0:p1;O0:;P0:p2;T12:Hello, world;T4:next;");

    /* continuation with nothing to continue */
    t_reset();
    t_str(FIN | CONT, "x");
    EXPECT(BIG, "E1002;");

    t_reset();
    t_str(FIN | TEXT, "done");
    t_str(CONT, "x");
    EXPECT(BIG, "T4:done;E1002;");

    /* a new data frame inside an unfinished message */
    t_reset();
    t_str(TEXT, "a");
    t_str(FIN | TEXT, "b");
    EXPECT(BIG, "E1002;");

    t_reset();
    t_str(TEXT, "a");
    t_str(FIN | BINARY, "b");
    EXPECT(BIG, "E1002;");

    /* a close between fragments is reported; the parser carries on */
    t_reset();
    t_str(TEXT, "a");
    t_frame(FIN | CLOSE, "\x03\xe8" "bye", 5, LEN_MIN);
    t_str(FIN | CONT, "b");
    EXPECT(BIG, "C1000:\x03\xe8" "bye;T2:ab;");
}


static void
test_control(void)
{
    uint8_t  pl[126];

    memset(pl, 'p', sizeof(pl));

    /* 125 bytes is the limit, collected whatever the chunking */
    t_reset();
    t_frame(FIN | PING, pl, 125, LEN_MIN);
    EXPECT(BIG, t_want("P0:", 'p', 125, ";"));

    t_reset();
    t_frame(FIN | PING, pl, 126, LEN_MIN);
    EXPECT(BIG, "E1002;");

    t_reset();
    t_frame_raw(FIN | PONG, 1, 70000, LEN_MIN);
    EXPECT(BIG, "E1002;");

    /* fragmented control frames */
    t_reset();
    t_str(PING, "x");
    EXPECT(BIG, "E1002;");

    t_reset();
    t_str(CLOSE, "");
    EXPECT(BIG, "E1002;");

    /* control frames do not count toward the message size */
    t_reset();
    t_str(TEXT, "1234");
    t_frame(FIN | PING, pl, 100, LEN_MIN);
    t_str(FIN | CONT, "5678");
    EXPECT(8, t_want("P0:", 'p', 100, ";T8:12345678;"));
}


static void
test_close(void)
{
    int             i;
    char            want[64];
    uint8_t         pl[4];
    static unsigned bad[] = { 0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100,
                              2000, 2999, 5000, 65535 };
    static unsigned good[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009,
                               1010, 1011, 1012, 1013, 1014, 3000, 4000,
                               4999 };

    t_reset();
    t_str(FIN | CLOSE, "");
    EXPECT(BIG, "C1005:;");

    t_reset();
    t_frame(FIN | CLOSE, "\x03", 1, LEN_MIN);
    EXPECT(BIG, "E1002;");

    /* even when a stale byte would complete a valid code */
    t_reset();
    t_frame(FIN | PING, "\x03\xe8", 2, LEN_MIN);
    t_frame(FIN | CLOSE, "\x03", 1, LEN_MIN);
    EXPECT(BIG, "P0:\x03\xe8;E1002;");

    for (i = 0; i < (int) (sizeof(bad) / sizeof(bad[0])); i++) {
        pl[0] = (uint8_t) (bad[i] >> 8);
        pl[1] = (uint8_t) bad[i];
        t_reset();
        t_frame(FIN | CLOSE, pl, 2, LEN_MIN);
        EXPECT(BIG, "E1002;");
        COLLAB_CHECK_MSG(!collab_ws_close_code_valid(bad[i]), "%u", bad[i]);
    }

    for (i = 0; i < (int) (sizeof(good) / sizeof(good[0])); i++) {
        pl[0] = (uint8_t) (good[i] >> 8);
        pl[1] = (uint8_t) good[i];
        pl[2] = 'o';
        pl[3] = 'k';
        t_reset();
        t_frame(FIN | CLOSE, pl, 4, LEN_MIN);
        snprintf(want, sizeof(want), "C%u:%c%cok;", good[i], pl[0], pl[1]);
        EXPECT(BIG, want);
        COLLAB_CHECK_MSG(collab_ws_close_code_valid(good[i]), "%u",
                         good[i]);
    }

    /* the reason must be UTF-8, whole */
    t_reset();
    t_frame(FIN | CLOSE, "\x03\xe8\xc3\xa9t\xc3\xa9", 7, LEN_MIN);
    EXPECT(BIG, "C1000:\x03\xe8\xc3\xa9t\xc3\xa9;");

    t_reset();
    t_frame(FIN | CLOSE, "\x03\xe8" "ab\xff", 5, LEN_MIN);
    EXPECT(BIG, "E1007;");

    t_reset();
    t_frame(FIN | CLOSE, "\x03\xe8" "ab\xc3", 5, LEN_MIN);
    EXPECT(BIG, "E1007;");

    t_reset();
    t_frame(FIN | CLOSE, "\x03\xe8\xed\xa0\x80", 5, LEN_MIN);
    EXPECT(BIG, "E1007;");
}


static void
test_utf8(void)
{
    size_t       k, n;
    const char  *s;

    /* a 4-byte character split across fragments at every position */
    s = "a\xf0\x9f\x98\x80z";
    n = strlen(s);

    for (k = 0; k <= n; k++) {
        t_reset();
        t_frame(TEXT, s, k, LEN_MIN);
        t_str(FIN | PING, "");
        t_frame(FIN | CONT, s + k, n - k, LEN_MIN);
        EXPECT(BIG, "P0:;T6:a\xf0\x9f\x98\x80z;");
    }

    t_reset();
    t_str(FIN | TEXT, "ok\xff");
    EXPECT(BIG, "E1007;");

    /* caught as soon as the bad byte arrives, not at message end */
    t_reset();
    t_str(TEXT, "abc\xed\xa0");
    EXPECT(BIG, "E1007;");

    t_reset();
    t_str(FIN | TEXT, "\xc0\xaf");
    EXPECT(BIG, "E1007;");

    t_reset();
    t_str(FIN | TEXT, "\xf4\x90\x80\x80");
    EXPECT(BIG, "E1007;");

    /* incomplete at the end of the message */
    t_reset();
    t_str(FIN | TEXT, "a\xc3");
    EXPECT(BIG, "E1007;");

    t_reset();
    t_str(TEXT, "a\xe2\x82");
    t_str(FIN | CONT, "");
    EXPECT(BIG, "E1007;");

    /* but an incomplete fragment is fine, and the next message is fresh */
    t_reset();
    t_str(TEXT, "a\xe2\x82");
    t_str(FIN | CONT, "\xac");
    t_str(FIN | TEXT, "b");
    EXPECT(BIG, "T4:a\xe2\x82\xac;T1:b;");
}


static void
test_size(void)
{
    size_t  consumed;
    char   *log;

    t_reset();
    t_str(FIN | TEXT, "0123456789");
    EXPECT(10, "T10:0123456789;");

    t_reset();
    t_str(FIN | TEXT, "0123456789A");
    EXPECT(10, "E1009;");

    /* the sum of the fragments counts, checked at the second header */
    t_reset();
    t_str(TEXT, "012345");
    t_str(CONT, "6789");
    t_str(FIN | CONT, "");
    t_str(FIN | TEXT, "0123456789");
    EXPECT(10, "T10:0123456789;T10:0123456789;");

    t_reset();
    t_str(TEXT, "012345");
    t_str(FIN | CONT, "6789A");
    EXPECT(10, "E1009;");

    /* a declared 1 TiB frame: refused from its 14-byte header alone */
    t_reset();
    t_frame_raw(FIN | TEXT, 1, 1ULL << 40, LEN_MIN);
    EXPECT(BIG, "E1009;");

    log = t_run(t_in, t_len, BIG, 0, 0, &consumed);
    COLLAB_CHECK(strcmp(log, "E1009;") == 0 && consumed == 14);
    free(log);

    /* huge declared lengths near the top do not wrap the check */
    t_reset();
    t_str(TEXT, "abc");
    t_frame_raw(CONT, 1, 0x7fffffffffffffffULL, LEN_64);
    EXPECT(0x8000000000000002ULL, "t3:abc;");
    EXPECT(0x8000000000000001ULL, "E1009;");
    EXPECT(UINT64_MAX, "t3:abc;");
}


static void
test_zero_length(void)
{
    t_reset();
    t_str(FIN | TEXT, "");
    t_str(FIN | TEXT, "");
    EXPECT(BIG, "T0:;T0:;");

    t_reset();
    t_str(TEXT, "");
    t_str(CONT, "");
    t_str(FIN | CONT, "ab");
    EXPECT(BIG, "T2:ab;");

    t_reset();
    t_str(TEXT, "ab");
    t_str(FIN | CONT, "");
    EXPECT(BIG, "T2:ab;");

    t_reset();
    t_str(FIN | TEXT, "");
    EXPECT(0, "T0:;");
}


/* the flags and pointers of individual events, fed whole */

static void
test_event_flags(void)
{
    size_t              n, off;
    collab_ws_event_t   ev;
    collab_ws_parser_t  p;

    collab_ws_parser_init(&p, BIG);

    t_reset();
    t_str(FIN | TEXT, "");
    off = 0;
    n = collab_ws_parse(&p, t_in, t_len, &ev);
    COLLAB_CHECK(n == t_len && ev.type == COLLAB_WS_EV_DATA && ev.len == 0
                 && ev.message_start && ev.message_end);
    n = collab_ws_parse(&p, t_in + n, 0, &ev);
    COLLAB_CHECK(n == 0 && ev.type == COLLAB_WS_EV_NONE);

    /* TEXT "" (not final), CONT "ab" (not final), CONT "" final */
    t_reset();
    t_str(TEXT, "");
    t_str(CONT, "ab");
    t_str(FIN | CONT, "");

    off = collab_ws_parse(&p, t_in, t_len, &ev);
    COLLAB_CHECK(ev.type == COLLAB_WS_EV_DATA && ev.len == 2
                 && memcmp(ev.data, "ab", 2) == 0 && ev.frame_len == 2
                 && ev.message_start && !ev.message_end);

    off += collab_ws_parse(&p, t_in + off, t_len - off, &ev);
    COLLAB_CHECK(ev.type == COLLAB_WS_EV_DATA && ev.len == 0
                 && !ev.message_start && ev.message_end && off == t_len);

    /* a ping arriving one byte at a time is one event, after the last */
    t_reset();
    t_str(FIN | PING, "xyz");

    for (off = 0; off < t_len; off++) {
        n = collab_ws_parse(&p, t_in + off, 1, &ev);
        COLLAB_CHECK(n == 1);
        COLLAB_CHECK(ev.type == (off + 1 < t_len ? COLLAB_WS_EV_NONE
                                                 : COLLAB_WS_EV_CONTROL));
    }

    COLLAB_CHECK(ev.opcode == PING && ev.len == 3
                 && memcmp(ev.data, "xyz", 3) == 0);

    /* a close event carries code and reason */
    t_reset();
    t_frame(FIN | CLOSE, "\x0f\xa0hi", 4, LEN_MIN);
    n = collab_ws_parse(&p, t_in, t_len, &ev);
    COLLAB_CHECK(n == t_len && ev.type == COLLAB_WS_EV_CONTROL
                 && ev.close_code == 4000 && ev.reason_len == 2
                 && memcmp(ev.reason, "hi", 2) == 0);
}


/* unmasking at every length and key rotation, split anywhere */

static void
test_payload_sizes(void)
{
    size_t   n, i;
    char    *want;
    uint8_t *pl;

    pl = malloc(70000);
    want = malloc(70100);

    if (pl == NULL || want == NULL) {
        abort();
    }

    for (i = 0; i < 70000; i++) {
        pl[i] = (uint8_t) ('!' + (i * 7 + i / 13) % 90);
    }

    for (n = 0; n <= 300; n++) {
        t_reset();
        t_frame(TEXT, pl, n % 5, LEN_MIN);       /* shifts the key phase */
        t_frame(FIN | CONT, pl + n % 5, n, LEN_MIN);

        i = sprintf(want, "T%zu:", n + n % 5);
        memcpy(want + i, pl, n + n % 5);
        strcpy(want + i + n + n % 5, ";");
        EXPECT(BIG, want);
    }

    t_reset();
    t_frame(FIN | TEXT, pl, 70000, LEN_MIN);
    i = sprintf(want, "T%d:", 70000);
    memcpy(want + i, pl, 70000);
    strcpy(want + i + 70000, ";");
    EXPECT(BIG, want);

    free(pl);
    free(want);
}


/* server frames: minimal lengths; masked like a client, they parse back */

static void
test_encoder(void)
{
    char            *log, reason[300];
    size_t           n, i, k, h;
    uint8_t          out[2 + 125], *pl;
    uint64_t         lens[] = { 0, 1, 125, 126, 65535, 65536, 100000 };
    collab_ws_utf8_t u;

    static const char  *chars[] = { "x", "\xc3\xa9", "\xe2\x82\xac",
                                    "\xf0\x9f\x98\x80" };

    n = collab_ws_encode_header(out, TEXT, 1, 125);
    COLLAB_CHECK(n == 2 && out[0] == 0x81 && out[1] == 125);

    n = collab_ws_encode_header(out, TEXT, 0, 126);
    COLLAB_CHECK(n == 4 && out[0] == 0x01 && out[1] == 126 && out[2] == 0
                 && out[3] == 126);

    n = collab_ws_encode_header(out, PONG, 1, 65535);
    COLLAB_CHECK(n == 4 && out[0] == 0x8a && out[2] == 0xff
                 && out[3] == 0xff);

    n = collab_ws_encode_header(out, CONT, 1, 65536);
    COLLAB_CHECK(n == 10 && out[0] == 0x80 && out[1] == 127
                 && memcmp(out + 2, "\0\0\0\0\0\x01\0\0", 8) == 0);

    n = collab_ws_encode_header(out, TEXT, 1, 1ULL << 40);
    COLLAB_CHECK(n == 10 && memcmp(out + 2, "\0\0\x01\0\0\0\0\0", 8) == 0);

    pl = malloc(100000 + 14);
    if (pl == NULL) {
        abort();
    }

    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        h = collab_ws_encode_header(t_in, TEXT, 1, lens[i]);

        /* a client would set the mask bit and insert a key */
        t_in[1] |= 0x80;
        memcpy(t_in + h, "\x12\x34\x56\x78", 4);

        for (k = 0; k < lens[i]; k++) {
            pl[k] = (uint8_t) ('a' + k % 26);
            t_in[h + 4 + k] = pl[k] ^ t_in[h + k % 4];
        }

        t_len = h + 4 + lens[i];
        log = t_run(t_in, t_len, BIG, 2, 42, NULL);
        n = sprintf(reason, "T%u:", (unsigned) lens[i]);
        COLLAB_CHECK_MSG(strncmp(log, reason, n) == 0
                         && memcmp(log + n, pl, lens[i]) == 0
                         && strcmp(log + n + lens[i], ";") == 0,
                         "round trip %u", (unsigned) lens[i]);
        free(log);
    }

    free(pl);

    /* close frames */
    n = collab_ws_encode_close(out, 1000, "bye", 3);
    COLLAB_CHECK_MEM(out, n, "\x88\x05\x03\xe8" "bye", (size_t) 7);

    n = collab_ws_encode_close(out, 1009, NULL, 0);
    COLLAB_CHECK_MEM(out, n, "\x88\x02\x03\xf1", (size_t) 4);

    n = collab_ws_encode_close(out, 0, "ignored", 7);
    COLLAB_CHECK_MEM(out, n, "\x88\x00", (size_t) 2);

    n = collab_ws_encode_close(out, 1005, NULL, 0);
    COLLAB_CHECK_MEM(out, n, "\x88\x00", (size_t) 2);

    memset(reason, 'r', sizeof(reason));
    n = collab_ws_encode_close(out, 1001, reason, 123);
    COLLAB_CHECK(n == 127 && out[1] == 125);

    n = collab_ws_encode_close(out, 1001, reason, sizeof(reason));
    COLLAB_CHECK(n == 127 && out[1] == 125);

    /* truncation at a code point boundary, for every character width */
    for (k = 1; k <= 4; k++) {
        for (i = 0; i + k <= sizeof(reason); i += k) {
            memcpy(reason + i, chars[k - 1], k);
        }

        for (i = 120; i <= 130; i++) {
            n = collab_ws_encode_close(out, 1000, reason, i - i % k);
            collab_ws_utf8_init(&u);
            COLLAB_CHECK_MSG(n <= 127 && out[1] == n - 2
                             && n - 4 + k > (i - i % k < 123
                                             ? i - i % k : 123)
                             && collab_ws_utf8_feed(&u, out + 4, n - 4) == 0
                             && collab_ws_utf8_finish(&u) == 0,
                             "width %zu len %zu: frame %zu", k, i, n);

            /* masked like a client, it parses back as the same close */
            t_in[0] = out[0];
            t_in[1] = out[1] | 0x80;
            memcpy(t_in + 2, "\xa1\xb2\xc3\xd4", 4);

            for (h = 0; h < n - 2; h++) {
                t_in[6 + h] = out[2 + h] ^ t_in[2 + h % 4];
            }

            t_len = 6 + n - 2;
            log = t_run(t_in, t_len, BIG, 1, 0, NULL);
            COLLAB_CHECK_MSG(strncmp(log, "C1000:", 6) == 0
                             && memcmp(log + 6, out + 2, n - 2) == 0,
                             "close round trip width %zu len %zu", k, i);
            free(log);
        }
    }
}


static void
test_sticky_error(void)
{
    size_t              n;
    collab_ws_event_t   ev;
    collab_ws_parser_t  p;

    collab_ws_parser_init(&p, BIG);

    t_reset();
    t_str(FIN | BINARY, "x");
    t_str(FIN | TEXT, "ok");

    n = collab_ws_parse(&p, t_in, t_len, &ev);
    COLLAB_CHECK(ev.type == COLLAB_WS_EV_ERROR && ev.close_code == 1003
                 && ev.error != NULL && n <= 2);

    n = collab_ws_parse(&p, t_in + 7, t_len - 7, &ev);
    COLLAB_CHECK(n == 0 && ev.type == COLLAB_WS_EV_ERROR
                 && ev.close_code == 1003);
}


static uint32_t
t_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;

    return *s;
}
