#!/bin/sh
# A throwaway PostgreSQL cluster for the store's tests (issue 14): initdb in a temporary folder,
# listening on loopback only, on its own port, with its Unix socket in that folder.
#
#   Scripts/pg-cluster.sh run [--] COMMAND...   start a cluster, run COMMAND with PLEURA_TEST_PG_URL
#                                               set (and PLEURA_TEST_PG_BIN, PLEURA_TEST_PG_DATA),
#                                               stop the cluster and remove its folder; exits with
#                                               COMMAND's status
#   Scripts/pg-cluster.sh start DIR [PORT]      start one that stays (prints the URL); DIR must not exist
#   Scripts/pg-cluster.sh stop DIR              stop it and remove DIR
#   Scripts/pg-cluster.sh crash-restart DIR     pg_ctl restart -m immediate (no shutdown checkpoint:
#                                               crash recovery on start), for the restart tests
#
# initdb refuses to run as root: as root the cluster belongs to the `postgres` user that Debian's
# postgresql package creates (runuser). The superuser is `pleura`, trusted on the socket and on
# 127.0.0.1 only (a test cluster; no password exists to leak). PGBIN overrides the binaries' folder.
set -eu

PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
    echo "pleura: pg-cluster.sh: PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin); install the Debian package postgresql (make test does)" >&2
    exit 1
fi

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Runs pg_ctl as the cluster's owner with every descriptor above 2 closed. The server it starts
# must not keep the caller's descriptors: a parent that waits for them to close would wait as
# long as the server runs (Foundation's Process waits for a socket each child inherits, so a test
# starting a cluster hung in waitUntilExit until the server stopped). dash cannot name
# descriptors above 9, so bash closes them.
pg_ctl_detached() {
    if [ "$(id -u)" -eq 0 ]; then set -- runuser -u postgres -- "$PGBIN/pg_ctl" "$@"; else set -- "$PGBIN/pg_ctl" "$@"; fi
    bash -c 'for fd in /proc/$$/fd/*; do n=${fd##*/}; if [ "$n" -gt 2 ]; then eval "exec $n>&-"; fi; done; exec "$@"' pg-cluster "$@"
}

free_port() {
    # A port nothing listens on, from a range the usual servers (5432) do not use.
    p=$((25432 + $$ % 2000))
    while [ -n "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]; do p=$((p + 1)); done
    echo "$p"
}

start() {
    dir=$1; port=${2:-$(free_port)}
    [ -e "$dir" ] && { echo "pleura: $dir: exists already; give a new folder for the cluster" >&2; exit 1; }
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || { echo "pleura: pg-cluster.sh: no postgres user to own the cluster (install the Debian package postgresql)" >&2; exit 1; }
        chown postgres: "$dir"
    fi
    chmod 700 "$dir"
    as_owner "$PGBIN/initdb" -D "$dir/data" -U pleura --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    # fsync stays on: the crash tests rely on a commit being durable when the server said so.
    pg_ctl_detached -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=200" start >/dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }
    echo "$port" >"$dir/port"
    echo "postgresql://pleura@127.0.0.1:$port/postgres"
}

stop() {
    dir=$1
    [ -d "$dir/data" ] && as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}

case "${1:-}" in
    start) shift; start "$@" ;;
    stop) shift; stop "$1" ;;
    crash-restart) shift; pg_ctl_detached -D "$1/data" -m immediate -w -t 60 restart >/dev/null ;;
    run)
        shift; [ "${1:-}" = "--" ] && shift
        # In memory when there is /dev/shm, as the SQLite process tests: they test the server's
        # crash recovery and the store's retries, not the disk's fsync speed.
        tmp=${PLEURA_PG_TMP:-/tmp}; [ -z "${PLEURA_PG_TMP:-}" ] && [ -d /dev/shm ] && tmp=/dev/shm
        base=$(mktemp -d "$tmp/pleura-pg.XXXXXX")
        chmod 755 "$base"
        dir="$base/cluster"
        trap 'stop "$dir"; rm -rf "$base"' EXIT INT TERM
        url=$(start "$dir")
        echo "pg-cluster: PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') at $url (data in $dir)"
        status=0
        PLEURA_TEST_PG_URL=$url PLEURA_TEST_PG_BIN=$PGBIN PLEURA_TEST_PG_DATA=$dir/data "$@" || status=$?
        exit $status ;;
    *) echo "usage: pg-cluster.sh run [--] COMMAND... | start DIR [PORT] | stop DIR | crash-restart DIR" >&2; exit 2 ;;
esac
