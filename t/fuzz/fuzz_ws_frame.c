/*
 * libFuzzer target for the RFC 6455 frame parser.
 *
 * Input: byte 0 picks the maximum message size and the input mode, bytes
 * 1-8 are a table of chunk sizes, the rest is the stream: either raw bytes
 * or (builder mode) records "b0, form, n, n payload bytes" turned into
 * client frames masked here, so the fuzzer reaches deep states easily.
 *
 * The stream is parsed in one call sequence over the whole buffer, in the
 * chunk sizes of the table, and one byte at a time: the completed
 * messages, control events, error code (and trailing partial message if no
 * error) must be identical, and every API invariant must hold.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws/collab_ws_frame.h"


typedef struct {
    uint8_t   *data;
    size_t     len;
    size_t     size;
} fuzz_buf_t;


static void fuzz_put(fuzz_buf_t *b, const void *p, size_t n);
static void fuzz_log(fuzz_buf_t *log, int tag, unsigned v, const void *p,
    size_t n);
static size_t fuzz_build(const uint8_t *in, size_t len, uint8_t *out);
static void fuzz_run(const uint8_t *in, size_t len, uint64_t max,
    const uint8_t *chunks, fuzz_buf_t *log);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const uint64_t  fuzz_max[] = { 0, 1, 5, 16, 100, 125, 126, 1000,
                                      65535, 65536, 1 << 20, UINT64_MAX };


static void
fuzz_put(fuzz_buf_t *b, const void *p, size_t n)
{
    if (b->len + n > b->size) {
        b->size = (b->len + n) * 2 + 64;
        b->data = realloc(b->data, b->size);

        if (b->data == NULL) {
            abort();
        }
    }

    if (n) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
    }
}


static void
fuzz_log(fuzz_buf_t *log, int tag, unsigned v, const void *p, size_t n)
{
    uint8_t  h[9];

    h[0] = (uint8_t) tag;
    memcpy(h + 1, &v, 4);
    memcpy(h + 5, &n, 4);

    fuzz_put(log, h, 9);
    fuzz_put(log, p, n);
}


/* builder mode: records to masked client frames; returns the length */

static size_t
fuzz_build(const uint8_t *in, size_t len, uint8_t *out)
{
    int       form, i;
    size_t    pos, o, n, k;
    uint8_t   key[4];
    uint64_t  declared;

    pos = 0;
    o = 0;

    while (pos + 3 <= len) {
        out[o++] = in[pos];
        form = in[pos + 1] & 7;
        n = in[pos + 2];
        pos += 3;

        if (n > len - pos) {
            n = len - pos;
        }

        /* forms 4-7 declare a bigger length than the bytes that follow */
        declared = n;

        if (form == 4) {
            declared = (uint64_t) n << 8 | 0xff;

        } else if (form == 5) {
            declared = (uint64_t) n << 32;
        }

        if (form == 1 || (declared >= 126 && declared < 65536)) {
            out[o++] = 0x80 | 126;
            out[o++] = (uint8_t) (declared >> 8);
            out[o++] = (uint8_t) declared;

        } else if (form == 2 || declared >= 65536) {
            out[o++] = 0x80 | 127;

            for (i = 7; i >= 0; i--) {
                out[o++] = (uint8_t) (declared >> (8 * i));
            }

        } else {
            out[o++] = (uint8_t) ((form == 3 ? 0 : 0x80) | declared);
        }

        if (form != 3) {
            key[0] = (uint8_t) (o * 31);
            key[1] = (uint8_t) (n + 7);
            key[2] = 0xa5;
            key[3] = (uint8_t) pos;
            memcpy(out + o, key, 4);
            o += 4;

            for (k = 0; k < n; k++) {
                out[o++] = in[pos + k] ^ key[k & 3];
            }

        } else {
            memcpy(out + o, in + pos, n);
            o += n;
        }

        pos += n;
    }

    return o;
}


/* chunks == NULL: whole; chunks[0] == 0: byte by byte; else the table */

