#!/usr/bin/env bash
# Make the base image the other images build on, from Debian's packages
# alone (no image registry needed): debootstrap a minimal bookworm, tar it
# and `docker import` it as collab-base:bookworm.
#
#     bash docker/base-image.sh            # prints the image name
#
# The tarball is cached in build/docker/ (debootstrap is the slow part:
# about a minute); nothing is done when the image exists and holds that
# tarball (or there is no tarball: a fresh clone on a machine that made
# the image before keeps its image, and so the builds' layer cache).  With a registry, pass BASE=debian:bookworm to the builds
# instead and skip this script.
#
#   MIRROR   Debian mirror (default http://deb.debian.org/debian)
#   IMAGE    image name (default collab-base:bookworm)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache="$top/build/docker"
tarball="$cache/bookworm-minbase.tar"
mirror=${MIRROR:-http://deb.debian.org/debian}
image=${IMAGE:-collab-base:bookworm}

mkdir -p "$cache"

have=$(docker image inspect -f '{{ index .Config.Labels "collab.base" }}' \
           "$image" 2>/dev/null || true)
# the image is there and no other tarball was made since: nothing to do
if [ -n "$have" ] && { [ ! -s "$tarball" ] \
                       || [ "$have" = "$(stat -c '%s-%Y' "$tarball")" ]; }
then
    echo "$image"
    exit 0
fi

if [ ! -s "$tarball" ]; then
    command -v debootstrap > /dev/null \
        || { echo "base-image: apt-get install debootstrap" >&2; exit 1; }
    root="$cache/rootfs"
    rm -rf "$root"
    echo "base-image: debootstrap bookworm (minbase) from $mirror" >&2
    debootstrap --variant=minbase bookworm "$root" "$mirror" \
        > "$cache/debootstrap.log" 2>&1 \
        || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }

    # the same suites as a stock bookworm image: security updates keep
    # nginx the same Debian revision as the nginx-dev a module is built on
    sec=${mirror%/debian}/debian-security
    cat > "$root/etc/apt/sources.list" << EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $sec bookworm-security main
EOF
    # as Debian's docker images do: no recommends, no docs, no apt cache
    cat > "$root/etc/apt/apt.conf.d/90collab-docker" << 'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb || true"; };
EOF
    cat > "$root/etc/dpkg/dpkg.cfg.d/90collab-docker" << 'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
           "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log
    tar --numeric-owner -C "$root" -cf "$tarball.tmp" .
    mv -f "$tarball.tmp" "$tarball"
    rm -rf "$root"
fi

# the tarball's identity, kept as a label: re-import only when it changed
id=$(stat -c '%s-%Y' "$tarball")
echo "base-image: docker import $tarball as $image" >&2
docker import -c "LABEL collab.base=$id" -c 'CMD ["bash"]' \
    "$tarball" "$image" > /dev/null
echo "$image"
