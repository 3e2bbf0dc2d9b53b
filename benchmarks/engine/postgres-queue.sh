#!/usr/bin/env bash
# Claim-and-complete throughput of the PostgreSQL store, beside the SQLite store's, on this
# machine. Starts a PostgreSQL server of its own (scripts/postgres.sh: initdb into a temporary
# folder, a free loopback port, fsync on as a real server has it), runs the queue benchmark
# against both, and stops it.
#
#   benchmarks/engine/postgres-queue.sh [TASKS]
set -euo pipefail
cd "$(dirname "$0")/../.."
tasks=${1:-20000}
scratch=${BLACKTAIL_SCRATCH:-.build}
swift build -c release --scratch-path "$scratch" --product blacktail-engine-benchmark >/dev/null
bench=$(swift build -c release --scratch-path "$scratch" --show-bin-path)/blacktail-engine-benchmark

source scripts/postgres.sh
postgres_start

for mode in "--batch 1" "--batch 16" "--batch 64" "--batch 16 --lanes"; do
    "$bench" queue --tasks "$tasks" $mode
    "$bench" queue --tasks "$tasks" $mode --store "$(postgres_database "b$RANDOM")"
done
