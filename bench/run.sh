#!/usr/bin/env bash
# The benchmark suite: every scenario of shared/notes/performance.md against
# our nginx module and the reference ShareDB server, side by side.
#
#   bench/run.sh            full suite (make bench), 3 runs per figure
#   bench/run.sh --quick    a subset in under 2 minutes (make bench-quick)
#
# Environment: BENCH_RUNS (3), BENCH_SERVERS ("ref ours"), BENCH_DIR
# (/tmp/collab-bench), BENCH_REF_REPLAY_OPS (20000: the reference replays
# about 260 ops/s, so the full automerge-paper trace would take ~17 minutes
# a run; "all" replays it whole), BENCH_OURS_REPLAY_OPS (all), BENCH_PORT_BASE
# (26000), BENCH_ONLY (snapshot: only the REST snapshot scenario, with wrk;
# coldread: only the cold reads, with and without collab_cache; soak: the
# soak of `make soak`, see soak() below),
# BENCH_COLD_DOCS (5000 documents read once each per run).
#
# Starts PostgreSQL, Redis, the reference server (Node) and nginx on
# 127.0.0.1:26xxx, appends one JSON line per run to build/bench/results.jsonl,
# prints the table and writes docs/benchmarks.md and docs/bench-latency.png.
# Everything it started is stopped on exit.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

quick=0
[ "${1:-}" = "--quick" ] && quick=1

runs=${BENCH_RUNS:-3}
[ $quick = 1 ] && runs=${BENCH_RUNS:-1}
servers=${BENCH_SERVERS:-ref ours}
dir=${BENCH_DIR:-/tmp/collab-bench}
base=${BENCH_PORT_BASE:-26000}
ref_replay=${BENCH_REF_REPLAY_OPS:-20000}
ours_replay=${BENCH_OURS_REPLAY_OPS:-all}
[ $quick = 1 ] && ref_replay=2000 && ours_replay=2000
pg_port=$((base + 1))
redis_port=$((base + 2))
ref_port=$((base + 80))
ours_port=$((base + 90))
out=$top/build/bench
lg=$out/collab_loadgen
# readers see the public form of a writer's src: the load generator maps it
export COLLAB_SRC_SECRET=bench-src-secret-0123456789
results=$out/results.jsonl
# a BENCH_ONLY run leaves the full results and docs/benchmarks.md alone
[ -n "${BENCH_ONLY:-}" ] && results=$out/results-$BENCH_ONLY.jsonl
traces=${COLLAB_TRACES:-$top/../shared/traces}
[ -d "$traces" ] || traces=/work/shared/traces

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }

# -- dependencies -----------------------------------------------------------

