/*
 * JSON string escaping: one table lookup a byte, multi-byte UTF-8
 * sequences pass through untouched, so a chunk may end anywhere.
 */

#include "api/collab_api_json.h"


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


size_t
collab_api_json_escaped_len(const char *s, size_t len)
{
    size_t                n;
    const unsigned char  *p, *last;

    n = 0;
    p = (const unsigned char *) s;
    last = p + len;

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
