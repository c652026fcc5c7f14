# shellcheck shell=bash disable=SC2154,SC2034
# (name, top: set by the sourcing script; COMPOSE, DOCKER: used by it)
# Sourced by .ci/test-docker.sh and .ci/test-deb.sh: make sure a Docker
# engine runs (start dockerd by hand when it does not: no systemd here),
# or say plainly why the test is skipped.  Sets DOCKER (a client that can
# build with BuildKit), COMPOSE, and stops a dockerd it started on exit.
#
# A machine without Docker skips (exit 0 with "skipped: <reason>"); once
# the engine runs, every failure is a failure.

skip() {
    echo "$name: skipped: $*"
    exit 0
}

dockerd_pid=
docker_cleanup() {
    if [ -n "$dockerd_pid" ]; then
        kill "$dockerd_pid" 2> /dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$dockerd_pid" 2> /dev/null || break
            sleep 0.2
        done
        dockerd_pid=
    fi
}

docker_start() {
    local log="$top/build/docker/dockerd.log"

    mkdir -p "$top/build/docker"
    [ "${COLLAB_NO_DOCKER:-0}" = 1 ] && skip "COLLAB_NO_DOCKER=1"
    if ! bash "$top/.ci/deps.sh" docker > "$top/build/docker/deps.log" 2>&1
    then
        skip "the Docker packages could not be installed" \
             "($(tail -1 "$top/build/docker/deps.log"))"
    fi

    # Debian's client (20.10) builds with the daemon's BuildKit; a newer
    # client needs the buildx plugin for that
    DOCKER=docker
    if ! docker buildx version > /dev/null 2>&1 && [ -x /usr/bin/docker ]
    then
        DOCKER=/usr/bin/docker
    fi
    export DOCKER_BUILDKIT=1

    if ! "$DOCKER" info > /dev/null 2>&1; then
        command -v dockerd > /dev/null || skip "no dockerd"
        [ "$(id -u)" -eq 0 ] || skip "no engine running and not root"
        echo "$name: starting dockerd (log $log)"
        dockerd > "$log" 2>&1 &
        dockerd_pid=$!
        for _ in $(seq 1 60); do
            "$DOCKER" info > /dev/null 2>&1 && break
            kill -0 "$dockerd_pid" 2> /dev/null || break
            sleep 0.5
        done
        if ! "$DOCKER" info > /dev/null 2>&1; then
            docker_cleanup
            skip "dockerd does not start here ($(tail -1 "$log"))"
        fi
    fi

    if command -v docker-compose > /dev/null; then
        COMPOSE=(docker-compose)
    elif docker compose version > /dev/null 2>&1; then
        COMPOSE=(docker compose)
    else
        skip "no docker-compose"
    fi
}

# build BASE (docker/base-image.sh, cached) and one image of ours on it
docker_base() {
    BASE=${BASE:-$(bash "$top/docker/base-image.sh")}
    export BASE
}

docker_build() {
    local tag=$1 log="$top/build/docker/build-$1.log"
    shift
    if ! "$DOCKER" build --progress=plain --build-arg BASE="$BASE" \
             -t "$tag" "$@" "$top" > "$log" 2>&1; then
        tail -40 "$log"
        echo "$name: docker build of $tag failed (log $log)" >&2
        return 1
    fi
}

free_port() {
    perl -MIO::Socket::INET -e \
        'print IO::Socket::INET->new(LocalAddr => "127.0.0.1",
                                     LocalPort => 0, Listen => 1)->sockport'
}
