#!/usr/bin/env bash
# Ensembles benchmark: Blacktail's random forest and gradient-boosted trees side by side with
# scikit-learn's RandomForestClassifier and HistGradientBoostingClassifier, on the same files, with
# the same hyperparameters and the same thread count. Prints a Markdown table; see
# benchmarks/README.md.
#
# usage: benchmarks/frameworks/ensembles.sh [THREADS] [REPEATS]      (defaults 2 and 1)
# Each repeat runs Blacktail and then scikit-learn on each data set and model, and prints a row.
# BLACKTAIL_SCRATCH names the SwiftPM build folder (default .build). Installs scikit-learn for itself
# (pip) if it is missing; the project does not depend on it.
set -euo pipefail
cd "$(dirname "$0")/../.."
threads=${1:-2}
repeats=${2:-1}
scratch=${BLACKTAIL_SCRATCH:-.build}
folder=benchmarks/frameworks/generated
mkdir -p "$folder"
python3 -c 'import sklearn, threadpoolctl, h5py' 2>/dev/null || python3 -m pip install --quiet scikit-learn threadpoolctl h5py
swift build -c release --scratch-path "$scratch" --product blacktail-frameworks-benchmark >/dev/null
bench=$(swift build -c release --scratch-path "$scratch" --show-bin-path)/blacktail-frameworks-benchmark
# The same files, made by the same commands, as run.sh uses.
[ -f "$folder/digits-train.h5" ] || "$bench" prepare datasets/digits.csv digit "$folder/digits"
[ -f "$folder/generated-train.h5" ] || "$bench" prepare generated:200000:64:10 label "$folder/generated"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "load before: $(uptime)" >&2
echo "| data | model | Blacktail s | accuracy | scikit-learn s | accuracy | time ratio (Blacktail / scikit-learn) |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
for data in digits generated; do
  train="$folder/$data-train.h5"; test="$folder/$data-test.h5"
  for model in forest boosted; do
    for _ in $(seq "$repeats"); do
      # 100 trees, or 100 rounds of 31-leaf trees at a learning rate of 0.1: the defaults on both sides.
      read -r ours ours_score < <("$bench" "$model" "$train" "$test" "$threads" 100)
      read -r theirs theirs_score < <(OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads python3 benchmarks/frameworks/peers.py "$model" "$train" "$test" "$threads" 100)
      echo "| $data | $model | $ours | $ours_score | $theirs | $theirs_score | $(ratio "$ours" "$theirs") |"
    done
  done
done
echo "load after: $(uptime)" >&2
