#!/usr/bin/env bash
# The local dev stack behind `make run` / `make stop`.
#
#   .ci/stack.sh run      PostgreSQL 127.0.0.1:5433, Redis 127.0.0.1:6380,
#                         nginx 127.0.0.1:8080 (2 workers) with a config made
#                         from nginx.conf.example; stays in the foreground
#                         tailing the error log, Ctrl-C stops everything
#                         (it also returns when `stop` ran elsewhere)
#   .ci/stack.sh start    the same, but returns once everything is up
#   .ci/stack.sh stop     stop everything
#   .ci/stack.sh status   what is running
#
# State lives in $COLLAB_DEV_DIR (default /tmp/collab-dev); ports can be
# changed with COLLAB_PG_PORT, COLLAB_REDIS_PORT, COLLAB_HTTP_PORT.
# Running it again while it runs reuses PostgreSQL and Redis and restarts
# nginx with a fresh config and module.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dev=${COLLAB_DEV_DIR:-/tmp/collab-dev}
pg_port=${COLLAB_PG_PORT:-5433}
redis_port=${COLLAB_REDIS_PORT:-6380}
http_port=${COLLAB_HTTP_PORT:-8080}
workers=${COLLAB_WORKERS:-2}
nginx=${COLLAB_NGINX:-/usr/sbin/nginx}
module=$top/build/ngx_http_collab_module.so
ngx=$dev/nginx

die() { echo "stack: $*" >&2; exit 1; }

nginx_pid() {
    local p
    p=$(cat "$ngx/logs/nginx.pid" 2>/dev/null) || return 1
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"
}

nginx_cmd() {
    "$nginx" -p "$ngx/" -c "$ngx/conf/nginx.conf" -e "$ngx/logs/error.log" \
        "$@"
}

# sed-escape a replacement string
esc() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }

# collab_src_secret: made once, kept with the local data
src_secret() {
    local f=$dev/src-secret

    if [ ! -s "$f" ]; then
        mkdir -p "$dev"
        (umask 077; od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$f")
    fi
    cat "$f"
}

# the HS256 secret of the built-in sign-in: made once, kept with the data
jwt_key() {
    local f=$dev/jwt-hs256.key

    if [ ! -s "$f" ]; then
        mkdir -p "$dev"
        (umask 077; od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$f")
    fi
    echo "$f"
}

make_config() {
    local web=$top/web conninfo=$1 redis=$2

    [ -d "$top/web/dist" ] && web=$top/web/dist
    mkdir -p "$ngx/conf" "$ngx/logs" "$ngx/tmp"

    sed -e "s|@MODULE@|$(esc "$module")|g" \
        -e "s|@PREFIX@|$(esc "$ngx")|g" \
        -e "s|@PORT@|$http_port|g" \
        -e "s|@WORKERS@|$workers|g" \
        -e "s|@PG@|$(esc "$conninfo")|g" \
        -e "s|@REDIS@|$(esc "$redis")|g" \
        -e "s|@WEB_ROOT@|$(esc "$web")|g" \
        -e "s|@SRC_SECRET@|$(esc "$(src_secret)")|g" \
        -e "s|@JWT_KEY@|$(esc "$(jwt_key)")|g" \
        -e "s|@SIGNUP@|on|g" \
        "$top/nginx.conf.example" > "$ngx/conf/nginx.conf.new"
    mv "$ngx/conf/nginx.conf.new" "$ngx/conf/nginx.conf"
}

demo_user=demo
demo_password=collab-demo

# the README's demo user, signed up once (409 afterwards: it exists)
demo_user() {
    local code i

    for i in $(seq 1 50); do
        code=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
               -H 'Content-Type: application/json' \
               -d "{\"user\":\"$demo_user\",\"password\":\"$demo_password\",\"name\":\"Demo User\"}" \
               "http://127.0.0.1:$http_port/auth/signup") || code=000
        case $code in
            200|409) return 0 ;;
            503|000) sleep 0.2 ;;
            *) echo "stack: demo user sign-up answered $code" >&2; return 0 ;;
        esac
    done
    echo "stack: demo user not made (PostgreSQL not ready?)" >&2
}

