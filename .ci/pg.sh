#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for tests and the dev stack.
#
#   .ci/pg.sh start <dir> <port>   initdb (once) + start on 127.0.0.1:<port>,
#                                  create role and database "collab", apply
#                                  sql/[0-9]*.sql not applied yet; the last
#                                  line on stdout is the libpq conninfo
#   .ci/pg.sh stop <dir>           fast shutdown (no error if not running)
#   .ci/pg.sh status <dir>         exit 0 if running
#   .ci/pg.sh standby <dir> <port> <primary port>
#                                  a streaming replica of the cluster on
#                                  <primary port> (pg_basebackup -R), started
#                                  on <port>; the last line is its conninfo
#   .ci/pg.sh promote <dir>        the replica becomes a primary
#   .ci/pg.sh crash <dir>          immediate shutdown (as a crash: no
#                                  checkpoint, clients cut off)
#
# As root the server runs as "postgres" (runuser), so <dir> must not live
# under the checkout (which postgres may not be able to read).  fsync and
# synchronous_commit keep their defaults (on): tests see real commit costs.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
svc=pg.sh
. "$top/.ci/svc-lib.sh"

sqldir=${COLLAB_SQL_DIR:-$top/sql}

pgbin=${PG_BIN:-}
if [ -z "$pgbin" ]; then
    for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        if [ -x "$d/pg_ctl" ]; then pgbin=$d; break; fi
    done
fi
if [ -z "$pgbin" ] || [ ! -x "$pgbin/pg_ctl" ]; then
    die "PostgreSQL server binaries not found: apt-get install postgresql"
fi

# run a server-side command as the cluster owner
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

running() {
    [ -f "$data/postmaster.pid" ] \
        && as_owner "$pgbin/pg_ctl" -D "$data" status >/dev/null 2>&1
}

# the port a running cluster listens on (line 4 of postmaster.pid)
running_port() {
    sed -n 4p "$data/postmaster.pid" 2>/dev/null
}

conninfo() {
    echo "host=127.0.0.1 port=$1 dbname=collab user=collab"
}

# apply every sql/[0-9]*.sql in lexical order that was not applied before;
# $dir/applied.txt remembers "name md5" so a restart picks up new files
apply_sql() {
    local port=$1 f name sum old applied="$dir/applied.txt"

    touch "$applied"
    [ -d "$sqldir" ] || return 0
    for f in "$sqldir"/[0-9]*.sql; do
        [ -f "$f" ] || continue
        name=$(basename "$f")
        sum=$(md5sum < "$f" | cut -d' ' -f1)
        old=$(awk -v n="$name" '$1 == n { print $2 }' "$applied")
        if [ -n "$old" ]; then
            if [ "$old" != "$sum" ]; then
                echo "pg.sh: warning: sql/$name changed since it was" \
                     "applied to $dir; recreate the cluster:" \
                     "$0 stop $dir && rm -rf $dir" >&2
            fi
            continue
        fi
        psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" \
             -U collab -d collab -f "$f" >/dev/null \
            || die "applying sql/$name failed"
        echo "$name $sum" >> "$applied"
    done
}

