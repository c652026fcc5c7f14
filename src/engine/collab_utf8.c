/*
 * UTF-8 validation and code point indexing, with word-at-a-time fast paths
 * for ASCII runs (the common case in real documents).
 */

#include <stdint.h>
#include <string.h>

#include "engine/collab_utf8.h"


#define COLLAB_UTF8_HIGH_BITS  0x8080808080808080ULL


static size_t collab_utf8_ascii_run(const unsigned char *p, size_t len);


static size_t
collab_utf8_ascii_run(const unsigned char *p, size_t len)
{
    size_t    i;
    uint64_t  w;

    i = 0;

    while (i + 8 <= len) {
        memcpy(&w, p + i, 8);

        if (w & COLLAB_UTF8_HIGH_BITS) {
            break;
        }

        i += 8;
    }

    while (i < len && p[i] < 0x80) {
        i++;
    }

    return i;
}


int
collab_utf8_count(const char *s, size_t len, size_t *ncp)
{
    size_t                i, n, run;
    unsigned int          c, c1, need;
    const unsigned char  *p;

    p = (const unsigned char *) s;
    i = 0;
    n = 0;

    while (i < len) {
        run = collab_utf8_ascii_run(p + i, len - i);
        i += run;
        n += run;

        if (i == len) {
            break;
        }

        c = p[i];

        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;

        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;

        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;

        } else {
            return -1;
        }

        if (len - i <= need) {
            return -1;
        }

        c1 = p[i + 1];

        /* the second byte range excludes overlongs, surrogates, >U+10FFFF */

        if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f)
            || (c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 > 0x8f)
            || (c1 & 0xc0) != 0x80)
        {
            return -1;
        }

        if (need >= 2 && (p[i + 2] & 0xc0) != 0x80) {
            return -1;
        }

        if (need == 3 && (p[i + 3] & 0xc0) != 0x80) {
            return -1;
        }

        i += need + 1;
        n++;
    }

    *ncp = n;

    return 0;
}


size_t
collab_utf8_length(const char *s, size_t len)
{
    size_t                i, n, run;
    const unsigned char  *p;

    p = (const unsigned char *) s;
    i = 0;
    n = 0;

    while (i < len) {
        run = collab_utf8_ascii_run(p + i, len - i);
        i += run;
        n += run;

        while (i < len && p[i] >= 0x80) {
            n += (p[i] & 0xc0) != 0x80;
            i++;
        }
    }

    return n;
}


size_t
collab_utf8_offset(const char *s, size_t len, size_t n)
{
    size_t                i, run;
    const unsigned char  *p;

    p = (const unsigned char *) s;
    i = 0;

    while (n > 0 && i < len) {
        run = collab_utf8_ascii_run(p + i, len - i < n ? len - i : n);
        i += run;
        n -= run;

        if (n == 0 || i == len) {
            break;
        }

        /* one multi-byte code point: skip its continuation bytes */

        i++;
        n--;

        while (i < len && (p[i] & 0xc0) == 0x80) {
            i++;
        }
    }

    return i;
}
