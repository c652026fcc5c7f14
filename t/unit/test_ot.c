/*
 * Unit tests for the text-unicode OT engine: JSON codec edge cases, checkOp
 * errors, README examples, transform ties, compose, cursors, inversion and
 * atomic apply.  The broad comparison with the reference is t/ot.
 */

#include <stdlib.h>

#include "collab_test.h"
#include "engine/collab_ot.h"
#include "engine/collab_ot_json.h"
#include "engine/collab_text.h"
#include "engine/collab_utf8.h"


static int decode(collab_op_t *op, const char *json);
static int same_json(const collab_op_t *op, const char *json);
static int apply_to(const char *doc, const char *op, const char *want);


static int
decode(collab_op_t *op, const char *json)
{
    return collab_op_decode_json(op, json, strlen(json));
}


static int
same_json(const collab_op_t *op, const char *json)
{
    int      ok;
    char    *out;
    size_t   len;

    if (collab_op_encode_json(op, &out, &len) != COLLAB_OT_OK) {
        return 0;
    }

    ok = (len == strlen(json) && memcmp(out, json, len) == 0);

    if (!ok) {
        fprintf(stderr, "got %s, want %s\n", out, json);
    }

    free(out);

    return ok;
}


/* 1 when op applies to doc giving want (want NULL: must fail, unchanged) */

static int
apply_to(const char *doc, const char *json, const char *want)
{
    int             rc, ok;
    char            buf[256];
    collab_op_t     op;
    collab_text_t  *t;

    collab_op_init(&op);

    if (decode(&op, json) != COLLAB_OT_OK
        || collab_text_create(&t, doc, strlen(doc)) != COLLAB_OT_OK)
    {
        collab_op_free(&op);
        return want == NULL;
    }

    rc = collab_text_apply(t, &op);
    collab_text_copy(t, buf);
    buf[collab_text_bytes(t)] = '\0';

    if (want == NULL) {
        ok = rc != COLLAB_OT_OK && strcmp(buf, doc) == 0;

    } else {
        ok = rc == COLLAB_OT_OK && strcmp(buf, want) == 0;
    }

    collab_text_free(t);
    collab_op_free(&op);

    return ok;
}