deps() {
    if ! command -v gnuplot > /dev/null; then
        log "installing gnuplot-nox (plot of docs/bench-latency.png)"
        if [ "$(id -u)" -eq 0 ]; then
            apt-get install -y -q gnuplot-nox > /dev/null 2>&1 \
                || { apt-get update -q > /dev/null \
                     && apt-get install -y -q gnuplot-nox > /dev/null; } \
                || log "gnuplot-nox could not be installed: no plot"
        fi
    fi
    if ! command -v wrk > /dev/null; then
        log "installing wrk (REST snapshot reads against a static file)"
        if [ "$(id -u)" -eq 0 ]; then
            apt-get install -y -q wrk > /dev/null 2>&1 \
                || { apt-get update -q > /dev/null \
                     && apt-get install -y -q wrk > /dev/null; } \
                || log "wrk could not be installed: no snapshot figures"
        fi
    fi
    if [ ! -d bench/reference/node_modules/sharedb ]; then
        log "npm ci in bench/reference"
        (cd bench/reference && npm ci --no-audit --no-fund > /dev/null)
    fi
    mkdir -p "$out"
    ${CC:-cc} -std=gnu99 -O2 -g -Wall -Wextra -Werror -o "$lg" \
        bench/loadgen/*.c -lyajl -lcrypto
}

# -- servers -----------------------------------------------------------------

ref_pid=
nginx_prefix=$dir/nginx

start_store() {
    mkdir -p "$dir"
    chmod 755 "$dir"
    conninfo=$(bash .ci/pg.sh start "$dir/pg" "$pg_port" | tail -1)
    redis=$(bash .ci/redis.sh start "$dir/redis" "$redis_port" | tail -1)
    if ! psql -X -qtA -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres \
            -c "select 1 from pg_database where datname = 'sharedb_ref'" \
            | grep -q 1; then
        psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres \
            -c "CREATE DATABASE sharedb_ref OWNER collab"
        psql -X -q -h 127.0.0.1 -p "$pg_port" -U collab -d sharedb_ref \
            -f bench/reference/node_modules/sharedb-postgres/structure.sql \
            > /dev/null
    fi
}

start_ref() {
    (cd bench/reference && exec node server.js --port "$ref_port" \
        --pg "postgres://collab@127.0.0.1:$pg_port/sharedb_ref" \
        --redis "redis://127.0.0.1:$redis_port/1") > "$dir/ref.log" 2>&1 &
    ref_pid=$!
    for _ in $(seq 1 50); do
        grep -q listening "$dir/ref.log" 2>/dev/null && return 0
        sleep 0.1
    done
    die "the reference server did not start: $(tail -5 "$dir/ref.log")"
}

nginx_pid() {
    local p
    p=$(cat "$nginx_prefix/logs/nginx.pid" 2>/dev/null) || return 1
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"
}

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# an HS256 key and a token for it (one user, valid for a day): what the
# *_auth scenarios send on the upgrade of /ws-auth
make_token() {
    local h p now
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' \
        > "$nginx_prefix/conf/bench-hs256.key"
    now=$(date +%s)
    h=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
    p=$(printf '{"sub":"bench","name":"Bench","iat":%d,"exp":%d}' \
        "$now" $((now + 86400)) | b64url)
    auth_token="$h.$p.$(printf '%s' "$h.$p" \
        | openssl dgst -sha256 -binary \
              -hmac "$(cat "$nginx_prefix/conf/bench-hs256.key")" | b64url)"
}

start_ours() {
    if ! make -s module > "$dir/module.log" 2>&1 \
        || [ ! -f build/ngx_http_collab_module.so ]; then
        log "our module does not build yet (see $dir/module.log)"
        return 1
    fi
    mkdir -p "$nginx_prefix/conf" "$nginx_prefix/logs" "$nginx_prefix/tmp"
    make_token
    cat > "$nginx_prefix/conf/nginx.conf" <<EOF
load_module $top/build/ngx_http_collab_module.so;
worker_processes 2;
worker_rlimit_nofile 20000;
error_log $nginx_prefix/logs/error.log warn;
pid $nginx_prefix/logs/nginx.pid;
events {
    worker_connections 19000;
}
http {
    access_log off;
    client_body_temp_path $nginx_prefix/tmp/body;
    proxy_temp_path $nginx_prefix/tmp/proxy;
    fastcgi_temp_path $nginx_prefix/tmp/fastcgi;
    uwsgi_temp_path $nginx_prefix/tmp/uwsgi;
    scgi_temp_path $nginx_prefix/tmp/scgi;
    collab_postgres "$conninfo";
    collab_redis $redis;
    collab_src_secret $COLLAB_SRC_SECRET;
    collab_cache ${ours_cache:-off};
    server {
        listen 127.0.0.1:$ours_port reuseport backlog=4096;
        location /ws {
            collab_websocket;
        }
        # the same endpoint with tokens and roles (the *_auth scenarios)
        location /ws-auth {
            collab_websocket;
            collab_auth_jwt on;
            collab_auth_jwt_key_file HS256 $nginx_prefix/conf/bench-hs256.key;
        }
        location /api/ {
            collab_api;
        }
        location /static/ {
            root $nginx_prefix/html;
            sendfile on;
        }
        location = /collab_status {
            allow 127.0.0.1;
            deny all;
            collab_status;
        }
    }
}
EOF
    /usr/sbin/nginx -p "$nginx_prefix/" -c "$nginx_prefix/conf/nginx.conf" \
        -e "$nginx_prefix/logs/error.log" || return 1
    sleep 0.5
    # it takes part only if it speaks the protocol: one writer, one second
    if ! "$lg" --port "$ours_port" --writers 1 --duration 1 --warmup 0.2 \
            --timeout 15 > "$dir/ours-probe.json" 2>&1 \
        || ! grep -q '"acks":[1-9]' "$dir/ours-probe.json"; then
        log "our server does not answer the protocol yet:" \
            "$(tail -3 "$dir/ours-probe.json")"
        stop_ours
        return 1
    fi
}

stop_ours() {
    local p
    p=$(nginx_pid) || return 0
    kill -QUIT "$p" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null || true
}

stop_all() {
    stop_ours
    if [ -n "$ref_pid" ]; then kill "$ref_pid" 2>/dev/null || true; fi
    bash .ci/redis.sh stop "$dir/redis" || true
    bash .ci/pg.sh stop "$dir/pg" || true
}

restart() {
    if [ "$1" = ref ]; then
        kill "$ref_pid" 2>/dev/null || true
        wait "$ref_pid" 2>/dev/null || true
        start_ref
    else
        stop_ours
        start_ours
    fi
}

port_of() { [ "$1" = ref ] && echo "$ref_port" || echo "$ours_port"; }

# the server's processes: the Node process, or the nginx workers
server_pids() {
    if [ "$1" = ref ]; then
        echo "$ref_pid"
    else
        pgrep -P "$(nginx_pid)" | tr '\n' ' '
    fi
}

rss_kb() {
    local t=0 p
    for p in $*; do
        t=$((t + $(awk '/^VmRSS/ { print $2 }' "/proc/$p/status")))
    done
    echo $t
}

cpu_ticks() {
    local t=0 p
    for p in $*; do
        t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
    done
    echo $t
}

# -- scenarios ----------------------------------------------------------------

# run <scenario> <server> <run> <loadgen args...>: one JSON line
run() {
    local sc=$1 srv=$2 n=$3 line staged=0
    shift 3
    # ours: where the time of its commits went, from collab_status
    if [ "$srv" = ours ] && node bench/lib/stages.js snap "$ours_port" 2 \
           "$dir/stages0.json" 2> /dev/null; then
        staged=1
    fi
    line=$("$lg" --port "$(port_of "$srv")" --label "$sc" "$@" \
           2> "$dir/lg.err") || true
    if [ $staged = 1 ] \
       && node bench/lib/stages.js snap "$ours_port" 2 "$dir/stages1.json" \
           2> /dev/null; then
        node bench/lib/stages.js diff "$dir/stages0.json" \
            "$dir/stages1.json" "$sc" >> "$dir/stages.jsonl" || true
    fi
    if [ -z "$line" ]; then
        line='{"failed":true}'
        log "$sc/$srv run $n failed: $(tail -2 "$dir/lg.err")"
    fi
    echo "{\"scenario\":\"$sc\",\"server\":\"$srv\",\"run\":$n,${line#\{}" \
        >> "$results"
    echo "$line" | sed -e 's/"delivery":{"n":0[^}]*},//' \
        | cut -c1-220 >&2
}

# idle <server> <run> <connections>: two load generator processes (the
# open-file limit is 20,000 a process) on 16 source addresses
idle() {
    local srv=$1 n=$2 conns=$3 pids rss0 rss1 cpu0 cpu1 half i hz
    # fresh processes: the bursts before leave heaps that idle sockets
    # would fill for free, which would flatter the figure
    restart "$srv" || { log "idle/$srv: restart failed"; return; }
    pids=$(server_pids "$srv")
    sleep 1
    rss0=$(rss_kb $pids)
    half=$((conns / 2))
    for i in 0 1; do
        "$lg" --mode idle --port "$(port_of "$srv")" --conns "$half" \
            --hold 12 --src-addrs 8 --src-base $((2 + 8 * i)) \
            --max-pending 512 --label idle > "$dir/idle$i.json" \
            2> "$dir/idle$i.err" &
        eval "lgpid$i=$!"
    done
    for _ in $(seq 1 600); do
        [ "$(cat "$dir"/idle[01].err | grep -c '^ready')" = 2 ] && break
        sleep 0.1
    done
    sleep 2
    rss1=$(rss_kb $pids)
    hz=$(getconf CLK_TCK)
    cpu0=$(cpu_ticks $pids)
    sleep 5
    cpu1=$(cpu_ticks $pids)
    wait "$lgpid0" "$lgpid1" || true
    connected=$(cat "$dir"/idle[01].json 2>/dev/null \
        | sed -n 's/.*"connected":\([0-9]*\).*/\1/p' \
        | awk '{ s += $1 } END { print s + 0 }')
    awk -v srv="$srv" -v n="$n" -v conns="$conns" -v c="$connected" \
        -v r0="$rss0" -v r1="$rss1" -v c0="$cpu0" -v c1="$cpu1" -v hz="$hz" \
        'BEGIN {
            f = "{\"scenario\":\"idle\",\"server\":\"%s\",\"run\":%d,"
            f = f "\"conns\":%d,\"connected\":%d,\"rss_before_kb\":%d,"
            f = f "\"rss_after_kb\":%d,\"kib_per_conn\":%.2f,"
            f = f "\"idle_cpu_pct\":%.2f}\n"
            per = 0
            if (c > 0) per = (r1 - r0) / c
            printf f, srv, n, conns, c, r0, r1, per, (c1 - c0) * 100 / hz / 5
        }' \
        >> "$results"
    tail -1 "$results" >&2
    sleep 2
}

