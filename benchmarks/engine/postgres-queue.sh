#!/usr/bin/env bash
# Claim-and-complete throughput of the PostgreSQL store, beside the SQLite store's, on this
# machine. Starts a PostgreSQL server of its own (initdb into a temporary folder, a free loopback
# port, fsync on as a real server has it), runs the queue benchmark against both, and stops it.
#
#   benchmarks/engine/postgres-queue.sh [TASKS]
set -euo pipefail
cd "$(dirname "$0")/../.."
tasks=${1:-20000}
scratch=${BLACKTAIL_SCRATCH:-.build}
swift build -c release --scratch-path "$scratch" --product blacktail-engine-benchmark >/dev/null
bench=$(swift build -c release --scratch-path "$scratch" --show-bin-path)/blacktail-engine-benchmark

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
bin=${bin:-$(dirname "$(command -v initdb)")}
folder=$(mktemp -d /tmp/blacktail-bench-postgres.XXXXXX)
as_server=()
if [ "$(id -u)" = 0 ]; then chown postgres "$folder"; as_server=(runuser -u postgres --); fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as_server[@]}" "$bin/initdb" -D "$folder/data" -U blacktail --auth=trust -E UTF8 >/dev/null
"${as_server[@]}" "$bin/pg_ctl" -D "$folder/data" -l "$folder/server.log" -w \
    -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$folder" start >/dev/null
trap '"${as_server[@]}" "$bin/pg_ctl" -D "$folder/data" -m fast -w stop >/dev/null; rm -rf "$folder"' EXIT

for mode in "--batch 1" "--batch 16" "--batch 64" "--batch 16 --lanes"; do
    "$bench" queue --tasks "$tasks" $mode
    db=b$RANDOM
    "${as_server[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U blacktail "$db"
    "$bench" queue --tasks "$tasks" $mode --store "postgres://blacktail@127.0.0.1:$port/$db"
done