start() {
    local port=$1 i

    start_dir "$port"
    data=$dir/data

    # unix socket path limit is ~107 bytes
    [ ${#dir} -le 80 ] || die "'$dir' is too long for a socket directory"

    if running; then
        # a stack started before a new sql/ file gets it now
        apply_sql "$(running_port)"
        conninfo "$(running_port)"
        return 0
    fi

    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$dir"
        runuser -u postgres -- test -w "$dir" \
            || die "user postgres cannot write '$dir' (a parent directory" \
                   "is not searchable); use a directory under /tmp"
    fi

    if [ ! -f "$data/PG_VERSION" ]; then
        rm -rf "$data"
        # --no-sync only skips syncing initdb's own files; the server keeps
        # fsync on
        as_owner "$pgbin/initdb" -D "$data" -U postgres -A trust \
            -E UTF8 --locale=C.UTF-8 --no-sync > "$dir/initdb.log" 2>&1 \
            || { tail -20 "$dir/initdb.log" >&2; die "initdb failed"; }
        as_owner tee -a "$data/postgresql.conf" > /dev/null <<EOF

# collab test cluster (.ci/pg.sh)
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 200
fsync = on
synchronous_commit = on
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
EOF
        rm -f "$dir/applied.txt"
        fresh=1
    fi

    as_owner "$pgbin/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 60 \
        -o "-p $port" start > /dev/null \
        || { tail -20 "$dir/postgres.log" >&2 || true; \
             die "pg_ctl start failed (port $port taken?)"; }

    for i in $(seq 1 50); do
        if psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
               -c 'select 1' > /dev/null 2>&1; then
            break
        fi
        sleep 0.1
    done

    if [ "${fresh:-0}" = 1 ] || ! psql -X -qtA -h 127.0.0.1 -p "$port" \
            -U postgres -d postgres \
            -c "select 1 from pg_database where datname = 'collab'" \
            | grep -q 1; then
        psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres \
             -d postgres > /dev/null <<'EOF' || die "creating role/db failed"
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'collab') THEN
        CREATE ROLE collab LOGIN;
    END IF;
END $$;
-- tests read settings such as data_directory
GRANT pg_read_all_settings TO collab;
CREATE DATABASE collab OWNER collab;
EOF
    fi

    apply_sql "$port"
    conninfo "$port"
}

stop() {
    [ -d "$dir" ] || return 0
    data=$(cd "$dir" && pwd)/data
    [ -f "$data/postmaster.pid" ] || return 0
    as_owner "$pgbin/pg_ctl" -D "$data" -m fast -w -t 60 stop \
        > /dev/null 2>&1 || true
    if running; then
        as_owner "$pgbin/pg_ctl" -D "$data" -m immediate -w stop \
            > /dev/null 2>&1 || true
    fi
}

standby() {
    local port=$1 primary=$2

    start_dir "$port"
    data=$dir/data
    [ ${#dir} -le 80 ] || die "'$dir' is too long for a socket directory"
    running && { conninfo "$(running_port)"; return 0; }

    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$dir"
    fi
    rm -rf "$data"
    as_owner "$pgbin/pg_basebackup" -h 127.0.0.1 -p "$primary" -U postgres \
        -D "$data" -R -X stream -c fast > "$dir/basebackup.log" 2>&1 \
        || { tail -20 "$dir/basebackup.log" >&2; die "pg_basebackup failed"; }
    # the copy has the primary's settings: its own socket directory and name
    as_owner tee -a "$data/postgresql.conf" > /dev/null <<EOF

# streaming replica of 127.0.0.1:$primary (.ci/pg.sh standby)
unix_socket_directories = '$dir'
cluster_name = 'standby$port'
EOF
    as_owner "$pgbin/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 60 \
        -o "-p $port" start > /dev/null \
        || { tail -20 "$dir/postgres.log" >&2 || true; \
             die "pg_ctl start of the standby failed"; }
    conninfo "$port"
}

promote() {
    as_owner "$pgbin/pg_ctl" -D "$data" -w -t 60 promote > /dev/null \
        || die "pg_ctl promote failed"
}

crash() {
    [ -f "$data/postmaster.pid" ] || return 0
    as_owner "$pgbin/pg_ctl" -D "$data" -m immediate -w stop \
        > /dev/null 2>&1 || true
}

cmd=${1:-}
dir=${2:-}
[ -n "$dir" ] || usage
data=$dir/data

case $cmd in
    start)  [ $# -eq 3 ] || usage; start "$3" ;;
    stop)   stop ;;
    status) running ;;
    standby) [ $# -eq 4 ] || usage; standby "$3" "$4" ;;
    promote) promote ;;
    crash)  crash ;;
    *)      usage ;;
esac
