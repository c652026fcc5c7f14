#!/usr/bin/env bash
# Install what building, running and testing need on Debian bookworm.
# Fast and offline when everything is already there (dpkg -s first; apt-get
# update only when a package is missing).  Then `npm ci` in t/js when its
# node_modules is missing or older than the lockfile.
#
# Extra sets by argument: `docker` (the engine, compose and debootstrap,
# for make test-docker), `deb` (Debian's packaging tools, for make deb).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

pkgs=(
    build-essential nginx nginx-dev
    libpq-dev libhiredis-dev libyajl-dev libjwt-dev zlib1g-dev libssl-dev libsodium-dev
    postgresql postgresql-client redis-server redis-tools redis-sentinel
    libtest-base-perl clang libclang-rt-14-dev
    procps
    chromium fonts-noto-color-emoji
)
# a nodejs that ships its own npm (e.g. NodeSource's) conflicts with
# Debian's npm package: only ask for them when the commands are missing
command -v node > /dev/null || pkgs+=(nodejs)
command -v npm > /dev/null || pkgs+=(npm)
for set in "$@"; do
    case $set in
        docker) pkgs+=(docker.io docker-compose debootstrap iptables) ;;
        deb)    pkgs+=(debhelper dpkg-dev fakeroot lintian) ;;
        *)      echo "deps: unknown set $set" >&2; exit 1 ;;
    esac
done

missing=()
for p in "${pkgs[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$st" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        sudo=()
    elif command -v sudo > /dev/null; then
        sudo=(sudo)
    else
        echo "deps: missing Debian packages: ${missing[*]}" >&2
        echo "deps: as root run: apt-get update &&" \
             "apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi

    had_nginx=0
    if dpkg-query -W -f='${Status}' nginx 2>/dev/null \
           | grep -q 'install ok installed'; then
        had_nginx=1
    fi

    echo "deps: installing ${missing[*]}"
    # update only when the lists are missing or a package is unknown
    if ! ls /var/lib/apt/lists/*_Packages > /dev/null 2>&1 \
       || ! "${sudo[@]}" apt-get install -y --no-install-recommends \
                "${missing[@]}"; then
        "${sudo[@]}" apt-get update
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y \
            --no-install-recommends "${missing[@]}"
    fi

    # Debian starts a system nginx on port 80 on install: stop it if we
    # just installed it, so port 80 stays free and tests own their nginx
    if [ $had_nginx = 0 ]; then
        if command -v systemctl > /dev/null \
           && systemctl is-system-running > /dev/null 2>&1; then
            "${sudo[@]}" systemctl disable --now nginx > /dev/null 2>&1 \
                || true
        elif command -v service > /dev/null; then
            "${sudo[@]}" service nginx stop > /dev/null 2>&1 || true
        fi
        if [ -f /run/nginx.pid ]; then
            pid=$(cat /run/nginx.pid 2>/dev/null || true)
            [ -n "$pid" ] && "${sudo[@]}" kill -QUIT "$pid" 2>/dev/null \
                || true
        fi
    fi
fi

# npm packages of t/js (sharedb, ot-text-unicode, ws for the tests) and
# web/ (the editor's bundle): npm ci when node_modules is missing or was not
# installed from the current lockfile
npm_ci() {
    local dir=$1 lock=$1/package-lock.json stamp=$1/node_modules/.collab-lock.md5
    local sum

    [ -f "$lock" ] || return 0
    sum=$(md5sum < "$lock" | cut -d' ' -f1)
    if [ ! -f "$stamp" ] && [ -d "$dir/node_modules" ] \
       && (cd "$dir" && npm ls --depth=0 > /dev/null 2>&1); then
        echo "$sum" > "$stamp"
    fi
    if [ ! -d "$dir/node_modules" ] \
       || [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
        echo "deps: npm ci in ${dir#"$top"/}"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
        echo "$sum" > "$stamp"
    fi
}

npm_ci "$top/t/js"
npm_ci "$top/web"
