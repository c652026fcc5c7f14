#!/usr/bin/env bash
# The OT engine's suites against the ot-text-unicode oracle (`make test-ot`):
#   1. transform vectors from the reference package's own op generator
#   2. the differential test: >= 100,000 seeded random cases (OT_CASES,
#      OT_SEED), every result compared with the oracle, plus TP1
#   3. the same with tiny leaves and fanout 4, to exercise deep trees
#   4. every sequential editing trace, op by op, against its endContent
# Built with ASan + UBSan against src/engine/*.c.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

BUILD=build/ot
SEED=${OT_SEED:-1}
CASES=${OT_CASES:-100000}
TRACES=${OT_TRACES:-$ROOT/../shared/traces}
CC=${CC:-cc}
CFLAGS="-std=gnu99 -g -O1 -Wall -Wextra -Werror -Isrc -It/ot
        -fsanitize=address,undefined -fno-sanitize-recover=all
        -fno-omit-frame-pointer"
ENGINE="$(ls src/engine/collab_*.c) src/protocol/collab_msg_tree.c"

mkdir -p "$BUILD/vectors"

if [ ! -d t/js/node_modules/ot-text-unicode ] \
   || [ ! -d t/js/node_modules/ot-fuzzer ]; then
    (cd t/js && npm ci --no-audit --no-fund)
fi

$CC $CFLAGS -o $BUILD/diff t/ot/diff.c $ENGINE -lyajl
$CC $CFLAGS -DCOLLAB_TEXT_LEAF_SIZE=64 -DCOLLAB_TEXT_FANOUT=4 \
    -o $BUILD/diff_small t/ot/diff.c $ENGINE -lyajl
$CC $CFLAGS -o $BUILD/trace t/ot/trace.c t/ot/trace_load.c $ENGINE \
    -lyajl -lz

export ASAN_OPTIONS=detect_leaks=1

echo "== transform vectors (reference genOp, SEED=$SEED)"
# ot-fuzzer keeps its state file in the working directory
(cd $BUILD/vectors && SEED=$SEED node "$ROOT/t/ot/vectors.js" 5000) \
    | $BUILD/diff

echo "== differential: $CASES cases, seed $SEED"
node t/ot/gen.js "$SEED" "$CASES" | $BUILD/diff

echo "== differential, deep trees (64-byte leaves, fanout 4): 20000 cases"
node t/ot/gen.js $((SEED + 1)) 20000 | $BUILD/diff_small

echo "== traces"
$BUILD/trace "$TRACES"/*.json.gz
