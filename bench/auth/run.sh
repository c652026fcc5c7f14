#!/usr/bin/env bash
# The cost of verifying a token (make bench-auth; also part of make bench):
# HS256, RS256 and ES256 as the module checks them, keys made here.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build/bench/auth
mkdir -p "$out"

cc -O2 -I"$top/src" -o "$out/bench_jwt" "$top/bench/auth/bench_jwt.c" \
    "$top/src/auth/collab_jwt.c" -ljwt -lyajl

[ -f "$out/hs.key" ] || openssl rand -out "$out/hs.key" -hex 32
[ -f "$out/rsa.pem" ] || openssl genpkey -algorithm RSA \
    -pkeyopt rsa_keygen_bits:2048 -out "$out/rsa.pem" 2> /dev/null
openssl pkey -in "$out/rsa.pem" -pubout -out "$out/rsa.pub"
[ -f "$out/ec.pem" ] || openssl genpkey -algorithm EC \
    -pkeyopt ec_paramgen_curve:P-256 -out "$out/ec.pem"
openssl pkey -in "$out/ec.pem" -pubout -out "$out/ec.pub"

"$out/bench_jwt" "$out/hs.key" "$out/rsa.pem" "$out/rsa.pub" \
    "$out/ec.pem" "$out/ec.pub"
