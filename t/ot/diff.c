/*
 * Differential test driver: reads JSON lines made by gen.js (or
 * vectors.js) from stdin, recomputes every result with the C engine and
 * compares it with the ot-text-unicode oracle's.  Also checks TP1,
 * compose against sequential apply, invert against the original document
 * and the JSON codec round trip.  Prints the case and check counts; exits
 * non-zero on any mismatch.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "engine/collab_ot.h"
#include "engine/collab_ot_json.h"
#include "engine/collab_text.h"


#define DIFF_MAX_REPORTS  20


static unsigned long  diff_line;
static unsigned long  diff_cases;
static unsigned long  diff_checks;
static unsigned long  diff_failed;
static unsigned long  diff_invalid;
static unsigned long  diff_strict;


static void diff_fail(const char *what, const char *detail);
static int diff_op_equal(const collab_op_t *a, const collab_op_t *b);
static char *diff_text(const collab_text_t *t, size_t *len);
static int diff_text_is(const collab_text_t *t, const char *s);
static int diff_get_op(yajl_val root, const char *key, collab_op_t *op);
static const char *diff_get_str(yajl_val root, const char *key);
static yajl_val diff_get(yajl_val root, const char *key);
static void diff_check_op(yajl_val root, const char *key,
    const collab_op_t *got, int rc);
static void diff_check_apply(const char *doc, const collab_op_t *op,
    const char *want, const char *what);
static void diff_roundtrip(const collab_op_t *op);
static void diff_tp1(const char *ra, const char *rb, const collab_op_t *a,
    const collab_op_t *b);
static void diff_valid(yajl_val root);
static void diff_bad(yajl_val root);


static void
diff_fail(const char *what, const char *detail)
{
    diff_failed++;

    if (diff_failed <= DIFF_MAX_REPORTS) {
        fprintf(stderr, "MISMATCH line %lu: %s%s%s\n", diff_line, what,
                detail ? ": " : "", detail ? detail : "");
    }
}


static int
diff_op_equal(const collab_op_t *a, const collab_op_t *b)
{
    size_t                   i;
    const collab_ot_comp_t  *x, *y;

    if (a->ncomps != b->ncomps) {
        return 0;
    }

    for (i = 0; i < a->ncomps; i++) {
        x = &a->comps[i];
        y = &b->comps[i];

        if (x->type != y->type || x->n != y->n || x->len != y->len
            || (x->len && memcmp(a->str + x->off, b->str + y->off, x->len)))
        {
            return 0;
        }
    }

    return 1;
}


static char *
diff_text(const collab_text_t *t, size_t *len)
{
    char  *buf;

    *len = collab_text_bytes(t);

    buf = malloc(*len + 1);
    if (buf == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }

    collab_text_copy(t, buf);
    buf[*len] = '\0';

    return buf;
}


static int
diff_text_is(const collab_text_t *t, const char *s)
{
    int      ok;
    char    *buf;
    size_t   len;

    buf = diff_text(t, &len);
    ok = (len == strlen(s) && memcmp(buf, s, len) == 0);
    free(buf);

    return ok;
}


static yajl_val
diff_get(yajl_val root, const char *key)
{
    const char  *path[2];

    path[0] = key;
    path[1] = NULL;

    return yajl_tree_get(root, path, yajl_t_any);
}


static const char *
diff_get_str(yajl_val root, const char *key)
{
    yajl_val  v;

    v = diff_get(root, key);

    return (v && YAJL_IS_STRING(v)) ? YAJL_GET_STRING(v) : NULL;
}


/* 1 and op decoded when key is present, 0 when absent; exits on error. */

static int
diff_get_op(yajl_val root, const char *key, collab_op_t *op)
{
    int       rc;
    yajl_val  v;

    v = diff_get(root, key);
    if (v == NULL) {
        return 0;
    }

    rc = collab_op_decode(op, v);
    if (rc != COLLAB_OT_OK) {
        diff_fail(key, collab_ot_strerror(rc));
        return 0;
    }

    return 1;
}


