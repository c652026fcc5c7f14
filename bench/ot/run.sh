#!/usr/bin/env bash
# Builds the OT benchmark (-O2, no sanitizers) and prints its figures for
# the automerge-paper trace (`make bench-ot`).  BENCH_RUNS sets the runs.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

TRACE=${BENCH_TRACE:-$ROOT/../shared/traces/automerge-paper.json.gz}
mkdir -p build/bench

${CC:-cc} -std=gnu99 -O2 -Wall -Wextra -Werror -Isrc -It/ot -Ibench/common \
    -o build/bench/bench_ot bench/ot/bench.c bench/common/bench_time.c \
    t/ot/trace_load.c src/engine/collab_*.c src/protocol/collab_msg_tree.c \
    -lyajl -lz

build/bench/bench_ot "$TRACE" "${BENCH_RUNS:-7}"