# pg_floor <run>: PostgreSQL's own single-client commit rate in this
# session (pgbench, one single-row INSERT per transaction, commits synced
# like ours), what "one op per ack" is measured against
pg_floor() {
    local n=$1 dur=5 out tps lat
    [ $quick = 1 ] && dur=3
    psql -X -q "$conninfo" -c "CREATE TABLE IF NOT EXISTS bench_floor
        (id bigserial PRIMARY KEY, v int)" > /dev/null 2>&1 || return 0
    echo 'INSERT INTO bench_floor (v) VALUES (1);' > "$dir/floor.sql"
    out=$(pgbench -n -M prepared -c 1 -T "$dur" -f "$dir/floor.sql" \
          "$conninfo" 2>&1) || { log "pgbench failed: $out"; return 0; }
    tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    lat=$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')
    [ -n "$tps" ] || return 0
    echo "{\"scenario\":\"pg_floor\",\"server\":\"pg\",\"run\":$n,\"tps\":$tps,\"latency_ms\":${lat:-0}}" \
        >> "$results"
    tail -1 "$results" >&2
}

# the ~10 KB document of the snapshot scenario, created once through the
# WebSocket; its REST body, byte for byte, becomes the static file
snapshot_doc=snap10k
snapshot_setup() {
    local body=$nginx_prefix/html/static/$snapshot_doc.json
    (cd bench/reference && node - "$ours_port" "$snapshot_doc" 10240) <<'JS'
const WebSocket = require('ws');
const ShareDB = require('sharedb/lib/client');
ShareDB.types.register(require('ot-text-unicode').type);
const [port, id, size] = process.argv.slice(2);
const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
const doc = new ShareDB.Connection(ws).get('bench', id);
let text = '';
for (let i = 0; Buffer.byteLength(text) < Number(size); i++) {
  text += `${i}: the quick brown fox jumps over the lazy dog, "naïve café" ` +
    '漢字 😀\n';
}
const done = (e) => {
  if (e) { console.error(e); process.exit(1); }
  process.exit(0);
};
doc.fetch((e) => {
  if (e || doc.type) return done(e);
  doc.create(text, 'http://sharejs.org/types/text-unicode', done);
});
JS
    mkdir -p "$nginx_prefix/html/static"
    curl -sf -o "$body" "http://127.0.0.1:$ours_port/api/bench/$snapshot_doc"
}