static void
diff_check_op(yajl_val root, const char *key, const collab_op_t *got, int rc)
{
    collab_op_t  want;

    collab_op_init(&want);

    if (diff_get_op(root, key, &want)) {
        diff_checks++;

        if (rc != COLLAB_OT_OK) {
            diff_fail(key, collab_ot_strerror(rc));

        } else if (!diff_op_equal(got, &want)) {
            diff_fail(key, "different op");
        }

        diff_roundtrip(got);
    }

    collab_op_free(&want);
}


static void
diff_check_apply(const char *doc, const collab_op_t *op, const char *want,
    const char *what)
{
    int             rc;
    collab_text_t  *t;

    if (doc == NULL || want == NULL) {
        return;
    }

    diff_checks++;

    rc = collab_text_create(&t, doc, strlen(doc));
    if (rc != COLLAB_OT_OK) {
        diff_fail(what, collab_ot_strerror(rc));
        return;
    }

    rc = collab_text_apply(t, op);

    if (rc != COLLAB_OT_OK) {
        diff_fail(what, collab_ot_strerror(rc));

    } else if (!diff_text_is(t, want)) {
        diff_fail(what, "different text");

    } else if (collab_text_length(t) != collab_text_length(t)) {
        diff_fail(what, "length");
    }

    collab_text_free(t);
}


static void
diff_roundtrip(const collab_op_t *op)
{
    int          rc;
    char        *json;
    size_t       len;
    collab_op_t  back;

    diff_checks++;
    collab_op_init(&back);

    rc = collab_op_encode_json(op, &json, &len);
    if (rc != COLLAB_OT_OK) {
        diff_fail("encode", collab_ot_strerror(rc));
        return;
    }

    rc = collab_op_decode_json(&back, json, len);

    if (rc != COLLAB_OT_OK && !(op->ncomps == 0 && rc == COLLAB_OT_OK)) {
        diff_fail("decode(encode)", collab_ot_strerror(rc));

    } else if (!diff_op_equal(op, &back)) {
        diff_fail("decode(encode)", json);
    }

    free(json);
    collab_op_free(&back);
}


static void
diff_tp1(const char *ra, const char *rb, const collab_op_t *a0,
    const collab_op_t *b0)
{
    int             rc, ok;
    char           *x, *y;
    size_t          i, xl, yl;
    collab_op_t     a, b, r;
    collab_text_t  *ta, *tb;

    if (ra == NULL || rb == NULL) {
        return;
    }

    collab_op_init(&a);
    collab_op_init(&b);
    collab_op_init(&r);

    collab_op_normalize(&a, a0);
    collab_op_normalize(&b, b0);

    for (i = 0; i < 2; i++) {
        diff_checks++;

        collab_text_create(&ta, ra, strlen(ra));
        collab_text_create(&tb, rb, strlen(rb));

        rc = collab_op_transform(&r, &b, &a,
                                 i ? COLLAB_OT_LEFT : COLLAB_OT_RIGHT);
        ok = (rc == COLLAB_OT_OK && collab_text_apply(ta, &r) == 0);

        rc = collab_op_transform(&r, &a, &b,
                                 i ? COLLAB_OT_RIGHT : COLLAB_OT_LEFT);
        ok = ok && rc == COLLAB_OT_OK && collab_text_apply(tb, &r) == 0;

        if (!ok) {
            diff_fail("TP1", "apply failed");

        } else {
            x = diff_text(ta, &xl);
            y = diff_text(tb, &yl);

            if (xl != yl || memcmp(x, y, xl) != 0) {
                diff_fail("TP1", "documents differ");
            }

            free(x);
            free(y);
        }

        collab_text_free(ta);
        collab_text_free(tb);
    }

    collab_op_free(&a);
    collab_op_free(&b);
    collab_op_free(&r);
}


