/*
 * What one op costs the engine, measured in its allocator: the bytes it
 * holds at the peak and the calls it makes stay linear in the op's size,
 * whatever the op's shape (issue: an op of k inserts once reserved memory
 * quadratic in k).  Also: multi-component ops applied to the rope agree
 * with a plain string model, and an allocation failure at any point leaves
 * the document unchanged.
 *
 * Built with -Wl,--wrap=malloc,... (see the Makefile), so every allocation
 * the engine makes passes through the counters below.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collab_test.h"
#include "engine/collab_ot.h"
#include "engine/collab_ot_json.h"
#include "engine/collab_text.h"
#include "engine/collab_utf8.h"


#define TEST_HDR  16


void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);


typedef struct {
    size_t         live;
    size_t         peak;
    size_t         calls;
    size_t         fail_at;   /* the fail_at-th call fails; 0: never */
} test_heap_t;


static test_heap_t  heap;
static unsigned long  rng = 4242;


static unsigned long next_rand(unsigned long n);
static void heap_mark(void);
static int heap_fail(void);
static size_t random_text(char *buf, size_t ncp);
static size_t model_apply(const char *doc, size_t len, const collab_op_t *op,
    char *out);
static char *text_of(const collab_text_t *t, size_t *len);
static void random_op(collab_op_t *op, const char *doc, size_t len,
    size_t ncomps);
static int test_doc(size_t size, char **doc, char **out, size_t *len,
    collab_text_t **t);
static void test_model(void);
static void test_oom(void);
static void test_cost(size_t k, size_t *peak, size_t *calls);
static void test_costs(void);


static unsigned long
next_rand(unsigned long n)
{
    rng = rng * 6364136223846793005UL + 1442695040888963407UL;

    return (rng >> 33) % n;
}


/* the heap's counters start again from what is live now */

static void
heap_mark(void)
{
    heap.peak = heap.live;
    heap.calls = 0;
}


static int
heap_fail(void)
{
    heap.calls++;

    return heap.fail_at && heap.calls == heap.fail_at;
}


void *
__wrap_malloc(size_t n)
{
    char  *p;

    if (heap_fail()) {
        return NULL;
    }

    p = __real_malloc(n + TEST_HDR);
    if (p == NULL) {
        return NULL;
    }

    memcpy(p, &n, sizeof(size_t));
    heap.live += n;

    if (heap.live > heap.peak) {
        heap.peak = heap.live;
    }

    return p + TEST_HDR;
}


void *
__wrap_calloc(size_t n, size_t size)
{
    void  *p;

    if (size && n > SIZE_MAX / size) {
        return NULL;
    }

    p = __wrap_malloc(n * size);
    if (p) {
        memset(p, 0, n * size);
    }

    return p;
}


void *
__wrap_realloc(void *p, size_t n)
{
    char    *q;
    size_t   old;

    if (p == NULL) {
        return __wrap_malloc(n);
    }

    q = __wrap_malloc(n);
    if (q == NULL) {
        return NULL;
    }

    memcpy(&old, (char *) p - TEST_HDR, sizeof(size_t));
    memcpy(q, p, old < n ? old : n);
    __wrap_free(p);

    return q;
}


void
__wrap_free(void *p)
{
    size_t  n;

    if (p == NULL) {
        return;
    }

    memcpy(&n, (char *) p - TEST_HDR, sizeof(size_t));
    heap.live -= n;
    __real_free((char *) p - TEST_HDR);
}


/* ncp code points of ASCII, 2-, 3- and 4-byte UTF-8 */

static size_t
random_text(char *buf, size_t ncp)
{
    size_t               i, len, k;
    static const char   *units[] = { "a", "b", " ", "\xc3\xa9",
                                     "\xe2\x82\xac", "\xf0\x9f\x98\x80" };

    len = 0;

    for (i = 0; i < ncp; i++) {
        k = next_rand(8);
        k = k < 6 ? k : 0;
        memcpy(buf + len, units[k], strlen(units[k]));
        len += strlen(units[k]);
    }

    return len;
}


/* the op applied to a plain string, left to right, as the reference does */

