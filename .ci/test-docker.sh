#!/usr/bin/env bash
# make test-docker: the compose stack (docker/compose.yaml) really built
# and run.  Starts dockerd if needed, builds the base image (cached in
# build/docker/) and the images, brings the stack up, then through the
# load balancer:
#   1. the stock sharedb clients' convergence (t/js/convergence.js), and
#      the balancer's log shows both nodes served WebSockets;
#   2. a node killed (SIGKILL of its nginx master, as a crash) in the
#      middle of the edits (t/js/failover.js): no acknowledged op lost,
#      the survivors converge;
# and tears everything down.  Skips, saying why, where Docker cannot run.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
name=test-docker
# shellcheck source=docker-lib.sh
. "$top/.ci/docker-lib.sh"

t0=$SECONDS
lap() { echo "$name: $1 ($((SECONDS - t0)) s)"; }

docker_start
project=collabtest
http_port=$(free_port)
pg_port=$(free_port)
export COLLAB_HTTP=127.0.0.1:$http_port COLLAB_PG_PORT=127.0.0.1:$pg_port
compose=("${COMPOSE[@]}" -p "$project" -f "$top/docker/compose.yaml"
         -f "$top/docker/compose.test.yaml")
passed=0
failed=0

teardown() {
    "${compose[@]}" down -v --remove-orphans > /dev/null 2>&1 || true
    docker_cleanup
}
trap teardown EXIT

result() {
    if [ "$1" = 0 ]; then
        passed=$((passed + 1)); echo "ok - $2"
    else
        failed=$((failed + 1)); echo "not ok - $2"
    fi
}

docker_base
lap "base image $BASE"
docker_build collab-redis -f "$top/docker/Dockerfile.services" --target redis
docker_build collab-postgres -f "$top/docker/Dockerfile.services" \
    --target postgres
docker_build collab-nginx -f "$top/docker/Dockerfile"
lap "images built"

"${compose[@]}" down -v --remove-orphans > /dev/null 2>&1 || true
if ! "${compose[@]}" up -d --no-build > "$top"/build/docker/up.log 2>&1; then
    cat "$top"/build/docker/up.log
    "${compose[@]}" logs --tail 30
    echo "$name: compose up failed" >&2
    exit 1
fi
health() {
    "$DOCKER" inspect -f '{{ .State.Health.Status }}' \
        "$("${compose[@]}" ps -q "$1")" 2> /dev/null
}
for _ in $(seq 1 60); do
    [ "$(health lb)" = healthy ] && break
    sleep 0.5
done
if [ "$(health lb)" != healthy ]; then
    "${compose[@]}" ps
    "${compose[@]}" logs --tail 30
    echo "$name: the load balancer did not become healthy" >&2
    exit 1
fi
lap "stack up: $("${compose[@]}" ps --services | tr '\n' ' ')"

ws=ws://127.0.0.1:$http_port/ws
export COLLAB_PG="host=127.0.0.1 port=$pg_port dbname=collab user=collab password=collab"
export COLLAB_ROOT=$top

# 1. convergence across both nodes through the balancer
rc=0
COLLAB_WS_URLS=$ws CONV_CLIENTS=8 CONV_HOT_OPS=1000 CONV_COLD_OPS=200 \
    CONV_COLLECTION=docker CONV_TIMEOUT=120000 \
    timeout 150 node "$top/t/js/convergence.js" \
    > "$top"/build/docker/conv.log 2>&1 || rc=$?
tail -4 "$top"/build/docker/conv.log
[ $rc = 0 ] || tail -30 "$top"/build/docker/conv.log
result $rc "the sharedb clients converge through the load balancer"

lblog=$("${compose[@]}" logs --no-color lb 2>&1)
ws_on() { grep -c "GET /ws.* 101 upstream=$1:80 " <<< "$lblog" || true; }
n1=$(ws_on 172.30.0.21)
n2=$(ws_on 172.30.0.22)
echo "WebSockets served: node1 $n1, node2 $n2"
rc=0; [ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] || rc=1
result $rc "both nodes served WebSockets"
lap "convergence"

# 2. a node dies in the middle of the edits
victim=$("${compose[@]}" ps -q node1)
rc=0
COLLAB_WS_URL=$ws \
    FAILOVER_KILL="kill -9 $("$DOCKER" inspect -f '{{ .State.Pid }}' "$victim")" \
    timeout 150 node "$top/t/js/failover.js" \
    > "$top"/build/docker/failover.log 2>&1 || rc=$?
tail -6 "$top"/build/docker/failover.log
[ $rc = 0 ] || tail -30 "$top"/build/docker/failover.log
result $rc "node1 killed mid-edit: no acknowledged op lost, survivors converge"

state=$("$DOCKER" inspect -f '{{ .State.Status }} {{ .State.ExitCode }}' \
            "$victim")
echo "node1: $state"
rc=0; [ "$state" = "exited 137" ] || rc=1
result $rc "node1 was killed (SIGKILL)"
lap "failover"

if [ $failed != 0 ]; then
    "${compose[@]}" logs --no-color --tail 40 node1 node2 lb
fi
echo "$name: $passed passed, $failed failed"
[ $failed = 0 ]
