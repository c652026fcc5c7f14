#!/usr/bin/env bash
# make test-deb: the package (make deb) installed with apt into a clean
# Debian bookworm container (the base image of docker/base-image.sh):
# the module is enabled in the stock configuration and nginx -t passes,
# the example configuration passes nginx -t and serves the editor and one
# WebSocket handshake (101), and removing the package disables the module
# again.  Skips, saying why, where Docker cannot run.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
name=test-deb
# shellcheck source=docker-lib.sh
. "$top/.ci/docker-lib.sh"

deb=$(ls "$top"/build/deb/libnginx-mod-http-collab_*_amd64.deb 2> /dev/null \
      | head -1)
[ -n "$deb" ] || { echo "$name: no package: make deb" >&2; exit 1; }

docker_start
trap docker_cleanup EXIT
docker_base

# runs inside the container; prints "ok - ..." / "not ok - ..." lines
cat > "$top/build/deb/in-container.sh" << 'SH'
set -u
check() {
    local what=$1; shift
    if "$@" > /tmp/check.log 2>&1; then
        echo "ok - $what"
    else
        echo "not ok - $what"; sed 's/^/    /' /tmp/check.log
    fi
}
export DEBIAN_FRONTEND=noninteractive
# a system as installed, with /usr/share/doc (the base image, like
# Debian's slim ones, leaves it out; the example configuration is there)
rm -f /etc/dpkg/dpkg.cfg.d/90collab-docker
apt-get update -qq > /tmp/apt.log 2>&1
check "apt-get install of $(basename "$DEB") (pulls nginx and the libraries)" \
    apt-get install -y -q "$DEB"
apt-get install -y -q curl openssl > /dev/null 2>&1
check "the module is enabled (modules-enabled/50-mod-http-collab.conf)" \
    grep -qx 'load_module modules/ngx_http_collab_module.so;' \
        /etc/nginx/modules-enabled/50-mod-http-collab.conf
check "nginx -t: the stock configuration with the module loaded" nginx -t

# the example configuration, placeholders replaced as .ci/stack.sh does
mkdir -p /tmp/collab/logs /tmp/collab/tmp
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > /tmp/collab/jwt-hs256.key
sed -e "s|@MODULE@|/usr/lib/nginx/modules/ngx_http_collab_module.so|" \
    -e "s|@PREFIX@|/tmp/collab|g" -e "s|@PORT@|8080|g" \
    -e "s|@WORKERS@|1|" \
    -e "s|@PG@|hostaddr=127.0.0.1 port=5432 dbname=collab user=collab|" \
    -e "s|@REDIS@|127.0.0.1:6379|" \
    -e "s|@SRC_SECRET@|test-deb-src-secret-0123456789|" \
    -e "s|@WEB_ROOT@|/usr/share/collab/web|g" \
    -e "s|@JWT_KEY@|/tmp/collab/jwt-hs256.key|g" -e "s|@SIGNUP@|off|g" \
    /usr/share/doc/libnginx-mod-http-collab/examples/nginx.conf.example \
    > /tmp/collab/nginx.conf
check "nginx -t: the example configuration" \
    nginx -t -c /tmp/collab/nginx.conf
nginx -c /tmp/collab/nginx.conf
sleep 0.5
check "the editor is served from /usr/share/collab/web" \
    bash -c 'curl -sf http://127.0.0.1:8080/ | grep -q "<title>"'
# the example turns auth on: no token, no socket; one signed with its key
# (as the built-in sign-in signs them) opens it
upgrade() {
    curl -s -i --max-time 2 -H "Connection: Upgrade" \
        -H "Upgrade: websocket" -H "Sec-WebSocket-Version: 13" \
        -H "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==" \
        -H "Origin: http://127.0.0.1:8080" "$@" http://127.0.0.1:8080/ws
}
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
h=$(printf '{"alg":"HS256","kid":"local"}' | b64url)
p=$(printf '{"sub":"deb","iss":"collab","exp":%d}' $(($(date +%s) + 600)) \
    | b64url)
token="$h.$p.$(printf '%s' "$h.$p" | openssl dgst -sha256 -binary \
    -hmac "$(cat /tmp/collab/jwt-hs256.key)" | b64url)"
check "without a token the upgrade is refused: 401 invalid_token" \
    bash -c "$(declare -f upgrade); upgrade | tee /dev/stderr \
        | grep -qi '^WWW-Authenticate: Bearer'"
check "one WebSocket handshake with a token: 101 Switching Protocols" \
    bash -c "$(declare -f upgrade); upgrade -H 'Cookie: collab_token=$token' \
        | tee /dev/stderr | grep -q '^HTTP/1.1 101 '"
check "the built-in sign-in answers (sign-up is off in the example)" \
    bash -c 'curl -s -X POST -d "{}" http://127.0.0.1:8080/auth/signup \
        | grep -q "sign-up is off"'
nginx -c /tmp/collab/nginx.conf -s quit
check "apt-get remove disables the module again" \
    bash -c 'apt-get remove -y -q libnginx-mod-http-collab \
        && test ! -e /etc/nginx/modules-enabled/50-mod-http-collab.conf \
        && nginx -t'
SH

echo "$name: installing $(basename "$deb") into a clean $BASE container"
out=$("$DOCKER" run --rm -e DEB="/deb/$(basename "$deb")" \
          -v "$top/build/deb:/deb:ro" "$BASE" \
          timeout 300 bash /deb/in-container.sh 2>&1) || true
echo "$out"
passed=$(grep -c '^ok - ' <<< "$out" || true)
failed=$(grep -c '^not ok - ' <<< "$out" || true)
[ "$passed" -gt 0 ] || failed=$((failed + 1))
echo "$name: $passed passed, $failed failed"
[ "$failed" = 0 ]
