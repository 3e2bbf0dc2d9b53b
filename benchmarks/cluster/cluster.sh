#!/usr/bin/env bash
# A cluster's dispatch latency and throughput on this machine (benchmarks/cluster/measure.py):
# a coordinator over SQLite and over PostgreSQL (a server of this script's own), with agents and
# a client as real processes on loopback; and the same fan-out with `blacktail run` beside it.
#
#   benchmarks/cluster/cluster.sh [TASKS] [CHAIN]
set -euo pipefail
cd "$(dirname "$0")/../.."
tasks=${1:-10000}
chain=${2:-100}
scratch=${BLACKTAIL_SCRATCH:-.build}
swift build -c release --scratch-path "$scratch" --product blacktail >/dev/null
blacktail=$(swift build -c release --scratch-path "$scratch" --show-bin-path)/blacktail
work=$(mktemp -d /tmp/blacktail-bench-cluster.XXXXXX)
source scripts/postgres.sh
postgres_start
trap 'postgres_stop; rm -rf "$work"' EXIT
python3 benchmarks/cluster/measure.py --blacktail "$blacktail" --work "$work" --postgres "$(postgres_database cluster)" \
    --tasks "$tasks" --chain "$chain" --json "${BLACKTAIL_BENCH_JSON:-/dev/null}"
