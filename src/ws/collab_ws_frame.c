/*
 * RFC 6455 frame codec: an incremental parser for client frames and the
 * encoders for server frames.  The parser never allocates: data payloads
 * are unmasked in the caller's buffer, control payloads (at most 125
 * bytes) are collected in the parser itself.
 */


#include <string.h>

#include "ws/collab_ws_frame.h"


enum {
    COLLAB_WS_ST_HEADER = 0,
    COLLAB_WS_ST_DATA,
    COLLAB_WS_ST_CONTROL,
    COLLAB_WS_ST_ERROR
};


static int collab_ws_header_start(collab_ws_parser_t *p,
    collab_ws_event_t *ev);
static int collab_ws_header_done(collab_ws_parser_t *p,
    collab_ws_event_t *ev);
static void collab_ws_control_done(collab_ws_parser_t *p,
    collab_ws_event_t *ev);
static void collab_ws_fail(collab_ws_parser_t *p, collab_ws_event_t *ev,
    uint16_t code, const char *error);
static void collab_ws_unmask(uint8_t *d, size_t n, const uint8_t *mask,
    uint64_t offset);


void
collab_ws_parser_init(collab_ws_parser_t *p, uint64_t max_message_size)
{
    memset(p, 0, sizeof(collab_ws_parser_t));

    p->max_message_size = max_message_size;
    p->state = COLLAB_WS_ST_HEADER;
    p->hdr_need = 2;

    collab_ws_utf8_init(&p->utf8);
}


size_t
collab_ws_parse(collab_ws_parser_t *p, uint8_t *in, size_t len,
    collab_ws_event_t *ev)
{
    size_t    pos, n;
    uint8_t  *data;
    unsigned  last, end;

    memset(ev, 0, sizeof(collab_ws_event_t));

    pos = 0;

    for ( ;; ) {

        switch (p->state) {

        case COLLAB_WS_ST_HEADER:

            if (pos == len) {
                ev->type = COLLAB_WS_EV_NONE;
                return pos;
            }

            n = p->hdr_need - p->hdr_len;
            if (n > len - pos) {
                n = len - pos;
            }

            memcpy(p->hdr + p->hdr_len, in + pos, n);
            p->hdr_len += n;
            pos += n;

            if (p->hdr_len < p->hdr_need) {
                break;
            }

            if (p->hdr_need == 2) {
                /* the first two bytes tell how long the header is */

                if (collab_ws_header_start(p, ev) != 0) {
                    return pos;
                }

                break;
            }

            if (collab_ws_header_done(p, ev) != 0) {
                return pos;
            }

            break;

        case COLLAB_WS_ST_DATA:

            n = len - pos;
            if (n > p->frame_len - p->frame_done) {
                n = (size_t) (p->frame_len - p->frame_done);
            }

            if (n == 0 && p->frame_done < p->frame_len) {
                ev->type = COLLAB_WS_EV_NONE;
                return pos;
            }

            data = in + pos;

            collab_ws_unmask(data, n, p->mask, p->frame_done);

            if (collab_ws_utf8_feed(&p->utf8, data, n) != 0) {
                collab_ws_fail(p, ev, COLLAB_WS_CLOSE_INVALID_DATA,
                               "invalid UTF-8 in text message");
                return pos;
            }

            pos += n;
            p->frame_done += n;
            p->message_len += n;

            last = (p->frame_done == p->frame_len);
            end = last && p->fin;

            if (end && collab_ws_utf8_finish(&p->utf8) != 0) {
                collab_ws_fail(p, ev, COLLAB_WS_CLOSE_INVALID_DATA,
                               "truncated UTF-8 at end of text message");
                return pos;
            }

            if (last) {
                p->state = COLLAB_WS_ST_HEADER;
                p->hdr_len = 0;
                p->hdr_need = 2;
            }

            if (n == 0 && !end) {
                /* an empty non-final fragment: nothing to report */
                break;
            }

            ev->type = COLLAB_WS_EV_DATA;
            ev->opcode = COLLAB_WS_OP_TEXT;
            ev->data = data;
            ev->len = n;
            ev->frame_len = p->frame_len;
            ev->message_start = p->message_pending;
            ev->message_end = end;

            p->message_pending = 0;

            if (end) {
                p->in_message = 0;
            }

            return pos;

        case COLLAB_WS_ST_CONTROL:

            n = len - pos;
            if (n > p->frame_len - p->frame_done) {
                n = (size_t) (p->frame_len - p->frame_done);
            }

            if (n) {
                memcpy(p->control + p->frame_done, in + pos, n);
                collab_ws_unmask(p->control + p->frame_done, n, p->mask,
                                 p->frame_done);

                pos += n;
                p->frame_done += n;
            }

            if (p->frame_done < p->frame_len) {
                ev->type = COLLAB_WS_EV_NONE;
                return pos;
            }

            p->state = COLLAB_WS_ST_HEADER;
            p->hdr_len = 0;
            p->hdr_need = 2;

            collab_ws_control_done(p, ev);

            return pos;

        default: /* COLLAB_WS_ST_ERROR */

            ev->type = COLLAB_WS_EV_ERROR;
            ev->close_code = p->error_code;
            ev->error = p->error;

            return pos;
        }
    }
}