static size_t
model_apply(const char *doc, size_t len, const collab_op_t *op, char *out)
{
    size_t                   i, b, o, k;
    const collab_ot_comp_t  *c;

    b = 0;
    o = 0;

    for (i = 0; i < op->ncomps; i++) {
        c = &op->comps[i];

        switch (c->type) {

        case COLLAB_OT_SKIP:
            k = collab_utf8_offset(doc + b, len - b, c->n);
            memcpy(out + o, doc + b, k);
            o += k;
            b += k;
            break;

        case COLLAB_OT_INSERT:
            memcpy(out + o, op->str + c->off, c->len);
            o += c->len;
            break;

        default:
            b += collab_utf8_offset(doc + b, len - b, c->n);
            break;
        }
    }

    memcpy(out + o, doc + b, len - b);

    return o + len - b;
}


/* one buffer for every copy: large mallocs per op would dominate the run */

static char *
text_of(const collab_text_t *t, size_t *len)
{
    static char  *buf;

    *len = collab_text_bytes(t);

    if (buf == NULL) {
        buf = malloc(1 << 22);
    }

    if (buf && *len < (1 << 22)) {
        collab_text_copy(t, buf);
        return buf;
    }

    return NULL;
}


/* a valid op of about ncomps components over doc: skips, inserts, deletes */

static void
random_op(collab_op_t *op, const char *doc, size_t len, size_t ncomps)
{
    char    ins[64];
    size_t  i, ncp, pos, n, b0, b1, k;

    collab_op_reset(op);

    ncp = collab_utf8_length(doc, len);
    pos = 0;

    for (i = 0; i < ncomps; i++) {
        k = next_rand(3);

        if (k == 0 && pos < ncp) {
            n = 1 + next_rand(ncp - pos < 40 ? ncp - pos : 40);
            collab_op_append(op, COLLAB_OT_SKIP, n, NULL, 0);
            pos += n;

        } else if (k == 1 && pos < ncp) {
            n = 1 + next_rand(ncp - pos < 8 ? ncp - pos : 8);
            b0 = collab_utf8_offset(doc, len, pos);
            b1 = b0 + collab_utf8_offset(doc + b0, len - b0, n);

            if (next_rand(2)) {
                collab_op_append(op, COLLAB_OT_DELETE, n, NULL, 0);

            } else {
                collab_op_append(op, COLLAB_OT_DELETE_STR, n, doc + b0,
                                 b1 - b0);
            }

            pos += n;

        } else {
            n = 1 + next_rand(next_rand(20) ? 6 : 15);
            collab_op_append(op, COLLAB_OT_INSERT, n, ins,
                             random_text(ins, n));
        }
    }

    if (op->ncomps && op->comps[op->ncomps - 1].type == COLLAB_OT_SKIP) {
        op->ncomps--;
    }
}


/* two buffers of size bytes and a random 5,000 code point document */

static int
test_doc(size_t size, char **doc, char **out, size_t *len,
    collab_text_t **t)
{
    *doc = malloc(size);
    *out = malloc(size);

    if (*doc == NULL || *out == NULL) {
        COLLAB_CHECK(0);
        free(*doc);
        free(*out);
        return -1;
    }

    *len = random_text(*doc, 5000);
    COLLAB_CHECK(collab_text_create(t, *doc, *len) == COLLAB_OT_OK);

    return 0;
}


static void
test_model(void)
{
    int             ok;
    char           *doc, *out, *got;
    size_t          i, len, olen, glen;
    collab_op_t     op;
    collab_text_t  *t;

    if (test_doc(1 << 22, &doc, &out, &len, &t) != 0) {
        return;
    }

    collab_op_init(&op);

    ok = 1;

    for (i = 0; i < 3000 && ok; i++) {
        random_op(&op, doc, len, 1 + next_rand(i % 10 ? 12 : 300));

        olen = model_apply(doc, len, &op, out);

        if (collab_text_apply(t, &op) != COLLAB_OT_OK) {
            ok = 0;
            break;
        }

        got = text_of(t, &glen);
        ok = got && glen == olen && memcmp(got, out, olen) == 0
             && collab_text_length(t) == collab_utf8_length(out, olen);

        memcpy(doc, out, olen);
        len = olen;

        /* keep the document between about 2,000 and 200,000 bytes */

        if (len > 200000) {
            random_op(&op, doc, len, 0);
            collab_op_append(&op, COLLAB_OT_DELETE,
                             collab_utf8_length(doc, len) / 2, NULL, 0);
            olen = model_apply(doc, len, &op, out);
            ok = ok && collab_text_apply(t, &op) == COLLAB_OT_OK;
            memcpy(doc, out, olen);
            len = olen;
        }
    }

    COLLAB_CHECK_MSG(ok, "multi-component op %zu differs from the model", i);

    collab_text_free(t);
    collab_op_free(&op);
    free(doc);
    free(out);
}