static void
diff_valid(yajl_val root)
{
    int                  rc;
    char                *x;
    size_t               i, xl, p, q, len;
    yajl_val             v, w;
    const char          *doc, *ra, *rb, *chunk;
    collab_op_t          a, b, c, r;
    collab_text_t       *ta;
    collab_text_iter_t   it;

    collab_op_init(&a);
    collab_op_init(&b);
    collab_op_init(&c);
    collab_op_init(&r);

    doc = diff_get_str(root, "doc");
    ra = diff_get_str(root, "ra");
    rb = diff_get_str(root, "rb");

    if (doc == NULL || !diff_get_op(root, "a", &a)) {
        diff_fail("case", "no doc or a");
        goto done;
    }

    diff_roundtrip(&a);
    diff_check_apply(doc, &a, ra, "apply(doc, a)");

    if (diff_get_op(root, "b", &b)) {
        diff_roundtrip(&b);
        diff_check_apply(doc, &b, rb, "apply(doc, b)");

        rc = collab_op_transform(&r, &a, &b, COLLAB_OT_LEFT);
        diff_check_op(root, "tl", &r, rc);

        rc = collab_op_transform(&r, &a, &b, COLLAB_OT_RIGHT);
        diff_check_op(root, "tr", &r, rc);

        rc = collab_op_transform(&r, &b, &a, COLLAB_OT_LEFT);
        diff_check_op(root, "tbl", &r, rc);

        rc = collab_op_transform(&r, &b, &a, COLLAB_OT_RIGHT);
        diff_check_op(root, "tbr", &r, rc);

        /*
         * TP1: apply(apply(doc, a), b') == apply(apply(doc, b), a').  The
         * reference itself breaks it for unnormalised ops (["x","y"] splits
         * around a concurrent insert), so it is checked on normalised ones.
         */

        diff_tp1(ra, rb, &a, &b);
    }

    if (diff_get_op(root, "c", &c)) {
        diff_roundtrip(&c);
        diff_check_apply(ra, &c, diff_get_str(root, "rc"), "apply(ra, c)");

        rc = collab_op_compose(&r, &a, &c);
        diff_check_op(root, "comp", &r, rc);
        diff_check_apply(doc, &r, diff_get_str(root, "rc"),
                         "apply(doc, compose(a, c))");
    }

    v = diff_get(root, "pos");
    w = diff_get(root, "tp");

    if (v && w) {
        for (i = 0; i < v->u.array.len; i++) {
            diff_checks++;

            p = collab_op_transform_position(
                    YAJL_GET_INTEGER(v->u.array.values[i]), &a);

            if ((long long) p != YAJL_GET_INTEGER(w->u.array.values[i])) {
                diff_fail("transformPosition", NULL);
            }
        }
    }

    v = diff_get(root, "sel");
    w = diff_get(root, "tsel");

    if (v && w) {
        diff_checks++;

        p = YAJL_GET_INTEGER(v->u.array.values[0]);
        q = YAJL_GET_INTEGER(v->u.array.values[1]);
        collab_op_transform_selection(&a, &p, &q);

        if ((long long) p != YAJL_GET_INTEGER(w->u.array.values[0])
            || (long long) q != YAJL_GET_INTEGER(w->u.array.values[1]))
        {
            diff_fail("transformSelection", NULL);
        }
    }

    if (diff_get(root, "mi")) {
        collab_text_create(&ta, doc, strlen(doc));

        rc = collab_op_make_invertible(&r, &a, ta);
        diff_check_op(root, "mi", &r, rc);

        collab_text_free(ta);

        rc = collab_op_invert(&b, &r);
        diff_check_op(root, "inv", &b, rc);
        diff_check_apply(ra, &b, doc, "apply(ra, invert(mi))");
    }

    if (diff_get(root, "norm")) {
        rc = collab_op_normalize(&r, &a);
        diff_check_op(root, "norm", &r, rc);
    }

    v = diff_get(root, "noop");
    if (v) {
        diff_checks++;

        if (collab_op_is_noop(&a) != YAJL_IS_TRUE(v)) {
            diff_fail("isNoop", NULL);
        }
    }

    v = diff_get(root, "invertible");
    if (v) {
        diff_checks++;

        if (collab_op_is_invertible(&a) != YAJL_IS_TRUE(v)) {
            diff_fail("isInvertible", NULL);
        }

        rc = collab_op_invert(&r, &a);

        if (YAJL_IS_TRUE(v)) {
            diff_check_op(root, "inva", &r, rc);

        } else if (rc != COLLAB_OT_ERR_NOT_INVERTIBLE) {
            diff_fail("invert of {d:N}", "no error");
        }
    }

    /* the text reads back the same through the chunk iterator */

    if (ra) {
        diff_checks++;

        collab_text_create(&ta, ra, strlen(ra));

        x = diff_text(ta, &xl);
        len = 0;
        collab_text_iter_init(ta, &it);

        while (collab_text_iter_next(&it, &chunk, &i)) {
            if (len + i > xl || memcmp(x + len, chunk, i) != 0) {
                diff_fail("iterator", NULL);
                break;
            }

            len += i;
        }

        if (len != xl) {
            diff_fail("iterator", "short");
        }

        free(x);
        collab_text_free(ta);
    }

done:

    collab_op_free(&a);
    collab_op_free(&b);
    collab_op_free(&c);
    collab_op_free(&r);
}


