# Sourced by .ci/pg.sh and .ci/redis.sh, which set $svc (their name for
# messages): the "<cmd> <dir> [<port>]" checks they share.

die() { echo "$svc: $*" >&2; exit 1; }

usage() {
    echo "usage: $0 start <dir> <port> | stop <dir> | status <dir>" >&2
    exit 2
}

# start's first steps: checks the port, creates $dir and makes it absolute
start_dir() {
    case $1 in
        ''|*[!0-9]*) die "bad port '$1'" ;;
    esac

    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
}
