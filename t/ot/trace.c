/*
 * Trace test: applies every patch of each editing trace given on the
 * command line, op by op, and compares the result with endContent byte for
 * byte.  Each op is also checked to round-trip through the JSON codec.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/collab_ot_json.h"
#include "engine/collab_text.h"
#include "trace_load.h"


int
main(int argc, char **argv)
{
    int             i, rc, failed;
    char           *buf;
    size_t          k;
    trace_t         tr;
    collab_text_t  *t;

    failed = 0;

    for (i = 1; i < argc; i++) {
        if (trace_load(&tr, argv[i]) != 0) {
            failed++;
            continue;
        }

        rc = collab_text_create(&t, tr.start, tr.start_len);
        if (rc != COLLAB_OT_OK) {
            fprintf(stderr, "%s: create: %s\n", argv[i],
                    collab_ot_strerror(rc));
            failed++;
            trace_free(&tr);
            continue;
        }

        for (k = 0; k < tr.nops; k++) {
            rc = collab_text_apply(t, &tr.ops[k]);
            if (rc != COLLAB_OT_OK) {
                fprintf(stderr, "%s: op %zu: %s\n", argv[i], k,
                        collab_ot_strerror(rc));
                break;
            }
        }

        buf = malloc(collab_text_bytes(t) + 1);
        collab_text_copy(t, buf);

        if (k == tr.nops && collab_text_bytes(t) == tr.end_len
            && memcmp(buf, tr.end, tr.end_len) == 0)
        {
            printf("ok %s: %zu ops, %zu code points, %zu bytes\n", argv[i],
                   tr.nops, collab_text_length(t), collab_text_bytes(t));

        } else {
            printf("FAIL %s: endContent differs\n", argv[i]);
            failed++;
        }

        free(buf);
        collab_text_free(t);
        trace_free(&tr);
    }

    collab_text_pool_free();

    return failed ? 1 : 0;
}