static void
diff_bad(yajl_val root)
{
    int             rc;
    yajl_val        v;
    const char     *doc;
    collab_op_t     op, x, r;
    collab_text_t  *t;

    diff_checks++;

    collab_op_init(&op);
    collab_op_init(&x);
    collab_op_init(&r);

    doc = diff_get_str(root, "doc");
    rc = collab_op_decode(&op, diff_get(root, "bad"));

    if (diff_get(root, "strict")) {
        diff_strict++;

    } else {
        diff_invalid++;
    }

    if (rc != COLLAB_OT_OK) {
        if (diff_get(root, "strict")) {
            diff_fail("strict op", "refused by the decoder");
        }

        goto done;
    }

    collab_text_create(&t, doc, strlen(doc));

    rc = collab_text_apply(t, &op);

    if (rc == COLLAB_OT_OK) {
        diff_fail("invalid op", "applied");

    } else if (!collab_ot_err_not_applied(rc)) {
        diff_fail("invalid op", "wrong error class");

    } else if (!diff_text_is(t, doc)) {
        diff_fail("invalid op", "document changed");
    }

    collab_text_free(t);

    v = diff_get(root, "tx");

    if (v && YAJL_IS_TRUE(v)) {
        collab_op_push_skip(&x, 1);
        collab_op_push_insert(&x, "x", 1);

        if (collab_op_transform(&r, &op, &x, COLLAB_OT_LEFT) == COLLAB_OT_OK)
        {
            diff_fail("invalid op", "transformed");
        }
    }

done:

    collab_op_free(&op);
    collab_op_free(&x);
    collab_op_free(&r);
}


int
main(void)
{
    char      *line, err[256];
    size_t     size;
    ssize_t    n;
    yajl_val   root;

    line = NULL;
    size = 0;

    while ((n = getline(&line, &size, stdin)) > 0) {
        diff_line++;

        if (n == 1) {
            continue;
        }

        root = yajl_tree_parse(line, err, sizeof(err));
        if (root == NULL) {
            fprintf(stderr, "line %lu: bad JSON: %s\n", diff_line, err);
            return 2;
        }

        diff_cases++;

        if (diff_get(root, "bad")) {
            diff_bad(root);

        } else {
            diff_valid(root);
        }

        yajl_tree_free(root);
    }

    free(line);
    collab_text_pool_free();

    printf("%lu cases (%lu invalid, %lu strict), %lu checks, "
           "%lu mismatches\n", diff_cases, diff_invalid, diff_strict,
           diff_checks, diff_failed);

    return diff_failed ? 1 : (diff_cases ? 0 : 1);
}
