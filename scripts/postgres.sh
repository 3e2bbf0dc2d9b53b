# A PostgreSQL server of one script's own, for examples and benchmarks: sourced, not run.
#
#   source scripts/postgres.sh
#   postgres_start            # initdb into a temporary folder, a free loopback port; stopped at exit
#   url=$(postgres_database NAME)
#
# As root the server runs as the `postgres` user that Debian's package makes (PostgreSQL refuses
# to run as root). Authentication is `trust` on 127.0.0.1 only: for one machine's experiments, not
# for a shared server (docs/cluster.md shows one).

postgres_start() {
    postgres_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    postgres_bin=${postgres_bin:-$(dirname "$(command -v initdb)")}
    postgres_folder=$(mktemp -d /tmp/blacktail-postgres.XXXXXX)
    postgres_as=()
    if [ "$(id -u)" = 0 ]; then chown postgres "$postgres_folder"; postgres_as=(runuser -u postgres --); fi
    postgres_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "${postgres_as[@]}" "$postgres_bin/initdb" -D "$postgres_folder/data" -U blacktail --auth=trust -E UTF8 >/dev/null
    "${postgres_as[@]}" "$postgres_bin/pg_ctl" -D "$postgres_folder/data" -l "$postgres_folder/server.log" -w \
        -o "-p $postgres_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$postgres_folder -c max_connections=200" start >/dev/null
    trap postgres_stop EXIT
}

postgres_database() {
    "${postgres_as[@]}" "$postgres_bin/createdb" -h 127.0.0.1 -p "$postgres_port" -U blacktail "$1"
    echo "postgres://blacktail@127.0.0.1:$postgres_port/$1"
}

postgres_stop() {
    "${postgres_as[@]}" "$postgres_bin/pg_ctl" -D "$postgres_folder/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$postgres_folder"
}
