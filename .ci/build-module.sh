#!/usr/bin/env bash
# Build ngx_http_collab_module as a dynamic module against a copy of
# Debian's nginx-dev tree, so the .so loads into Debian's own nginx binary.
# Reconfigures only when the set of source files changes.
#
# COLLAB_SANITIZE=1 builds an ASan+UBSan variant instead, in its own tree
# (build/nginx-asan), into build/asan/ngx_http_collab_module.so; Debian's
# nginx is not instrumented, so it must run with libasan preloaded (see
# TEST_COLLAB_SANITIZE in t/lib/Test/Collab.pm).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build"
src=/usr/share/nginx/src

if [ ! -f "$src/conf_flags" ]; then
    echo "build-module: $src/conf_flags missing: apt-get install nginx-dev" >&2
    exit 1
fi

mkdir -p "$build"

tree="$build/nginx"
stamp="$build/configure.stamp"
out="$build"
cc_opt="-g -O2 -fPIC -Wno-deprecated-declarations"
ld_opt="-fPIC"
if [ "${COLLAB_SANITIZE:-0}" = 1 ]; then
    tree="$build/nginx-asan"
    stamp="$build/configure-asan.stamp"
    out="$build/asan"
    san="-fsanitize=address,undefined -fno-omit-frame-pointer"
    cc_opt="-g -O1 -fPIC $san -Wno-deprecated-declarations"
    ld_opt="-fPIC $san"
    mkdir -p "$out"
fi

# one build at a time (several test runs may call this at once)
exec 9>"$build/.lock"
flock 9
if [ ! -x "$tree/configure" ]; then
    rm -rf "$tree"
    cp -a "$src" "$tree"
fi

# NGX_CONF_FLAGS=( ... ) as shipped by nginx-dev
# shellcheck disable=SC1091
. "$src/conf_flags"

want=$( (cd "$top" && ls config src/*/*.c src/*/*.h src/*.h 2>/dev/null; \
         md5sum "$top/config") | md5sum | cut -d' ' -f1)

cd "$tree"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] \
   || [ ! -f objs/Makefile ]; then
    ./configure "${NGX_CONF_FLAGS[@]}" \
        --with-cc-opt="$cc_opt" --with-ld-opt="$ld_opt" \
        --add-dynamic-module="$top" > "$out/configure.log" 2>&1 \
        || { tail -30 "$out/configure.log" >&2; exit 1; }
    echo "$want" > "$stamp"
fi

make -s -f objs/Makefile modules -j"$(nproc)"
# copy then rename: a running nginx maps the old file, overwriting it in
# place would crash its workers
cp objs/ngx_http_collab_module.so "$out/ngx_http_collab_module.so.tmp"
mv -f "$out/ngx_http_collab_module.so.tmp" "$out/ngx_http_collab_module.so"
echo "build-module: $out/ngx_http_collab_module.so"