# wrk_rps <url> <seconds> <out>: requests/s, or nothing if any failed
wrk_rps() {
    wrk -t2 -c64 -d"$2"s --latency "$1" > "$3" 2>&1 || return 0
    grep -q 'Non-2xx' "$3" && return 0
    awk '/^Requests\/sec:/ { print $2 }' "$3"
}

# snapshot <run> <seconds>: GET /api/bench/snap10k against the same bytes
# as a static file from the same nginx, with wrk (2 threads, 64 keep-alive
# connections) in alternating slices of 1 s (quick) or 2 s, about <seconds>
# on each, so that drift on a shared machine hits both; the reference has
# no REST snapshot
snapshot() {
    local n=$1 dur=$2 slice=2 k i api st a s bytes
    command -v wrk > /dev/null || { log "no wrk: snapshot skipped"; return; }
    if [ ! -s "$nginx_prefix/html/static/$snapshot_doc.json" ]; then
        snapshot_setup || { log "snapshot document setup failed"; return; }
    fi
    bytes=$(stat -c %s "$nginx_prefix/html/static/$snapshot_doc.json")
    [ $quick = 1 ] && slice=1
    k=$(( (dur + slice - 1) / slice ))
    api=
    st=
    for i in $(seq 1 "$k"); do
        a=$(wrk_rps "http://127.0.0.1:$ours_port/api/bench/$snapshot_doc" \
            "$slice" "$dir/wrk-api.txt")
        s=$(wrk_rps "http://127.0.0.1:$ours_port/static/$snapshot_doc.json" \
            "$slice" "$dir/wrk-static.txt")
        if [ -z "$a" ] || [ -z "$s" ]; then
            log "snapshot run $n failed: $(tail -3 "$dir"/wrk-*.txt)"
            echo "{\"scenario\":\"snapshot\",\"server\":\"ours\",\"run\":$n,\"failed\":true}" \
                >> "$results"
            return
        fi
        api="$api $a"
        st="$st $s"
    done
    awk -v n="$n" -v a="$api" -v s="$st" -v b="$bytes" 'BEGIN {
        k = split(a, as, " "); split(s, ss, " ")
        for (i = 1; i <= k; i++) { ta += as[i]; ts += ss[i] }
        f = "{\"scenario\":\"snapshot\",\"server\":\"ours\",\"run\":%d,"
        f = f "\"bytes\":%d,\"slices\":%d,\"rps\":%.0f,\"static_rps\":%.0f,"
        f = f "\"ratio_pct\":%.1f}\n"
        printf f, n, b, k, ta / k, ts / k, ta * 100 / ts
    }' >> "$results"
    tail -1 "$results" >&2
}

