/*
 * Incremental UTF-8 validation (RFC 3629): rejects overlongs, surrogates
 * (U+D800-DFFF) and code points above U+10FFFF.
 *
 * The state is 0 on a code point boundary, COLLAB_WS_UTF8_BAD once the
 * input is invalid, and otherwise packs how many continuation bytes are
 * still expected with the range allowed for the next one.  Only the first
 * continuation byte ever has a narrowed range (that is where overlongs,
 * surrogates and values above U+10FFFF show), later ones are always 80-BF.
 */


#include <string.h>

#include "ws/collab_ws_utf8.h"


#define COLLAB_WS_UTF8_BAD     0xffffffff
#define COLLAB_WS_UTF8_HIGH    0x8080808080808080ULL

#define collab_ws_utf8_expect(need, lo, hi)                                   \
    ((uint32_t) (need) | (uint32_t) (lo) << 8 | (uint32_t) (hi) << 16)


void
collab_ws_utf8_init(collab_ws_utf8_t *u)
{
    u->state = 0;
}


int
collab_ws_utf8_feed(collab_ws_utf8_t *u, const uint8_t *p, size_t n)
{
    uint8_t         c;
    uint32_t        s, lo, hi;
    uint64_t        w;
    const uint8_t  *end;

    s = u->state;

    if (s == COLLAB_WS_UTF8_BAD) {
        return -1;
    }

    end = p + n;

    while (p < end) {

        if (s == 0) {

            /* the common case: a run of ASCII, checked a word at a time */

            while (end - p >= 8) {
                memcpy(&w, p, 8);

                if (w & COLLAB_WS_UTF8_HIGH) {
                    break;
                }

                p += 8;
            }

            while (p < end && *p < 0x80) {
                p++;
            }

            if (p == end) {
                break;
            }

            c = *p++;

            if (c < 0xc2) {
                /* a stray continuation byte, or C0/C1 (overlong) */
                goto bad;
            }

            if (c < 0xe0) {
                s = collab_ws_utf8_expect(1, 0x80, 0xbf);

            } else if (c < 0xf0) {
                lo = (c == 0xe0) ? 0xa0 : 0x80;   /* overlong */
                hi = (c == 0xed) ? 0x9f : 0xbf;   /* surrogates */
                s = collab_ws_utf8_expect(2, lo, hi);

            } else if (c < 0xf5) {
                lo = (c == 0xf0) ? 0x90 : 0x80;   /* overlong */
                hi = (c == 0xf4) ? 0x8f : 0xbf;   /* above U+10FFFF */
                s = collab_ws_utf8_expect(3, lo, hi);

            } else {
                goto bad;
            }

            continue;
        }

        c = *p++;

        if (c < ((s >> 8) & 0xff) || c > (s >> 16)) {
            goto bad;
        }

        s = (s & 0xff) - 1;

        if (s) {
            s = collab_ws_utf8_expect(s, 0x80, 0xbf);
        }
    }

    u->state = s;

    return 0;

bad:

    u->state = COLLAB_WS_UTF8_BAD;

    return -1;
}


int
collab_ws_utf8_finish(const collab_ws_utf8_t *u)
{
    return (u->state == 0) ? 0 : -1;
}
