/*
 * Rope stress test: random inserts (up to multi-leaf pastes) and deletes
 * (up to whole-document) of mixed-width UTF-8 on a document, compared after
 * every op with a plain byte-buffer model; also slices, the chunk iterator,
 * atomicity of failed applies and memory accounting.
 */

#include <stdlib.h>

#include "collab_test.h"
#include "engine/collab_ot.h"
#include "engine/collab_text.h"
#include "engine/collab_utf8.h"


#define TEST_OPS  20000


static unsigned long  rng = 12345;

static const char  *units[] = {
    "a", "b", " ", "\n", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80",
    "e\xcc\x81", "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9"
};


static unsigned long next_rand(unsigned long n);
static size_t random_text(char *buf, size_t units_n);


static unsigned long
next_rand(unsigned long n)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;

    return (rng >> 33) % n;
}


static size_t
random_text(char *buf, size_t units_n)
{
    size_t       i, len, l;
    const char  *u;

    len = 0;

    for (i = 0; i < units_n; i++) {
        u = units[next_rand(sizeof(units) / sizeof(units[0]))];
        l = strlen(u);
        memcpy(buf + len, u, l);
        len += l;
    }

    return len;
}


int
main(void)
{
    int                  ok;
    char                *model, *buf, *ins, *slice;
    size_t               i, mlen, mcp, pos, n, b0, b1, len, ncp, total;
    const char          *chunk;
    collab_op_t          op;
    collab_text_t       *t;
    collab_text_iter_t   it;

    model = malloc(1 << 22);
    buf = malloc(1 << 22);
    ins = malloc(1 << 20);
    slice = malloc(1 << 20);

    if (model == NULL || buf == NULL || ins == NULL || slice == NULL) {
        return 1;
    }

    collab_op_init(&op);

    mlen = random_text(model, 3000);
    mcp = collab_utf8_length(model, mlen);

    COLLAB_CHECK(collab_text_create(&t, "\xff", 1) == COLLAB_OT_ERR_UTF8
                 && t == NULL);
    COLLAB_CHECK(collab_text_create(&t, model, mlen) == COLLAB_OT_OK);

    ok = 1;

    for (i = 0; i < TEST_OPS && ok; i++) {
        collab_op_reset(&op);
        pos = next_rand(mcp + 1);

        if (pos) {
            collab_op_push_skip(&op, pos);
        }

        b0 = collab_utf8_offset(model, mlen, pos);

        if (next_rand(2) || mcp == pos) {
            n = next_rand(50) == 0 ? 1 + next_rand(3000) : 1 + next_rand(4);
            len = random_text(ins, n);
            ncp = collab_utf8_length(ins, len);
            collab_op_push_insert(&op, ins, len);

            memmove(model + b0 + len, model + b0, mlen - b0);
            memcpy(model + b0, ins, len);
            mlen += len;
            mcp += ncp;

        } else {
            n = next_rand(60) == 0 ? mcp - pos : 1 + next_rand(5);
            n = n > mcp - pos ? mcp - pos : n;
            b1 = b0 + collab_utf8_offset(model + b0, mlen - b0, n);

            if (next_rand(2)) {
                collab_op_push_delete(&op, n);

            } else {
                collab_op_push_delete_str(&op, model + b0, b1 - b0);
            }

            memmove(model + b0, model + b1, mlen - b1);
            mlen -= b1 - b0;
            mcp -= n;
        }

        if (collab_text_apply(t, &op) != COLLAB_OT_OK) {
            ok = 0;
            break;
        }

        if (collab_text_bytes(t) != mlen || collab_text_length(t) != mcp) {
            ok = 0;
            break;
        }

        if (i % 97 == 0) {
            collab_text_copy(t, buf);
            ok = memcmp(buf, model, mlen) == 0;

            /* a slice and a failing op that must leave the text alone */

            pos = next_rand(mcp + 1);
            n = next_rand(mcp - pos + 1);
            len = collab_text_slice(t, pos, n, slice);
            b0 = collab_utf8_offset(model, mlen, pos);
            b1 = b0 + collab_utf8_offset(model + b0, mlen - b0, n);
            ok = ok && len == b1 - b0 && memcmp(slice, model + b0, len) == 0;

            collab_op_reset(&op);
            collab_op_push_insert(&op, "zz", 2);
            collab_op_push_skip(&op, mcp);
            collab_op_push_delete(&op, 1);
            ok = ok && collab_text_apply(t, &op) == COLLAB_OT_ERR_TOO_LONG
                 && collab_text_bytes(t) == mlen;
        }
    }

    COLLAB_CHECK_MSG(ok, "op %zu", i);

    collab_text_copy(t, buf);
    COLLAB_CHECK_MEM(buf, collab_text_bytes(t), model, mlen);

    total = 0;
    collab_text_iter_init(t, &it);

    while (collab_text_iter_next(&it, &chunk, &len)) {
        COLLAB_CHECK(total + len <= mlen
                     && memcmp(chunk, model + total, len) == 0);
        total += len;
    }

    COLLAB_CHECK(total == mlen);
    COLLAB_CHECK(collab_text_memory(t) > mlen);
    printf("final document: %zu code points, %zu bytes, %zu bytes held\n",
           mcp, mlen, collab_text_memory(t));

    collab_text_free(t);

    /* the empty document */

    COLLAB_CHECK(collab_text_create(&t, "", 0) == COLLAB_OT_OK);
    collab_text_iter_init(t, &it);
    COLLAB_CHECK(collab_text_iter_next(&it, &chunk, &len) == 0);
    COLLAB_CHECK(collab_text_length(t) == 0);
    collab_text_free(t);

    collab_op_free(&op);
    free(model);
    free(buf);
    free(ins);
    free(slice);
    collab_text_pool_free();

    return COLLAB_TEST_DONE();
}