# coldread <run>: REST reads of documents no worker holds (each read once,
# right after a restart), with collab_cache off and on: reads/s and the
# statements the workers sent PostgreSQL for them
cold_docs=${BENCH_COLD_DOCS:-5000}
coldread() {
    local n=$1 c line js=$top/bench/lib/coldread.js col=cold$$r$1
    export NODE_PATH=$top/t/js/node_modules
    for c in on off on; do
        stop_ours
        ours_cache=$c
        start_ours || { log "coldread: restart failed"; return; }
        if [ -n "$col" ]; then
            # a new collection, written with the cache on: Redis has it
            node "$js" create "$ours_port" "$cold_docs" "$col" \
                || { log "coldread: creating documents failed"; return; }
            cold_col=$col
            col=
            continue
        fi
        line=$(node "$js" read "$ours_port" "$cold_docs" "$cold_col") \
            || { log "coldread: reads failed"; return; }
        echo "{\"scenario\":\"coldread_$c\",\"server\":\"ours\",\"run\":$n,${line#\{}" \
            >> "$results"
        tail -1 "$results" >&2
    done
    stop_ours
    ours_cache=off
    start_ours || log "coldread: restart failed"
}

# soak <run> (`make soak`): SOAK_DOCS documents (200), SOAK_CONNS
# connections (2,000) of which 5% type SOAK_RATE ops/s (2) each and the
# rest read, plus SOAK_IDLE idle connections (20,000), for SOAK_SECONDS
# (600). Every 10 s the workers' RSS and PostgreSQL's connections are
# sampled; at the end the op log is counted against the acks.
soak() {
    local n=$1 secs=${SOAK_SECONDS:-600} docs=${SOAK_DOCS:-200}
    local conns=${SOAK_CONNS:-2000} idle=${SOAK_IDLE:-20000}
    local rate=${SOAK_RATE:-2} writers readers pids col=soak$$r$1 i lgpid
    local logged pgmax
    writers=$((conns / 20))
    readers=$((conns - writers))
    restart ours || { log "soak: restart failed"; return; }
    pids=$(server_pids ours)
    for i in 0 1; do
        "$lg" --mode idle --port "$ours_port" --conns $((idle / 2)) \
            --hold $((secs + 40)) --src-addrs 8 --src-base $((2 + 8 * i)) \
            --max-pending 512 --label soak_idle > "$dir/soak_idle$i.json" \
            2> "$dir/soak_idle$i.err" &
    done
    for _ in $(seq 1 600); do
        [ "$(cat "$dir"/soak_idle[01].err | grep -c '^ready')" = 2 ] && break
        sleep 0.1
    done
    log "soak: $idle idle connections up; $writers writers and $readers" \
        "readers on $docs documents for $secs s"
    "$lg" --port "$ours_port" --docs "$docs" --writers "$writers" \
        --readers "$readers" --rate "$rate" --warmup 10 --duration "$secs" \
        --max-pending 512 --src-addrs 4 --src-base 20 --collection "$col" \
        --label soak > "$dir/soak.json" 2> "$dir/soak.err" &
    lgpid=$!
    : > "$dir/soak.samples"
    while kill -0 "$lgpid" 2> /dev/null; do
        echo "$(date +%s) $(rss_kb $pids) $(psql -X -qtA "$conninfo" -c \
            "SELECT count(*) FROM pg_stat_activity WHERE datname = \
             current_database()" 2> /dev/null || echo 0)" \
            >> "$dir/soak.samples"
        sleep 10
    done
    wait "$lgpid" || true
    logged=$(psql -X -qtA "$conninfo" -c "SELECT count(*) FROM collab_ops o
        JOIN collab_docs d ON d.id = o.doc WHERE d.collection = '$col'")
    pgmax=$(awk '{ if ($3 > m) m = $3 } END { print m + 0 }' \
        "$dir/soak.samples")
    # RSS after the warm-up (the documents' op rings fill in the first
    # minutes: the sample at 40% of the run) against the last one
    awk -v n="$n" -v logged="$logged" -v pgmax="$pgmax" \
        -v lg="$(head -1 "$dir/soak.json")" '
        { rss[NR] = $2 }
        END {
            w = int(NR * 0.4); if (w < 1) w = 1
            first = rss[w]; last = rss[NR]; max = 0
            for (i = w; i <= NR; i++) if (rss[i] > max) max = rss[i]
            sub(/^\{/, "", lg)
            printf "{\"scenario\":\"soak\",\"server\":\"ours\",\"run\":%d,", n
            printf "\"rss_warm_kb\":%d,\"rss_last_kb\":%d,\"rss_max_kb\":%d,",
                first, last, max
            printf "\"rss_growth_pct\":%.2f,\"pg_conns_max\":%d,",
                first ? (last - first) * 100 / first : 0, pgmax
            printf "\"ops_logged\":%d,\"samples\":%d,%s\n", logged, NR, lg
        }' "$dir/soak.samples" >> "$results"
    tail -1 "$results" >&2
    wait || true
}


scenarios() {
    local srv=$1 n=$2 dur=10 ops expect
    [ $quick = 1 ] && dur=3

    if [ "$srv" = ours ] && { [ $quick = 0 ] \
            || [ "${BENCH_ONLY:-}" = coldread ]; }; then
        [ "${BENCH_ONLY:-}" = snapshot ] || coldread "$n"
    fi
    [ "${BENCH_ONLY:-}" = coldread ] && return
    if [ "${BENCH_ONLY:-}" = soak ]; then
        [ "$srv" = ours ] && soak "$n"
        return
    fi

    if [ "$srv" = ours ]; then
        snapshot "$n" "$dur"
    fi
    [ "${BENCH_ONLY:-}" = snapshot ] && return

    run ack "$srv" "$n" --writers 10 --rate 5 --duration "$dur"
    # the same with a token verified per upgrade and a role per message
    # (the user creates the documents, so it owns them)
    if [ "$srv" = ours ]; then
        run ack_auth "$srv" "$n" --writers 10 --rate 5 --duration "$dur" \
            --path /ws-auth --token "$auth_token"
    fi
    for w in 1 10 50; do
        [ $quick = 1 ] && [ $w != 10 ] && continue
        run "hot$w" "$srv" "$n" --writers $w --duration $((dur / 2 + 1))
        if [ "$srv" = ours ] && [ $w = 10 ]; then
            run hot10_auth "$srv" "$n" --writers 10 \
                --duration $((dur / 2 + 1)) --path /ws-auth \
                --token "$auth_token"
        fi
    done
    if [ $quick = 0 ]; then
        run agg1000 "$srv" "$n" --docs 1000 --writers 1000 --nosub \
            --duration 5 --max-pending 128
    fi
    for r in 100 1000; do
        [ $quick = 1 ] && [ $r != 100 ] && continue
        run "fanout$r" "$srv" "$n" --writers 1 --rate 20 --readers $r \
            --duration "$dur" --src-addrs 4
    done
    if [ $quick = 0 ]; then
        if [ "$srv" = ref ]; then
            idle "$srv" "$n" 19000
        else
            idle "$srv" "$n" 20000
        fi
    fi

    ops=$out/automerge-paper.ops
    expect=$out/automerge-paper.expect
    if [ $quick = 1 ]; then
        ops=$out/ap-2000.ops; expect=$out/ap-2000.expect
    elif [ "$srv" = ref ] && [ "$ref_replay" != all ]; then
        ops=$out/ap-$ref_replay.ops; expect=$out/ap-$ref_replay.expect
    elif [ "$srv" = ours ] && [ "$ours_replay" != all ]; then
        ops=$out/ap-$ours_replay.ops; expect=$out/ap-$ours_replay.expect
    fi
    run replay "$srv" "$n" --mode replay --ops "$ops" --expect "$expect"
}

# ack latency against offered load, for the plot: 10 writers on one doc
sweep() {
    local srv=$1 r
    for r in 5 10 20 50 100 200 500; do
        run "sweep$r" "$srv" 1 --writers 10 --rate $r --duration 4
    done
}

# -- main ----------------------------------------------------------------------

deps
trap stop_all EXIT
trap 'exit 130' INT TERM

tr=$traces/automerge-paper.json.gz
node bench/lib/trace-ops.js "$tr" "$out/automerge-paper.ops" \
    "$out/automerge-paper.expect" > /dev/null
node bench/lib/trace-ops.js "$tr" "$out/ap-2000.ops" "$out/ap-2000.expect" \
    2000 > /dev/null
for n in $ref_replay $ours_replay; do
    [ "$n" = all ] || [ -f "$out/ap-$n.ops" ] \
        || node bench/lib/trace-ops.js "$tr" "$out/ap-$n.ops" \
               "$out/ap-$n.expect" "$n" > /dev/null
done

: > "$results"
start_store
: > "$dir/stages.jsonl"
active=
for s in $servers; do
    case $s in
        ref)  start_ref && active="$active ref" ;;
        ours) start_ours && active="$active ours" ;;
    esac
done
[ -n "$active" ] || die "no server to measure"
log "servers:$active; $runs run(s) per figure; results in $results"

# runs alternate between the servers so drift on a shared machine hits both
for n in $(seq 1 "$runs"); do
    pg_floor "$n"
    for s in $active; do
        log "run $n on $s"
        scenarios "$s" "$n"
    done
done

if [ $quick = 0 ] && [ -z "${BENCH_ONLY:-}" ]; then
    for s in $active; do sweep "$s"; done
fi

ot=
if [ -z "${BENCH_ONLY:-}" ] && [ -f bench/ot/run.sh ]; then
    log "OT engine in-process (bench/ot/run.sh)"
    ot=$out/ot.txt
    bash bench/ot/run.sh > "$ot" 2>&1 || log "bench/ot/run.sh failed"
fi

node bench/lib/report.js --results "$results" --quick "$quick" \
    --runs "$runs" --ot "${ot:-}" --servers "$active" \
    --ref-replay "$ref_replay" --ours-replay "$ours_replay" \
    --stages-dir "$dir" \
    ${BENCH_ONLY:+--no-docs} --out-dir "$top/docs" --work "$out"
