/*
 * libFuzzer target for the OT engine.  Input: document, op a, op b as
 * UTF-8 / JSON texts separated by NUL bytes.  Decodes both ops, applies,
 * transforms, composes, inverts and round-trips them, and aborts when an
 * invariant breaks: TP1, apply(compose) == apply twice, invert restores the
 * document, a failed apply leaves the document unchanged, and the spare
 * nodes an apply reserves stay linear in the op's size (once quadratic).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/collab_ot.h"
#include "engine/collab_ot_json.h"
#include "engine/collab_text.h"


typedef struct {
    const char  *p;
    size_t       len;
} fuzz_part_t;


static char *fuzz_text(const collab_text_t *t, size_t *len);
static int fuzz_same(const collab_text_t *a, const collab_text_t *b);
static collab_text_t *fuzz_apply(const collab_text_t *doc,
    const collab_op_t *op);
static void fuzz_check(int cond);
static size_t fuzz_spare_bound(const collab_op_t *op);


static void
fuzz_check(int cond)
{
    if (!cond) {
        abort();
    }
}


static char *
fuzz_text(const collab_text_t *t, size_t *len)
{
    char  *buf;

    *len = collab_text_bytes(t);
    buf = malloc(*len + 1);
    fuzz_check(buf != NULL);
    collab_text_copy(t, buf);

    return buf;
}


static int
fuzz_same(const collab_text_t *a, const collab_text_t *b)
{
    int      same;
    char    *x, *y;
    size_t   xl, yl;

    x = fuzz_text(a, &xl);
    y = fuzz_text(b, &yl);
    same = (xl == yl && memcmp(x, y, xl) == 0);
    free(x);
    free(y);

    return same;
}


/*
 * Spares an apply of op may hold at once: the pool's keep, a few per
 * component and one leaf per 128 inserted bytes (generous: the point is
 * linear, where the sum of all inserts once counted once per insert).
 */

static size_t
fuzz_spare_bound(const collab_op_t *op)
{
    size_t  i, bytes;

    bytes = 0;

    for (i = 0; i < op->ncomps; i++) {
        if (op->comps[i].type == COLLAB_OT_INSERT) {
            bytes += op->comps[i].len;
        }
    }

    return 64 + 8 * op->ncomps + bytes / 128;
}


/* A copy of doc with op applied, or NULL (doc checked to be unchanged). */

static collab_text_t *
fuzz_apply(const collab_text_t *doc, const collab_op_t *op)
{
    int             rc;
    char           *s;
    size_t          len;
    collab_text_t  *t, *before;

    s = fuzz_text(doc, &len);
    fuzz_check(collab_text_create(&t, s, len) == COLLAB_OT_OK);
    fuzz_check(collab_text_create(&before, s, len) == COLLAB_OT_OK);
    free(s);

    (void) collab_text_pool_peak(1);
    rc = collab_text_apply(t, op);
    fuzz_check(collab_text_pool_peak(1) <= fuzz_spare_bound(op));

    if (rc != COLLAB_OT_OK) {
        fuzz_check(fuzz_same(t, before));
        collab_text_free(t);
        t = NULL;

    } else {
        fuzz_check(collab_text_length(t) == collab_text_length(before)
                                            - collab_op_base_length(op)
                                            + collab_op_target_length(op));
    }

    collab_text_free(before);

    return t;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             rca, rcb;
    char           *json;
    size_t          i, k, start, len, pos;
    fuzz_part_t     part[3];
    collab_op_t     a, b, na, nb, r, s, back;
    collab_text_t  *doc, *ta, *tb, *x, *y;

    memset(part, 0, sizeof(part));

    for (i = 0, k = 0, start = 0; i <= size && k < 3; i++) {
        if (i == size || data[i] == '\0') {
            part[k].p = (const char *) data + start;
            part[k].len = i - start;
            k++;
            start = i + 1;
        }
    }

    collab_op_init(&a);
    collab_op_init(&b);
    collab_op_init(&na);
    collab_op_init(&nb);
    collab_op_init(&r);
    collab_op_init(&s);
    collab_op_init(&back);

    rca = collab_op_decode_json(&a, part[1].p ? part[1].p : "", part[1].len);
    rcb = collab_op_decode_json(&b, part[2].p ? part[2].p : "", part[2].len);

    if (collab_text_create(&doc, part[0].p ? part[0].p : "", part[0].len)
        != COLLAB_OT_OK)
    {
        goto done;
    }

    if (rca == COLLAB_OT_OK) {
        fuzz_check(collab_op_encode_json(&a, &json, &len) == COLLAB_OT_OK);
        fuzz_check(collab_op_decode_json(&back, json, len) == COLLAB_OT_OK);
        fuzz_check(back.ncomps == a.ncomps);
        free(json);

        pos = collab_op_transform_position(collab_text_length(doc) / 2, &a);
        (void) pos;

        ta = fuzz_apply(doc, &a);

        if (ta) {
            /* makeInvertible + invert undoes the op */

            fuzz_check(collab_op_make_invertible(&r, &a, doc)
                       == COLLAB_OT_OK);
            fuzz_check(collab_op_invert(&s, &r) == COLLAB_OT_OK);

            x = fuzz_apply(ta, &s);
            fuzz_check(x != NULL && fuzz_same(x, doc));
            collab_text_free(x);
        }

        if (rcb == COLLAB_OT_OK) {
            collab_op_normalize(&na, &a);
            collab_op_normalize(&nb, &b);

            fuzz_check(collab_op_transform(&r, &a, &b, COLLAB_OT_LEFT)
                       == COLLAB_OT_OK);
            fuzz_check(collab_op_transform(&r, &b, &a, COLLAB_OT_RIGHT)
                       == COLLAB_OT_OK);

            tb = fuzz_apply(doc, &b);

            if (ta && tb) {
                /* TP1 on normalised ops */

                collab_op_transform(&r, &nb, &na, COLLAB_OT_RIGHT);
                collab_op_transform(&s, &na, &nb, COLLAB_OT_LEFT);

                x = fuzz_apply(ta, &r);
                y = fuzz_apply(tb, &s);
                fuzz_check(x && y && fuzz_same(x, y));
                collab_text_free(x);
                collab_text_free(y);
            }

            if (ta) {
                /* compose(a, b) when b applies after a */

                fuzz_check(collab_op_compose(&r, &a, &b) == COLLAB_OT_OK);

                x = fuzz_apply(ta, &b);

                if (x) {
                    y = fuzz_apply(doc, &r);
                    fuzz_check(y && fuzz_same(x, y));
                    collab_text_free(x);
                    collab_text_free(y);
                }
            }

            collab_text_free(tb);
        }

        collab_text_free(ta);
    }

    collab_text_free(doc);

done:

    collab_op_free(&a);
    collab_op_free(&b);
    collab_op_free(&na);
    collab_op_free(&nb);
    collab_op_free(&r);
    collab_op_free(&s);
    collab_op_free(&back);

    return 0;
}