static void
fuzz_run(const uint8_t *in, size_t len, uint64_t max, const uint8_t *chunks,
    fuzz_buf_t *log)
{
    size_t              off, chunk, left, n, ci;
    uint8_t            *buf;
    unsigned            in_msg;
    fuzz_buf_t          msg;
    collab_ws_event_t   ev;
    collab_ws_parser_t  p;

    buf = malloc(len + 1);
    if (buf == NULL) {
        abort();
    }

    memcpy(buf, in, len);
    memset(&msg, 0, sizeof(fuzz_buf_t));

    collab_ws_parser_init(&p, max);

    off = 0;
    ci = 0;
    in_msg = 0;

    while (off < len) {

        if (chunks == NULL) {
            chunk = len - off;

        } else if (chunks[0] == 0) {
            chunk = 1;

        } else {
            chunk = 1 + chunks[ci++ % 8];
            if (chunk > len - off) {
                chunk = len - off;
            }
        }

        left = chunk;

        for ( ;; ) {
            n = collab_ws_parse(&p, buf + off, left, &ev);

            if (n > left) {
                abort();
            }

            off += n;
            left -= n;

            if (ev.type == COLLAB_WS_EV_NONE) {
                if (left != 0) {
                    abort();
                }

                break;
            }

            if (ev.type == COLLAB_WS_EV_ERROR) {
                if (ev.error == NULL
                    || (ev.close_code != 1002 && ev.close_code != 1003
                        && ev.close_code != 1007 && ev.close_code != 1009))
                {
                    abort();
                }

                fuzz_log(log, 'E', ev.close_code, NULL, 0);

                /* the error is sticky */
                n = collab_ws_parse(&p, buf + off, len - off, &ev);
                if (n != 0 || ev.type != COLLAB_WS_EV_ERROR) {
                    abort();
                }

                goto done;
            }

            if (ev.type == COLLAB_WS_EV_CONTROL) {
                if (ev.len > COLLAB_WS_MAX_CONTROL
                    || (ev.opcode != COLLAB_WS_OP_PING
                        && ev.opcode != COLLAB_WS_OP_PONG
                        && ev.opcode != COLLAB_WS_OP_CLOSE))
                {
                    abort();
                }

                if (ev.opcode == COLLAB_WS_OP_CLOSE
                    && !(ev.len == 0 && ev.close_code == 1005)
                    && !(ev.len >= 2
                         && collab_ws_close_code_valid(ev.close_code)
                         && ev.reason == ev.data + 2
                         && ev.reason_len == ev.len - 2))
                {
                    abort();
                }

                fuzz_log(log, ev.opcode, ev.close_code, ev.data, ev.len);
                continue;
            }

            if (ev.type != COLLAB_WS_EV_DATA
                || ev.data + ev.len != buf + off
                || ev.message_start != !in_msg
                || (ev.len == 0 && !ev.message_end))
            {
                abort();
            }

            fuzz_put(&msg, ev.data, ev.len);
            in_msg = 1;

            if (msg.len > max) {
                abort();
            }

            if (ev.message_end) {
                fuzz_log(log, 'T', 0, msg.data, msg.len);
                msg.len = 0;
                in_msg = 0;
            }
        }
    }

    if (in_msg) {
        fuzz_log(log, 't', 0, msg.data, msg.len);
    }

done:

    free(msg.data);
    free(buf);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t          len;
    uint8_t        *built, one[8];
    uint64_t        max;
    fuzz_buf_t      a, b, c;
    const uint8_t  *in;

    if (size < 9) {
        return 0;
    }

    max = fuzz_max[(data[0] & 0x7f) % (sizeof(fuzz_max) / sizeof(uint64_t))];

    in = data + 9;
    len = size - 9;
    built = NULL;

    if (data[0] & 0x80) {
        /* each record grows by at most 14 - 3 bytes */
        built = malloc(len / 3 * 11 + len + 16);
        if (built == NULL) {
            abort();
        }

        len = fuzz_build(in, len, built);
        in = built;
    }

    memset(&a, 0, sizeof(fuzz_buf_t));
    memset(&b, 0, sizeof(fuzz_buf_t));
    memset(&c, 0, sizeof(fuzz_buf_t));
    memset(one, 0, sizeof(one));

    fuzz_run(in, len, max, NULL, &a);
    fuzz_run(in, len, max, data + 1, &b);
    fuzz_run(in, len, max, one, &c);

    if (a.len != b.len || a.len != c.len
        || (a.len && (memcmp(a.data, b.data, a.len) != 0
                      || memcmp(a.data, c.data, a.len) != 0)))
    {
        abort();
    }

    free(a.data);
    free(b.data);
    free(c.data);
    free(built);

    return 0;
}
