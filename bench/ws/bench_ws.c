/*
 * Micro-benchmark of the frame parser: 1 KiB masked text frames (JSON-like
 * ASCII, or with multi-byte characters), fed in recv-sized chunks.  Prints
 * payload MB/s and frames/s, the median of 5 runs.
 *
 *   bench_ws [ascii|utf8] [read size]
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws/collab_ws_frame.h"
#include "bench_time.h"


#define BENCH_FRAMES       256
#define BENCH_PAYLOAD      1024
#define BENCH_FRAME_SIZE   (BENCH_PAYLOAD + 8)
#define BENCH_RUNS         5


int
main(int argc, char **argv)
{
    int                 utf8, run, i;
    char               *text;
    size_t              total, off, left, rd, k, frames;
    double              t0, spent, mbs[BENCH_RUNS], fps[BENCH_RUNS];
    uint8_t            *pristine, *work, *f, key[4];
    uint64_t            passes, pass;
    collab_ws_event_t   ev;
    collab_ws_parser_t  p;

    utf8 = (argc > 1 && strcmp(argv[1], "utf8") == 0);
    rd = (argc > 2) ? (size_t) atol(argv[2]) : 16384;

    if (rd == 0) {
        rd = 16384;
    }

    text = malloc(BENCH_PAYLOAD + 16);
    total = (size_t) BENCH_FRAMES * BENCH_FRAME_SIZE;
    pristine = malloc(total);
    work = malloc(total);

    if (text == NULL || pristine == NULL || work == NULL) {
        return 1;
    }

    /* a ShareDB-like op, padded to exactly 1 KiB */
    k = (size_t) snprintf(text, BENCH_PAYLOAD, "{\"a\":\"op\",\"c\":\"docs\","
                          "\"d\":\"doc-1\",\"v\":1234,\"seq\":17,"
                          "\"op\":[42,\"");

    while (k < BENCH_PAYLOAD - 3) {
        if (utf8 && k % 16 == 0 && k + 2 + 3 <= BENCH_PAYLOAD) {
            memcpy(text + k, (k % 32) ? "\xc3\xa9" : "\xe2\x82\xac",
                   (k % 32) ? 2 : 3);
            k += (k % 32) ? 2 : 3;
            continue;
        }

        text[k] = (char) ('a' + k % 26);
        k++;
    }

    memcpy(text + k, "\"]}", 3);

    for (i = 0; i < BENCH_FRAMES; i++) {
        f = pristine + (size_t) i * BENCH_FRAME_SIZE;
        f[0] = 0x81;
        f[1] = 0x80 | 126;
        f[2] = BENCH_PAYLOAD >> 8;
        f[3] = BENCH_PAYLOAD & 0xff;

        key[0] = (uint8_t) (i * 37 + 1);
        key[1] = (uint8_t) (i * 11 + 3);
        key[2] = (uint8_t) (i * 5 + 7);
        key[3] = (uint8_t) (i + 9);
        memcpy(f + 4, key, 4);

        for (k = 0; k < BENCH_PAYLOAD; k++) {
            f[8 + k] = (uint8_t) text[k] ^ key[k & 3];
        }
    }

    collab_ws_parser_init(&p, 1 << 20);

    passes = 400;

    for (run = 0; run < BENCH_RUNS; run++) {
        spent = 0;
        frames = 0;

        for (pass = 0; pass < passes; pass++) {
            /* the parser unmasks in place: restore, outside the timing */
            memcpy(work, pristine, total);

            t0 = bench_now();

            /* one read at a time, events drained as the glue would */

            for (off = 0; off < total; off += left) {
                left = (total - off < rd) ? total - off : rd;
                k = 0;

                for ( ;; ) {
                    k += collab_ws_parse(&p, work + off + k, left - k, &ev);

                    if (ev.type == COLLAB_WS_EV_NONE) {
                        break;
                    }

                    if (ev.type == COLLAB_WS_EV_ERROR) {
                        fprintf(stderr, "parse error %u: %s\n",
                                ev.close_code, ev.error);
                        return 1;
                    }

                    frames += (ev.type == COLLAB_WS_EV_DATA
                               && ev.message_end);
                }
            }

            spent += bench_now() - t0;
        }

        if (frames != passes * BENCH_FRAMES) {
            fprintf(stderr, "frames %zu\n", frames);
            return 1;
        }

        mbs[run] = (double) frames * BENCH_PAYLOAD / spent / 1e6;
        fps[run] = (double) frames / spent;
    }

    printf("%s 1 KiB masked text frames, %zu-byte reads: "
           "%.0f MB/s, %.0f frames/s (median of %d)\n",
           utf8 ? "utf8 " : "ascii", rd, bench_median(mbs, BENCH_RUNS),
           bench_median(fps, BENCH_RUNS), BENCH_RUNS);

    free(text);
    free(pristine);
    free(work);

    return 0;
}
