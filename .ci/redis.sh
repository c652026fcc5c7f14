#!/usr/bin/env bash
# A throw-away Redis for tests and the dev stack.
#
#   .ci/redis.sh start <dir> <port>   daemonized redis-server on
#                                     127.0.0.1:<port>, pidfile and log in
#                                     <dir>, no persistence; prints the
#                                     address as the last line on stdout
#   .ci/redis.sh stop <dir>           stop it (no error if not running)
#   .ci/redis.sh status <dir>         exit 0 if running
set -euo pipefail

svc=redis.sh
. "$(dirname "$0")/svc-lib.sh"

command -v redis-server > /dev/null \
    || die "redis-server not found: apt-get install redis-server"

pid() {
    local p
    p=$(cat "$dir/redis.pid" 2>/dev/null) || return 1
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"
}

start() {
    local port=$1 i

    start_dir "$port"

    if pid > /dev/null; then
        # already running: report the port it was started with
        echo "127.0.0.1:$(cat "$dir/port" 2>/dev/null || echo "$port")"
        return 0
    fi

    rm -f "$dir/redis.pid"
    redis-server - > /dev/null <<EOF || die "redis-server failed to start"
bind 127.0.0.1
port $port
daemonize yes
pidfile $dir/redis.pid
logfile $dir/redis.log
dir $dir
save ""
appendonly no
EOF

    for i in $(seq 1 100); do
        if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null \
               | grep -q PONG; then
            echo "$port" > "$dir/port"
            echo "127.0.0.1:$port"
            return 0
        fi
        sleep 0.05
    done

    tail -20 "$dir/redis.log" >&2 || true
    die "redis-server did not answer on 127.0.0.1:$port"
}

stop() {
    local p i

    [ -d "$dir" ] || return 0
    p=$(pid) || return 0
    kill -TERM "$p" 2>/dev/null || return 0
    for i in $(seq 1 100); do
        kill -0 "$p" 2>/dev/null || return 0
        sleep 0.05
    done
    kill -KILL "$p" 2>/dev/null || true
}

cmd=${1:-}
dir=${2:-}
[ -n "$dir" ] || usage

case $cmd in
    start)  [ $# -eq 3 ] || usage; start "$3" ;;
    stop)   stop ;;
    status) pid > /dev/null ;;
    *)      usage ;;
esac
