#!/usr/bin/env bash
# Engine benchmark (2): the same DAGs of `true` commands run by Blacktail, `make -j2`, Snakemake and a
# Prefect flow, side by side in one run. Two shapes: a fan-out (one source, N tasks that each need it,
# one sink that needs them all) and a chain of 1,000 tasks, and a single task for each tool's fixed
# cost. Each measurement is the wall-clock time of the whole command from a clean state, 3 times
# (interleaved), and the table shows the medians and their ratios to make; a second table, the cost of
# each task beyond the fixed one. Every single time is also appended to generated/logs/samples.txt.
# See benchmarks/README.md.
#
# usage: benchmarks/engine/run.sh [N] [REPEATS]     (N: fan-out width, default 10000; REPEATS: 3)
# Environment: BLACKTAIL=path uses that binary instead of building one; TIMEOUT=seconds per
# measurement (default 600; a run past it is killed and shown as "timed out").
# Installs Snakemake and Prefect for itself (setup.sh); the project does not depend on them. Builds in
# its own scratch folder (.build-bench) so as not to disturb a developer's .build.
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-10000}
repeats=${2:-3}
folder=benchmarks/engine/generated
python=$(benchmarks/engine/setup.sh | tail -n 1)
which=${BLACKTAIL:-}
if [ -z "${BLACKTAIL:-}" ]; then
  which="built from the working tree at $(git describe --always --dirty)"
  swift build -c release --product blacktail --scratch-path .build-bench >/dev/null
  BLACKTAIL=$(swift build -c release --scratch-path .build-bench --show-bin-path)/blacktail
fi
python3 benchmarks/engine/generate.py fanout "$n" "$folder/fanout-$n"
python3 benchmarks/engine/generate.py chain 1000 "$folder/chain-1000"
python3 benchmarks/engine/generate.py chain 1 "$folder/chain-1"  # one task: each tool's fixed cost

echo "Machine: $(nproc) cores, $(uname -sr); blacktail $("$BLACKTAIL" --version) ($which);" \
  "$(make --version | head -n 1); Snakemake $("$python" -m snakemake --version)," \
  "Prefect $("$python" -c 'import prefect; print(prefect.__version__)'); $("$python" --version); $(date -u +%F)."
python3 benchmarks/engine/measure.py --blacktail "$BLACKTAIL" --python "$python" --repeats "$repeats" \
  --timeout "${TIMEOUT:-600}" "$folder/fanout-$n" "$folder/chain-1000" "$folder/chain-1"
