#!/usr/bin/env bash
# A cluster on one machine: a PostgreSQL server, a coordinator and two agents, running the
# flagship pipeline across the agents through the coordinator; then everything is stopped.
# Each piece is the command you would run on its own machine (docs/cluster.md).
#
#   examples/cluster/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/setup.sh
swift build -c release --product blacktail
blacktail=$(swift build -c release --show-bin-path)/blacktail
work=$(mktemp -d /tmp/blacktail-cluster.XXXXXX)

# 1. The store: PostgreSQL (here a server of this script's own, on loopback).
source scripts/postgres.sh
postgres_start
store=$(postgres_database blacktail)
pids=()
cleanup() {
    [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null && wait "${pids[@]}" 2>/dev/null
    postgres_stop
    rm -rf "$work"
}
trap cleanup EXIT

# 2. Tokens: one per agent, one for the client that submits.
coordinator=(--store "$store" --home "$work/coordinator")
"$blacktail" nodes add laptop --client --token-file "$work/laptop.token" "${coordinator[@]}"
for agent in node-a node-b; do
    "$blacktail" nodes add "$agent" --token-file "$work/$agent.token" "${coordinator[@]}"
done

# 3. The coordinator.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
"$blacktail" serve "${coordinator[@]}" --listen "127.0.0.1:$port" >"$work/coordinator.log" 2>&1 &
pids+=($!)
until grep -q "listening on" "$work/coordinator.log"; do sleep 0.2; done
head -n 1 "$work/coordinator.log"

# 4. Two agents, each with a work folder and cache of its own.
for agent in node-a node-b; do
    "$blacktail" agent --coordinator "$url" --token "$work/$agent.token" --work-dir "$work/$agent" \
        --concurrency 1 --gpus none >"$work/$agent.log" 2>&1 &
    pids+=($!)
done

# 5. Submit through the coordinator (the project's CSV travels as an artifact) and wait.
client=(--coordinator "$url" --token "$work/laptop.token")
run=$("$blacktail" submit pipelines/iris-classifier.yaml -p publish=false "${client[@]}" --home "$work/laptop")
echo "submitted run $run"
state() { "$blacktail" status "$run" "${client[@]}" --format json | python3 -c 'import json, sys; print(json.load(sys.stdin)["state"])'; }
until [[ "$(state)" =~ ^(succeeded|failed|cancelled)$ ]]; do sleep 0.5; done
echo
"$blacktail" status "$run" "${client[@]}"
echo
"$blacktail" nodes list "${coordinator[@]}"
[ "$(state)" = succeeded ]
