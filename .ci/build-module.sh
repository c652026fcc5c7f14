#!/usr/bin/env bash
# Build ngx_http_collab_module as a dynamic module against a copy of
# Debian's nginx-dev tree, so the .so loads into Debian's own nginx binary.
# Reconfigures only when the set of source files changes.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build"
src=/usr/share/nginx/src

if [ ! -f "$src/conf_flags" ]; then
    echo "build-module: $src/conf_flags missing: apt-get install nginx-dev" >&2
    exit 1
fi

mkdir -p "$build"

# one build at a time (several test runs may call this at once)
exec 9>"$build/.lock"
flock 9
if [ ! -x "$build/nginx/configure" ]; then
    rm -rf "$build/nginx"
    cp -a "$src" "$build/nginx"
fi

# NGX_CONF_FLAGS=( ... ) as shipped by nginx-dev
# shellcheck disable=SC1091
. "$src/conf_flags"

stamp="$build/configure.stamp"
want=$( (cd "$top" && ls config src/*/*.c src/*/*.h src/*.h 2>/dev/null; \
         md5sum "$top/config") | md5sum | cut -d' ' -f1)

cd "$build/nginx"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] \
   || [ ! -f objs/Makefile ]; then
    ./configure "${NGX_CONF_FLAGS[@]}" \
        --with-cc-opt="-g -O2 -fPIC -Wno-deprecated-declarations" \
        --with-ld-opt="-fPIC" \
        --add-dynamic-module="$top" > "$build/configure.log" 2>&1 \
        || { tail -30 "$build/configure.log" >&2; exit 1; }
    echo "$want" > "$stamp"
fi

make -s -f objs/Makefile modules -j"$(nproc)"
# copy then rename: a running nginx maps the old file, overwriting it in
# place would crash its workers
cp objs/ngx_http_collab_module.so "$build/ngx_http_collab_module.so.tmp"
mv -f "$build/ngx_http_collab_module.so.tmp" "$build/ngx_http_collab_module.so"
echo "build-module: $build/ngx_http_collab_module.so"