/*
 * Checks everything the first two header bytes decide, so a bad frame is
 * refused (and a binary one reported) before its payload is read.
 */

static int
collab_ws_header_start(collab_ws_parser_t *p, collab_ws_event_t *ev)
{
    int       op;
    unsigned  fin, len7;

    if (p->hdr[0] & 0x70) {
        collab_ws_fail(p, ev, COLLAB_WS_CLOSE_PROTOCOL,
                       "RSV bits set without an extension");
        return -1;
    }

    op = p->hdr[0] & 0x0f;
    fin = p->hdr[0] >> 7;
    len7 = p->hdr[1] & 0x7f;

    switch (op) {

    case COLLAB_WS_OP_CONT:
    case COLLAB_WS_OP_TEXT:
    case COLLAB_WS_OP_BINARY:
    case COLLAB_WS_OP_CLOSE:
    case COLLAB_WS_OP_PING:
    case COLLAB_WS_OP_PONG:
        break;

    default:
        collab_ws_fail(p, ev, COLLAB_WS_CLOSE_PROTOCOL, "unknown opcode");
        return -1;
    }

    if (!(p->hdr[1] & 0x80)) {
        collab_ws_fail(p, ev, COLLAB_WS_CLOSE_PROTOCOL,
                       "unmasked client frame");
        return -1;
    }

    if (op & 0x8) {
        if (!fin) {
            collab_ws_fail(p, ev, COLLAB_WS_CLOSE_PROTOCOL,
                           "fragmented control frame");
            return -1;
        }

        if (len7 > COLLAB_WS_MAX_CONTROL) {
            collab_ws_fail(p, ev, COLLAB_WS_CLOSE_PROTOCOL,
                           "control frame payload over 125 bytes");
            return -1;
        }

    } else if (op == COLLAB_WS_OP_CONT) {
        if (!p->in_message) {
            collab_ws_fail(p, ev, COLLAB_WS_CLOSE_PROTOCOL,
                           "continuation frame without a message");
            return -1;
        }

    } else {
        if (p->in_message) {
            collab_ws_fail(p, ev, COLLAB_WS_CLOSE_PROTOCOL,
                           "new message inside a fragmented message");
            return -1;
        }

        if (op == COLLAB_WS_OP_BINARY) {
            collab_ws_fail(p, ev, COLLAB_WS_CLOSE_UNSUPPORTED,
                           "binary messages are not supported");
            return -1;
        }
    }

    p->opcode = op;
    p->fin = fin;
    p->hdr_need = 2 + 4 + (len7 == 126 ? 2 : (len7 == 127 ? 8 : 0));

    return 0;
}


static int
collab_ws_header_done(collab_ws_parser_t *p, collab_ws_event_t *ev)
{
    size_t    i, m;
    unsigned  len7;
    uint64_t  flen;

    len7 = p->hdr[1] & 0x7f;

    if (len7 < 126) {
        flen = len7;
        m = 2;

    } else if (len7 == 126) {
        flen = (uint64_t) p->hdr[2] << 8 | p->hdr[3];
        m = 4;

        if (flen < 126) {
            collab_ws_fail(p, ev, COLLAB_WS_CLOSE_PROTOCOL,
                           "non-minimal 16-bit payload length");
            return -1;
        }

    } else {
        flen = 0;
        for (i = 2; i < 10; i++) {
            flen = flen << 8 | p->hdr[i];
        }

        m = 10;

        if (flen >> 63) {
            collab_ws_fail(p, ev, COLLAB_WS_CLOSE_PROTOCOL,
                           "64-bit payload length with the high bit set");
            return -1;
        }

        if (flen < 65536) {
            collab_ws_fail(p, ev, COLLAB_WS_CLOSE_PROTOCOL,
                           "non-minimal 64-bit payload length");
            return -1;
        }
    }

    memcpy(p->mask, p->hdr + m, 4);

    p->frame_len = flen;
    p->frame_done = 0;

    if (p->opcode & 0x8) {
        p->state = COLLAB_WS_ST_CONTROL;
        return 0;
    }

    if (p->opcode == COLLAB_WS_OP_TEXT) {
        p->in_message = 1;
        p->message_text = 1;
        p->message_pending = 1;
        p->message_len = 0;
        collab_ws_utf8_init(&p->utf8);
    }

    /* message_len never exceeds the maximum, so this cannot wrap */

    if (flen > p->max_message_size - p->message_len) {
        collab_ws_fail(p, ev, COLLAB_WS_CLOSE_TOO_BIG,
                       "message exceeds the maximum size");
        return -1;
    }

    p->state = COLLAB_WS_ST_DATA;

    return 0;
}