int
main(void)
{
    size_t       n, a, f;
    collab_op_t  x, y, r;

    collab_op_init(&x);
    collab_op_init(&y);
    collab_op_init(&r);

    /* UTF-8 */

    COLLAB_CHECK(collab_utf8_count("a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80",
                                   10, &n) == 0 && n == 4);
    COLLAB_CHECK(collab_utf8_count("\xc0\xaf", 2, &n) == -1);
    COLLAB_CHECK(collab_utf8_count("\xe0\x80\xaf", 3, &n) == -1);
    COLLAB_CHECK(collab_utf8_count("\xed\xa0\x80", 3, &n) == -1);
    COLLAB_CHECK(collab_utf8_count("\xf4\x90\x80\x80", 4, &n) == -1);
    COLLAB_CHECK(collab_utf8_count("\xf0\x9f\x98", 3, &n) == -1);
    COLLAB_CHECK(collab_utf8_count("\x80", 1, &n) == -1);
    COLLAB_CHECK(collab_utf8_offset("a\xc3\xa9" "b", 4, 2) == 3);

    /* decoding and checkOp */

    COLLAB_CHECK(decode(&x, "[3,\"hi\",{\"d\":5},{\"d\":\"x\"}]") == 0);
    COLLAB_CHECK(same_json(&x, "[3,\"hi\",{\"d\":5},{\"d\":\"x\"}]"));
    COLLAB_CHECK(decode(&x, "[]") == 0 && collab_op_is_noop(&x));
    COLLAB_CHECK(decode(&x, "[1.0,\"a\",{\"d\":2e0}]") == 0);
    COLLAB_CHECK(same_json(&x, "[1,\"a\",{\"d\":2}]"));
    COLLAB_CHECK(decode(&x, "{\"d\":1}") == COLLAB_OT_ERR_NOT_ARRAY);
    COLLAB_CHECK(decode(&x, "[1,") == COLLAB_OT_ERR_JSON);
    COLLAB_CHECK(decode(&x, "[0,\"a\"]") == COLLAB_OT_ERR_SKIP);
    COLLAB_CHECK(decode(&x, "[-1,\"a\"]") == COLLAB_OT_ERR_SKIP);
    COLLAB_CHECK(decode(&x, "[1.5,\"a\"]") == COLLAB_OT_ERR_SKIP);
    COLLAB_CHECK(decode(&x, "[1,2,\"a\"]") == COLLAB_OT_ERR_ADJACENT_SKIPS);
    COLLAB_CHECK(decode(&x, "[\"a\",1]") == COLLAB_OT_ERR_TRAILING_SKIP);
    COLLAB_CHECK(decode(&x, "[\"\"]") == COLLAB_OT_ERR_EMPTY_INSERT);
    COLLAB_CHECK(decode(&x, "[{\"d\":0}]") == COLLAB_OT_ERR_EMPTY_DELETE);
    COLLAB_CHECK(decode(&x, "[{\"d\":\"\"}]") == COLLAB_OT_ERR_EMPTY_DELETE);
    COLLAB_CHECK(decode(&x, "[{\"x\":1}]") == COLLAB_OT_ERR_DELETE);
    COLLAB_CHECK(decode(&x, "[{\"d\":true}]") == COLLAB_OT_ERR_DELETE);
    COLLAB_CHECK(decode(&x, "[null]") == COLLAB_OT_ERR_COMPONENT);
    COLLAB_CHECK(decode(&x, "[true]") == COLLAB_OT_ERR_COMPONENT);
    COLLAB_CHECK(decode(&x, "[[1]]") == COLLAB_OT_ERR_COMPONENT);
    COLLAB_CHECK(decode(&x, "[\"a\\u0000b\"]") == COLLAB_OT_ERR_UTF8);
    COLLAB_CHECK(decode(&x, "[\"a\\\\u0000b\"]") == COLLAB_OT_OK);
    COLLAB_CHECK(decode(&x, "[\"\xff\"]") != COLLAB_OT_OK);
    COLLAB_CHECK(decode(&x, "[\"\xed\xa0\x80\"]") != COLLAB_OT_OK);
    COLLAB_CHECK(decode(&x, "[9007199254740992,\"a\"]")
                 == COLLAB_OT_ERR_LIMIT);
    COLLAB_CHECK(decode(&x, "[1e300,\"a\"]") == COLLAB_OT_ERR_LIMIT);
    COLLAB_CHECK(decode(&x, "[4503599627370496,\"a\",4503599627370496,"
                            "{\"d\":1}]") == COLLAB_OT_ERR_LIMIT);
    COLLAB_CHECK(collab_ot_err_not_applied(COLLAB_OT_ERR_TOO_LONG));
    COLLAB_CHECK(!collab_ot_err_not_applied(COLLAB_OT_ERR_SKIP));
    COLLAB_CHECK(strcmp(collab_ot_strerror(COLLAB_OT_ERR_TRAILING_SKIP),
                        "Op has a trailing skip") == 0);

    /* apply (README examples) and its errors */

    COLLAB_CHECK(apply_to("hi there", "[3,{\"d\":5},\"\xf0\x9f\xa4\x96"
                          "\xf0\x9f\x91\xbb\xf0\x9f\x92\x83\"]",
                          "hi \xf0\x9f\xa4\x96\xf0\x9f\x91\xbb"
                          "\xf0\x9f\x92\x83"));
    COLLAB_CHECK(apply_to("\xf0\x9f\x98\x80" "ab", "[1,{\"d\":\"a\"}]",
                          "\xf0\x9f\x98\x80" "b"));
    COLLAB_CHECK(apply_to("abc", "[4,\"x\"]", NULL));
    COLLAB_CHECK(apply_to("abc", "[2,{\"d\":2}]", NULL));
    COLLAB_CHECK(apply_to("abc", "[1,{\"d\":\"c\"}]", NULL));
    COLLAB_CHECK(apply_to("abc", "[\"x\",1,{\"d\":\"b\"},{\"d\":\"x\"}]",
                          NULL));
    COLLAB_CHECK(apply_to("", "[\"\xe4\xb8\xad\"]", "\xe4\xb8\xad"));
    COLLAB_CHECK(apply_to("abc", "[3,\"d\"]", "abcd"));

    /* transform: ties by side, deletes, adjacent inserts kept apart */

    decode(&x, "[1,\"a\"]");
    decode(&y, "[1,\"b\"]");
    COLLAB_CHECK(collab_op_transform(&r, &x, &y, COLLAB_OT_LEFT) == 0
                 && same_json(&r, "[1,\"a\"]"));
    COLLAB_CHECK(collab_op_transform(&r, &x, &y, COLLAB_OT_RIGHT) == 0
                 && same_json(&r, "[2,\"a\"]"));

    decode(&x, "[\"a\",\"b\"]");
    decode(&y, "[\"X\"]");
    COLLAB_CHECK(collab_op_transform(&r, &x, &y, COLLAB_OT_LEFT) == 0
                 && same_json(&r, "[\"a\",1,\"b\"]"));

    decode(&x, "[2,{\"d\":\"cd\"}]");
    decode(&y, "[1,{\"d\":2}]");
    COLLAB_CHECK(collab_op_transform(&r, &x, &y, COLLAB_OT_LEFT) == 0
                 && same_json(&r, "[1,{\"d\":\"d\"}]"));

    decode(&x, "[1,\"a\"]");
    decode(&y, "[0]");
    COLLAB_CHECK(collab_op_transform(&r, &x, &y, COLLAB_OT_LEFT) != 0);

    /* compose */

    decode(&x, "[2,\"hi\"]");
    decode(&y, "[2,{\"d\":\"hi\"}]");
    COLLAB_CHECK(collab_op_compose(&r, &x, &y) == 0 && r.ncomps == 0);

    decode(&x, "[{\"d\":\"ab\"}]");
    decode(&y, "[{\"d\":1}]");
    COLLAB_CHECK(collab_op_compose(&r, &x, &y) == 0
                 && same_json(&r, "[{\"d\":3}]"));

    /* cursors */

    decode(&x, "[2,\"xy\",{\"d\":3}]");
    COLLAB_CHECK(collab_op_transform_position(0, &x) == 0);
    COLLAB_CHECK(collab_op_transform_position(2, &x) == 2);
    COLLAB_CHECK(collab_op_transform_position(3, &x) == 4);
    COLLAB_CHECK(collab_op_transform_position(9, &x) == 8);
    a = 1;
    f = 4;
    collab_op_transform_selection(&x, &a, &f);
    COLLAB_CHECK(a == 1 && f == 4);

    /* inversion */

    decode(&x, "[2,{\"d\":5}]");
    COLLAB_CHECK(collab_op_invert(&r, &x) == COLLAB_OT_ERR_NOT_INVERTIBLE);
    {
        collab_text_t  *t;

        collab_text_create(&t, "a hello", 7);
        COLLAB_CHECK(collab_op_make_invertible(&y, &x, t) == 0
                     && same_json(&y, "[2,{\"d\":\"hello\"}]"));
        COLLAB_CHECK(collab_op_invert(&r, &y) == 0
                     && same_json(&r, "[2,\"hello\"]"));
        collab_text_free(t);
    }

    COLLAB_CHECK(collab_op_strip_invertible(&r, &y) == 0
                 && same_json(&r, "[2,{\"d\":5}]"));

    /* equality (dedup): a delete by its length, inserts by their text */

    decode(&x, "[2,\"h\xc3\xa9\",{\"d\":2},\"b\"]");
    decode(&y, "[2,\"h\xc3\xa9\",{\"d\":\"xy\"},\"b\"]");
    COLLAB_CHECK(collab_op_equal(&x, &y) && collab_op_equal(&y, &x));
    decode(&y, "[2,\"h\xc3\xa8\",{\"d\":2},\"b\"]");
    COLLAB_CHECK(!collab_op_equal(&x, &y));
    decode(&y, "[2,\"h\xc3\xa9\",{\"d\":3},\"b\"]");
    COLLAB_CHECK(!collab_op_equal(&x, &y));
    decode(&y, "[1,\"h\xc3\xa9\",{\"d\":2},\"b\"]");
    COLLAB_CHECK(!collab_op_equal(&x, &y));
    decode(&y, "[2,\"h\xc3\xa9\",{\"d\":2}]");
    COLLAB_CHECK(!collab_op_equal(&x, &y));
    decode(&y, "[2,\"h\xc3\xa9\",2,\"b\"]");
    COLLAB_CHECK(!collab_op_equal(&x, &y));
    decode(&x, "[]");
    decode(&y, "[]");
    COLLAB_CHECK(collab_op_equal(&x, &y));

    collab_op_free(&x);
    collab_op_free(&y);
    collab_op_free(&r);
    collab_text_pool_free();

    return COLLAB_TEST_DONE();
}
