/*
 * JSON string escaping.  Eight bytes at a time while none of them needs
 * escaping (the usual case for text), one table lookup a byte otherwise;
 * multi-byte UTF-8 sequences pass through untouched, so a chunk may end
 * anywhere.
 */

#include <stdint.h>
#include <string.h>

#include "api/collab_api_json.h"


#define COLLAB_API_JSON_ONES   0x0101010101010101ULL
#define COLLAB_API_JSON_HIGHS  0x8080808080808080ULL


static int collab_api_json_plain8(const unsigned char *p);


/* escaped size of each byte: 1 verbatim, 2 "\x", 6 "\u00xx" */
static const unsigned char  collab_api_json_size[256] = {
    6, 6, 6, 6, 6, 6, 6, 6, 2, 2, 2, 6, 2, 2, 6, 6,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
};

static const char  collab_api_json_hex[] = "0123456789abcdef";


/* none of the 8 bytes at p is below 0x20, '"' or '\\' */

static int
collab_api_json_plain8(const unsigned char *p)
{
    uint64_t  x, lt, q, b;

    memcpy(&x, p, sizeof(uint64_t));

    /* a byte below n: (x - n) borrows into its high bit, x's is clear */
    lt = (x - COLLAB_API_JSON_ONES * 0x20) & ~x & COLLAB_API_JSON_HIGHS;

    /* a byte equal to c: zero after the xor */
    q = x ^ (COLLAB_API_JSON_ONES * '"');
    q = (q - COLLAB_API_JSON_ONES) & ~q & COLLAB_API_JSON_HIGHS;

    b = x ^ (COLLAB_API_JSON_ONES * '\\');
    b = (b - COLLAB_API_JSON_ONES) & ~b & COLLAB_API_JSON_HIGHS;

    return (lt | q | b) == 0;
}


size_t
collab_api_json_escaped_len(const char *s, size_t len)
{
    size_t                n;
    const unsigned char  *p, *last;

    n = 0;
    p = (const unsigned char *) s;
    last = p + len;

    while (last - p >= 8) {
        if (collab_api_json_plain8(p)) {
            n += 8;
            p += 8;
            continue;
        }

        n += collab_api_json_size[*p++];
    }

    while (p < last) {
        n += collab_api_json_size[*p++];
    }

    return n;
}


char *
collab_api_json_escape(char *dst, const char *s, size_t len)
{
    unsigned char         c;
    const unsigned char  *p, *last;

    p = (const unsigned char *) s;
    last = p + len;

    while (p < last) {
        if (last - p >= 8 && collab_api_json_plain8(p)) {
            memcpy(dst, p, 8);
            dst += 8;
            p += 8;
            continue;
        }

        c = *p++;

        if (collab_api_json_size[c] == 1) {
            *dst++ = (char) c;
            continue;
        }

        *dst++ = '\\';

        switch (c) {
        case '"':
        case '\\':
            *dst++ = (char) c;
            break;
        case '\b':
            *dst++ = 'b';
            break;
        case '\f':
            *dst++ = 'f';
            break;
        case '\n':
            *dst++ = 'n';
            break;
        case '\r':
            *dst++ = 'r';
            break;
        case '\t':
            *dst++ = 't';
            break;
        default:
            *dst++ = 'u';
            *dst++ = '0';
            *dst++ = '0';
            *dst++ = collab_api_json_hex[c >> 4];
            *dst++ = collab_api_json_hex[c & 0x0f];
            break;
        }
    }

    return dst;
}