start() {
    local conninfo redis pid

    [ -f "$module" ] || die "$module is missing: run make module"

    # the editor's bundle
    if [ ! -f "$top/web/dist/index.html" ] && [ -f "$top/web/build.mjs" ]
    then
        echo "stack: building web/dist"
        (cd "$top/web" && node build.mjs) || die "web build failed"
    fi
    mkdir -p "$dev"
    chmod 755 "$dev"

    conninfo=$(bash "$top/.ci/pg.sh" start "$dev/pg" "$pg_port" | tail -1)
    redis=$(bash "$top/.ci/redis.sh" start "$dev/redis" "$redis_port" \
            | tail -1)

    make_config "$conninfo" "$redis"
    nginx_cmd -t -q || die "nginx -t failed for $ngx/conf/nginx.conf"

    if pid=$(nginx_pid); then
        # a reload (HUP) would keep the already loaded .so: dlopen() of
        # the same path returns the old copy, so restart to run new code
        kill -QUIT "$pid"
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2> /dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2> /dev/null && kill -KILL "$pid"
        echo "stack: nginx $pid stopped to load the rebuilt module"
    fi
    nginx_cmd || die "nginx did not start; see $ngx/logs/error.log"
    demo_user

    cat <<EOF

  editor         http://127.0.0.1:$http_port/
  sign in        user $demo_user, password $demo_password (or create an
                 account on the sign-in page)
  signing key    $(jwt_key)   (HS256, collab_auth_jwt)
  WebSocket      ws://127.0.0.1:$http_port/ws   (ShareDB protocol 1.2)
  PostgreSQL     $conninfo
                 psql "$conninfo"
                 log: $dev/pg/postgres.log
  Redis          $redis    (redis-cli -p $redis_port)
  nginx config   $ngx/conf/nginx.conf
  nginx logs     $ngx/logs/error.log  $ngx/logs/access.log
  stop           make stop

EOF
}

stop() {
    local pid i

    if pid=$(nginx_pid); then
        kill -QUIT "$pid"
        for i in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        echo "stack: nginx stopped"
    fi
    bash "$top/.ci/redis.sh" stop "$dev/redis"
    bash "$top/.ci/pg.sh" stop "$dev/pg"
    echo "stack: stopped (state kept in $dev; rm -rf it for a fresh" \
         "database)"
}

status() {
    local rc=0 pid

    if pid=$(nginx_pid); then
        echo "nginx       running (pid $pid) on 127.0.0.1:$http_port"
    else
        echo "nginx       stopped"; rc=1
    fi
    if bash "$top/.ci/pg.sh" status "$dev/pg"; then
        echo "postgresql  running on 127.0.0.1:$pg_port"
    else
        echo "postgresql  stopped"; rc=1
    fi
    if bash "$top/.ci/redis.sh" status "$dev/redis"; then
        echo "redis       running on 127.0.0.1:$redis_port"
    else
        echo "redis       stopped"; rc=1
    fi
    return $rc
}

run() {
    start
    tailpid=
    trap 'trap - INT TERM; [ -n "$tailpid" ] && kill "$tailpid" 2>/dev/null;
          echo; stop; exit 0' INT TERM
    echo "stack: following $ngx/logs/error.log (Ctrl-C stops everything)"
    tail -n 0 -F "$ngx/logs/error.log" &
    tailpid=$!

    # until Ctrl-C, or until nginx is gone: `make stop` from another
    # terminal must not leave this script and its tail behind
    while nginx_pid > /dev/null; do
        sleep 1
    done

    trap - INT TERM
    kill "$tailpid" 2>/dev/null || true
    echo "stack: nginx is gone (make stop?), not following any more"
}

case ${1:-} in
    run)    run ;;
    start)  start ;;
    stop)   stop ;;
    status) status ;;
    *)      echo "usage: $0 run|start|stop|status" >&2; exit 2 ;;
esac