/*
 * Every allocation an apply makes fails in turn: each failure returns
 * ERR_NOMEM with the document as it was, and the first run without a
 * failure gives the model's text.
 */

static void
test_oom(void)
{
    int             rc, same, done;
    char           *doc, *out, *got;
    size_t          i, len, olen, glen, fails;
    collab_op_t     op;
    collab_text_t  *t;

    if (test_doc(1 << 20, &doc, &out, &len, &t) != 0) {
        return;
    }

    collab_op_init(&op);

    /* inserts of up to 15 code points, many of them splitting full leaves */

    random_op(&op, doc, len, 600);
    olen = model_apply(doc, len, &op, out);

    same = 1;
    done = 0;
    fails = 0;

    for (i = 1; i < 100000 && !done; i++) {
        collab_text_pool_free();
        heap.calls = 0;
        heap.fail_at = i;

        rc = collab_text_apply(t, &op);

        heap.fail_at = 0;

        got = text_of(t, &glen);

        if (rc == COLLAB_OT_OK) {
            done = 1;
            same = same && glen == olen && memcmp(got, out, olen) == 0;

        } else {
            fails++;
            same = same && rc == COLLAB_OT_ERR_NOMEM && glen == len
                   && memcmp(got, doc, len) == 0;
        }

    }

    COLLAB_CHECK_MSG(done && fails > 1, "the op applied after %zu failures",
                     fails);
    COLLAB_CHECK_MSG(same, "a failed apply changed the document");

    collab_text_free(t);
    collab_op_free(&op);
    free(doc);
    free(out);
}


/*
 * The shape of the report: a document of k characters and one op
 * [1,"k",1,"k",...] of k inserts, decoded from JSON and applied.
 */

static void
test_cost(size_t k, size_t *peak, size_t *calls)
{
    int             rc;
    char           *doc, *json, *p;
    size_t          i, base;
    collab_op_t     op;
    collab_text_t  *t;

    doc = malloc(k + 1);
    json = malloc(6 * k + 2);

    if (doc == NULL || json == NULL) {
        COLLAB_CHECK(0);
        return;
    }

    memset(doc, 'x', k);
    COLLAB_CHECK(collab_text_create(&t, doc, k) == COLLAB_OT_OK);

    p = json;
    *p++ = '[';

    for (i = 0; i < k; i++) {
        memcpy(p, i ? ",1,\"k\"" : "1,\"k\"", i ? 6 : 5);
        p += i ? 6 : 5;
    }

    *p++ = ']';

    collab_text_pool_free();
    collab_op_init(&op);

    base = heap.live;
    heap_mark();

    rc = collab_op_decode_json(&op, json, p - json);

    if (rc == COLLAB_OT_OK) {
        rc = collab_text_apply(t, &op);
    }

    COLLAB_CHECK_MSG(rc == COLLAB_OT_OK && collab_text_length(t) == 2 * k,
                     "k=%zu: rc %d", k, rc);

    *peak = heap.peak - base;
    *calls = heap.calls;

    collab_op_free(&op);
    collab_text_free(t);
    collab_text_pool_free();
    free(doc);
    free(json);
}


/*
 * Bounds, per component of the op (2k of them): the peak includes the
 * parse tree (a node and a string per value, in the arena), the op's own
 * array (32 bytes a component, grown by doubling), the document's growth
 * (a 1 KB leaf per few hundred new bytes at worst) and one insert's
 * reserve of spare nodes, which is what stays constant.  yajl_tree_parse()
 * once grew arrays one value at a time: quadratic copying, not bytes.
 */

static void
test_costs(void)
{
    size_t         i, peak, calls;
    static size_t  ks[] = { 10, 100, 1000, 10000, 100000 };

    for (i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
        test_cost(ks[i], &peak, &calls);

        printf("k=%zu inserts: peak %zu bytes (%zu per insert), "
               "%zu allocations\n", ks[i], peak, peak / ks[i], calls);

        COLLAB_CHECK_MSG(peak <= 192 * 2 * ks[i] + 64 * 1024,
                         "k=%zu: peak %zu bytes", ks[i], peak);
        COLLAB_CHECK_MSG(calls <= ks[i] / 4 + 128,
                         "k=%zu: %zu allocations", ks[i], calls);
    }
}


int
main(void)
{
    test_model();
    test_oom();
    test_costs();

    collab_text_pool_free();

    return COLLAB_TEST_DONE();
}
