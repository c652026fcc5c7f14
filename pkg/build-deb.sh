#!/usr/bin/env bash
# make deb: build libnginx-mod-http-collab_<version>_amd64.deb with
# Debian's own tooling, as Debian builds its libnginx-mod-* packages: dh
# with nginx-dev's nginx sequence (pkg/debian/rules).
#
# The repository's top-level layout has no debian/: this script copies
# the sources the package needs and pkg/debian/ into
# build/deb/libnginx-mod-http-collab-<version>/ (debian/ there), runs
# dpkg-buildpackage -b in it and lintian on the result.  Out:
#   build/deb/libnginx-mod-http-collab_<version>_amd64.deb
#   build/deb/build.log, build/deb/lintian.txt
# web/dist must be built first (make web).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/build/deb"
pkg=libnginx-mod-http-collab

bash "$top/.ci/deps.sh" deb > /dev/null

version=$(sed -n 's/^#define NGX_HTTP_COLLAB_VERSION *"\(.*\)"/\1/p' \
              "$top/src/ngx_http_collab.h")
deb_version=$(cd "$top/pkg" && dpkg-parsechangelog -S Version)
if [ "${deb_version%-*}" != "$version" ]; then
    echo "build-deb: pkg/debian/changelog is at $deb_version but the" \
         "module is $version (NGX_HTTP_COLLAB_VERSION): add an entry" >&2
    exit 1
fi
[ -f "$top/web/dist/index.html" ] \
    || { echo "build-deb: web/dist missing: make web" >&2; exit 1; }

src="$out/$pkg-$version"
rm -rf "$out"
mkdir -p "$src/docs" "$src/docker" "$src/web"
cd "$top"
cp -a config ngx_http_collab_module.c src sql README.md nginx.conf.example \
      "$src/"
cp -a docs/*.md "$src/docs/"
cp -a docker/nginx-node.conf docker/nginx-lb.conf "$src/docker/"
cp -a web/dist "$src/web/"
cp -a pkg/debian "$src/debian"

echo "build-deb: dpkg-buildpackage in ${src#"$top"/} (log build/deb/build.log)"
if ! (cd "$src" && DEB_BUILD_OPTIONS="parallel=$(nproc)" \
          dpkg-buildpackage -b -us -uc) > "$out/build.log" 2>&1; then
    tail -40 "$out/build.log"
    echo "build-deb: dpkg-buildpackage failed" >&2
    exit 1
fi

deb=$(ls "$out/${pkg}_${deb_version}_"*.deb)
changes=$(ls "$out/${pkg}_${deb_version}_"*.changes)
# every tag, informational and pedantic ones too; the ones left are
# listed with their reasons in docs/deployment.md
lintian -I --pedantic --tag-display-limit 0 "$changes" \
    > "$out/lintian.txt" 2>&1 || true
echo "build-deb: lintian (build/deb/lintian.txt):"
sed 's/^/    /' "$out/lintian.txt"
if grep -q '^E: ' "$out/lintian.txt"; then
    echo "build-deb: lintian reports errors" >&2
    exit 1
fi
dpkg-deb -f "$deb" Package Version Depends
echo "build-deb: $deb"
