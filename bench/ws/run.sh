#!/bin/bash
# Build the frame parser micro-benchmark with -O2 and run it (not a test).
set -e
cd "$(dirname "$0")/../.."
mkdir -p build/bench
${CC:-cc} -std=gnu99 -O2 -Wall -Wextra -Isrc -Ibench/common \
    -o build/bench/bench_ws bench/ws/bench_ws.c bench/common/bench_time.c \
    src/ws/collab_ws_frame.c src/ws/collab_ws_utf8.c
build/bench/bench_ws ascii 16384
build/bench/bench_ws utf8 16384
build/bench/bench_ws ascii 1500
