/*
 * OT engine benchmark (figures, not a timed test): applies the
 * automerge-paper trace in-process, measures transform and compose
 * throughput, the JSON decode + apply path, and memory per document; and
 * what one op of k components costs (decode, transform against a
 * concurrent edit, apply, encode; the engine's spare nodes), for k of 10,
 * 1,000 and 10,000: the shape [1,"k",1,"k",...] over k characters.
 * Every figure is the median of several runs.
 *
 *   bench <trace.json.gz> [runs]
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/collab_ot_json.h"
#include "engine/collab_text.h"
#include "trace_load.h"
#include "bench_time.h"


#define BENCH_MAX_RUNS  31


static int bench_op_cost(size_t k, int runs);


static int
bench_op_cost(size_t k, int runs)
{
    int             r;
    char           *doc, *json, *p, *enc;
    double          t0, dec[BENCH_MAX_RUNS], xf[BENCH_MAX_RUNS];
    double          app[BENCH_MAX_RUNS], en[BENCH_MAX_RUNS];
    size_t          i, len, spare;
    collab_op_t     op, other, out;
    collab_text_t  *t;

    doc = malloc(k);
    json = malloc(6 * k + 2);

    if (doc == NULL || json == NULL) {
        return 1;
    }

    memset(doc, 'x', k);

    p = json;
    *p++ = '[';

    for (i = 0; i < k; i++) {
        memcpy(p, i ? ",1,\"k\"" : "1,\"k\"", i ? 6 : 5);
        p += i ? 6 : 5;
    }

    *p++ = ']';

    collab_op_init(&op);
    collab_op_init(&other);
    collab_op_init(&out);
    collab_op_push_insert(&other, "concurrent", 10);

    spare = 0;

    for (r = 0; r < runs; r++) {
        t0 = bench_now();

        if (collab_op_decode_json(&op, json, p - json) != COLLAB_OT_OK) {
            return 1;
        }

        dec[r] = bench_now() - t0;

        t0 = bench_now();
        collab_op_transform(&out, &op, &other, COLLAB_OT_RIGHT);
        xf[r] = bench_now() - t0;

        collab_text_create(&t, doc, k);
        collab_text_pool_free();
        (void) collab_text_pool_peak(1);

        t0 = bench_now();

        if (collab_text_apply(t, &op) != COLLAB_OT_OK) {
            return 1;
        }

        app[r] = bench_now() - t0;
        spare = collab_text_pool_peak(1);
        collab_text_free(t);

        t0 = bench_now();

        if (collab_op_encode_json(&op, &enc, &len) != COLLAB_OT_OK) {
            return 1;
        }

        en[r] = bench_now() - t0;
        free(enc);
    }

    printf("op of %6zu inserts (%7zu bytes): decode %9.1f us, transform"
           " %8.1f us, apply %8.1f us, encode %8.1f us, spare nodes %zu\n",
           k, (size_t) (p - json), bench_median(dec, runs) * 1e6,
           bench_median(xf, runs) * 1e6, bench_median(app, runs) * 1e6,
           bench_median(en, runs) * 1e6, spare);

    collab_op_free(&op);
    collab_op_free(&other);
    collab_op_free(&out);
    free(doc);
    free(json);

    return 0;
}


int
main(int argc, char **argv)
{
    int             r, runs;
    char          **json;
    double          t0, apply[BENCH_MAX_RUNS], xf[BENCH_MAX_RUNS];
    double          comp[BENCH_MAX_RUNS], dec[BENCH_MAX_RUNS];
    size_t          i, n, *jlen, mem, sink;
    trace_t         tr;
    collab_op_t     out, op;
    collab_text_t  *t;

    if (argc < 2) {
        fprintf(stderr, "usage: %s trace.json.gz [runs]\n", argv[0]);
        return 2;
    }

    runs = argc > 2 ? atoi(argv[2]) : 7;

    if (runs < 1 || runs > BENCH_MAX_RUNS) {
        runs = 7;
    }

    if (trace_load(&tr, argv[1]) != 0) {
        return 1;
    }

    n = tr.nops;
    collab_op_init(&out);
    collab_op_init(&op);

    json = malloc(n * sizeof(char *));
    jlen = malloc(n * sizeof(size_t));

    if (json == NULL || jlen == NULL) {
        return 1;
    }

    for (i = 0; i < n; i++) {
        if (collab_op_encode_json(&tr.ops[i], &json[i], &jlen[i]) != 0) {
            return 1;
        }
    }

    sink = 0;
    mem = 0;

    for (r = 0; r < runs; r++) {

        /* apply: the whole trace into one document */

        collab_text_create(&t, tr.start, tr.start_len);

        t0 = bench_now();

        for (i = 0; i < n; i++) {
            if (collab_text_apply(t, &tr.ops[i]) != COLLAB_OT_OK) {
                fprintf(stderr, "apply failed at op %zu\n", i);
                return 1;
            }
        }

        apply[r] = n / (bench_now() - t0);

        if (collab_text_bytes(t) != tr.end_len) {
            fprintf(stderr, "wrong result\n");
            return 1;
        }

        mem = collab_text_memory(t);
        collab_text_free(t);

        /* decode from JSON text + apply: the server's path for an op */

        collab_text_create(&t, tr.start, tr.start_len);

        t0 = bench_now();

        for (i = 0; i < n; i++) {
            if (collab_op_decode_json(&op, json[i], jlen[i]) != COLLAB_OT_OK
                || collab_text_apply(t, &op) != COLLAB_OT_OK)
            {
                fprintf(stderr, "decode + apply failed at op %zu\n", i);
                return 1;
            }
        }

        dec[r] = n / (bench_now() - t0);
        collab_text_free(t);

        /* transform: each op against the next one, as concurrent edits */

        t0 = bench_now();

        for (i = 0; i + 1 < n; i++) {
            collab_op_transform(&out, &tr.ops[i], &tr.ops[i + 1],
                                COLLAB_OT_LEFT);
            sink += out.ncomps;
        }

        xf[r] = (n - 1) / (bench_now() - t0);

        /* compose: each op with the next one */

        t0 = bench_now();

        for (i = 0; i + 1 < n; i++) {
            collab_op_compose(&out, &tr.ops[i], &tr.ops[i + 1]);
            sink += out.ncomps;
        }

        comp[r] = (n - 1) / (bench_now() - t0);
    }

    printf("trace: %s, %zu ops, final %zu bytes, %d runs (median)\n",
           argv[1], n, tr.end_len, runs);
    printf("apply:              %8.2f M ops/s\n",
           bench_median(apply, runs) / 1e6);
    printf("decode JSON + apply:%8.2f M ops/s\n",
           bench_median(dec, runs) / 1e6);
    printf("transform:          %8.2f M ops/s\n",
           bench_median(xf, runs) / 1e6);
    printf("compose:            %8.2f M ops/s\n",
           bench_median(comp, runs) / 1e6);
    printf("memory: final document %zu bytes of text in %zu bytes "
           "(%.2f bytes per byte)\n", tr.end_len, mem,
           (double) mem / (tr.end_len ? tr.end_len : 1));

    collab_text_create(&t, "", 0);
    printf("memory: empty document %zu bytes\n", collab_text_memory(t));
    collab_text_free(t);

    collab_text_create(&t, tr.end, tr.end_len < 1000 ? tr.end_len : 1000);
    printf("memory: 1000-byte document %zu bytes\n", collab_text_memory(t));
    collab_text_free(t);

    collab_text_create(&t, tr.end, tr.end_len);
    printf("memory: final text loaded at once %zu bytes (%.2f per byte)\n",
           collab_text_memory(t),
           (double) collab_text_memory(t) / (tr.end_len ? tr.end_len : 1));
    collab_text_free(t);

    if (bench_op_cost(10, runs) || bench_op_cost(1000, runs)
        || bench_op_cost(10000, runs))
    {
        fprintf(stderr, "op cost failed\n");
        return 1;
    }

    for (i = 0; i < n; i++) {
        free(json[i]);
    }

    free(json);
    free(jlen);
    collab_op_free(&out);
    collab_op_free(&op);
    trace_free(&tr);
    collab_text_pool_free();

    return sink == 0;
}
