/*
 * JSON string escaping of the REST snapshot endpoint: the output must be
 * byte for byte what JSON.stringify() writes, and the length function must
 * agree with the copy, whatever the position of a special byte relative to
 * the 8-byte fast path.
 */

#include <stdlib.h>

#include "collab_test.h"
#include "api/collab_api_json.h"


static void test_vector(const char *in, size_t len, const char *want);
static void test_reference(void);
static char *reference_escape(char *dst, const char *s, size_t len);


int
main(void)
{
    test_vector("", 0, "");
    test_vector("plain ascii", 11, "plain ascii");
    test_vector("a\"b\\c", 5, "a\\\"b\\\\c");
    test_vector("\b\f\n\r\t", 5, "\\b\\f\\n\\r\\t");
    test_vector("\x01\x1f\x7f", 3, "\\u0001\\u001f\x7f");
    test_vector("/", 1, "/");
    test_vector("\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80", 9,
                "\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80");
    test_vector("\xe2\x80\xa8\xe2\x80\xa9", 6, "\xe2\x80\xa8\xe2\x80\xa9");
    test_vector("0123456789abcdef\n", 17, "0123456789abcdef\\n");

    test_reference();

    return COLLAB_TEST_DONE();
}


static void
test_vector(const char *in, size_t len, const char *want)
{
    char    out[256], *end;
    size_t  n;

    n = collab_api_json_escaped_len(in, len);
    end = collab_api_json_escape(out, in, len);

    COLLAB_CHECK_MSG(n == (size_t) (end - out), "length %zu, wrote %zu", n,
                     (size_t) (end - out));
    COLLAB_CHECK_MEM(out, (size_t) (end - out), want, strlen(want));
}


/* every special byte at every offset of a 40-byte run, plus random text */
static void
test_reference(void)
{
    int            i, pos, round;
    char           in[64], got[512], want[512], *gend, *wend;
    size_t         n;
    unsigned int   seed;
    static const char  special[] = "\"\\\b\f\n\r\t\x01\x1f ";

    for (i = 0; special[i]; i++) {
        for (pos = 0; pos < 40; pos++) {
            memset(in, 'x', 40);
            in[pos] = special[i];

            n = collab_api_json_escaped_len(in, 40);
            gend = collab_api_json_escape(got, in, 40);
            wend = reference_escape(want, in, 40);

            COLLAB_CHECK(n == (size_t) (gend - got));
            COLLAB_CHECK_MEM(got, (size_t) (gend - got), want,
                             (size_t) (wend - want));
        }
    }

    seed = 12345;

    for (round = 0; round < 20000; round++) {
        for (i = 0; i < 48; i++) {
            seed = seed * 1103515245 + 12345;
            in[i] = (char) ((seed >> 16) & 0x7f);
        }

        n = collab_api_json_escaped_len(in, 48);
        gend = collab_api_json_escape(got, in, 48);
        wend = reference_escape(want, in, 48);

        COLLAB_CHECK(n == (size_t) (gend - got));
        COLLAB_CHECK_MEM(got, (size_t) (gend - got), want,
                         (size_t) (wend - want));
    }
}


/* the obvious byte-at-a-time escaper the fast one must match */
static char *
reference_escape(char *dst, const char *s, size_t len)
{
    size_t               i;
    unsigned char        c;
    static const char    hex[] = "0123456789abcdef";

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];

        switch (c) {
        case '"':  *dst++ = '\\'; *dst++ = '"'; break;
        case '\\': *dst++ = '\\'; *dst++ = '\\'; break;
        case '\b': *dst++ = '\\'; *dst++ = 'b'; break;
        case '\f': *dst++ = '\\'; *dst++ = 'f'; break;
        case '\n': *dst++ = '\\'; *dst++ = 'n'; break;
        case '\r': *dst++ = '\\'; *dst++ = 'r'; break;
        case '\t': *dst++ = '\\'; *dst++ = 't'; break;
        default:
            if (c < 0x20) {
                *dst++ = '\\'; *dst++ = 'u'; *dst++ = '0'; *dst++ = '0';
                *dst++ = hex[c >> 4]; *dst++ = hex[c & 0xf];
            } else {
                *dst++ = (char) c;
            }
        }
    }

    return dst;
}