static void
collab_ws_control_done(collab_ws_parser_t *p, collab_ws_event_t *ev)
{
    size_t            n;
    unsigned          code;
    collab_ws_utf8_t  u;

    n = (size_t) p->frame_len;

    ev->opcode = p->opcode;
    ev->data = p->control;
    ev->len = n;
    ev->frame_len = n;

    if (p->opcode == COLLAB_WS_OP_CLOSE) {

        if (n == 0) {
            ev->close_code = COLLAB_WS_CLOSE_NO_STATUS;

        } else {
            if (n == 1) {
                collab_ws_fail(p, ev, COLLAB_WS_CLOSE_PROTOCOL,
                               "close payload of one byte");
                return;
            }

            code = (unsigned) p->control[0] << 8 | p->control[1];

            if (!collab_ws_close_code_valid(code)) {
                collab_ws_fail(p, ev, COLLAB_WS_CLOSE_PROTOCOL,
                               "invalid close code");
                return;
            }

            collab_ws_utf8_init(&u);

            if (collab_ws_utf8_feed(&u, p->control + 2, n - 2) != 0
                || collab_ws_utf8_finish(&u) != 0)
            {
                collab_ws_fail(p, ev, COLLAB_WS_CLOSE_INVALID_DATA,
                               "invalid UTF-8 in close reason");
                return;
            }

            ev->close_code = (uint16_t) code;
            ev->reason = p->control + 2;
            ev->reason_len = n - 2;
        }
    }

    ev->type = COLLAB_WS_EV_CONTROL;
}


static void
collab_ws_fail(collab_ws_parser_t *p, collab_ws_event_t *ev, uint16_t code,
    const char *error)
{
    p->state = COLLAB_WS_ST_ERROR;
    p->error_code = code;
    p->error = error;

    memset(ev, 0, sizeof(collab_ws_event_t));

    ev->type = COLLAB_WS_EV_ERROR;
    ev->close_code = code;
    ev->error = error;
}


/*
 * XOR with the 4-byte key rotated to the frame offset, a 64-bit word at a
 * time (memcpy keeps unaligned access well defined; compilers emit plain
 * loads and stores for it).
 */

static void
collab_ws_unmask(uint8_t *d, size_t n, const uint8_t *mask, uint64_t offset)
{
    size_t    i;
    uint8_t   k[8];
    uint64_t  w, kw;

    for (i = 0; i < 8; i++) {
        k[i] = mask[(offset + i) & 3];
    }

    memcpy(&kw, k, 8);

    for (i = 0; i + 8 <= n; i += 8) {
        memcpy(&w, d + i, 8);
        w ^= kw;
        memcpy(d + i, &w, 8);
    }

    for ( /* void */ ; i < n; i++) {
        d[i] ^= k[i & 7];
    }
}


size_t
collab_ws_encode_header(uint8_t *out, int opcode, int fin,
    uint64_t payload_len)
{
    size_t  i;

    out[0] = (uint8_t) ((fin ? 0x80 : 0) | (opcode & 0x0f));

    if (payload_len < 126) {
        out[1] = (uint8_t) payload_len;
        return 2;
    }

    if (payload_len < 65536) {
        out[1] = 126;
        out[2] = (uint8_t) (payload_len >> 8);
        out[3] = (uint8_t) payload_len;
        return 4;
    }

    out[1] = 127;

    for (i = 0; i < 8; i++) {
        out[2 + i] = (uint8_t) (payload_len >> (56 - 8 * i));
    }

    return 10;
}


size_t
collab_ws_encode_close(uint8_t *out, uint16_t code, const char *reason,
    size_t reason_len)
{
    size_t          n;
    const uint8_t  *r;

    if (code == 0 || code == COLLAB_WS_CLOSE_NO_STATUS) {
        return collab_ws_encode_header(out, COLLAB_WS_OP_CLOSE, 1, 0);
    }

    r = (const uint8_t *) reason;
    n = (reason == NULL) ? 0 : reason_len;

    if (n > COLLAB_WS_MAX_CONTROL - 2) {
        /* cut before the code point that would straddle the limit */
        n = COLLAB_WS_MAX_CONTROL - 2;

        while (n > 0 && (r[n] & 0xc0) == 0x80) {
            n--;
        }
    }

    collab_ws_encode_header(out, COLLAB_WS_OP_CLOSE, 1, 2 + n);

    out[2] = (uint8_t) (code >> 8);
    out[3] = (uint8_t) code;

    if (n) {
        memcpy(out + 4, r, n);
    }

    return 4 + n;
}


int
collab_ws_close_code_valid(unsigned code)
{
    if (code >= 1000 && code <= 1003) {
        return 1;
    }

    if (code >= 1007 && code <= 1014) {
        return 1;
    }

    return (code >= 3000 && code <= 4999);
}
