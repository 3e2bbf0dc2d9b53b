#!/usr/bin/env bash
# Frameworks benchmark: Blacktail's logistic regression, MLP, k-means and PCA side by side with
# scikit-learn (and the MLP with PyTorch on the CPU), same data, same hyperparameters, same thread
# count. Prints a Markdown table; see benchmarks/README.md.
#
# usage: benchmarks/frameworks/run.sh [THREADS]      (default 2)
# Installs scikit-learn and torch for itself (pip) if they are missing; the project does not depend on them.
set -euo pipefail
cd "$(dirname "$0")/../.."
threads=${1:-2}
folder=benchmarks/frameworks/generated
mkdir -p "$folder"
python3 -c 'import sklearn, threadpoolctl' 2>/dev/null || python3 -m pip install --quiet scikit-learn
python3 -c 'import torch' 2>/dev/null || python3 -m pip install --quiet torch || echo "torch could not be installed; the MLP row compares with scikit-learn only" >&2
swift build -c release --product blacktail-frameworks-benchmark >/dev/null
bench=$(swift build -c release --show-bin-path)/blacktail-frameworks-benchmark
[ -f "$folder/digits-train.h5" ] || "$bench" prepare datasets/digits.csv digit "$folder/digits"
[ -f "$folder/generated-train.h5" ] || "$bench" prepare generated:200000:64:10 label "$folder/generated"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "| data | framework | Blacktail s | score | peer | peer s | peer score | time ratio (Blacktail / peer) |"
echo "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: |"
for data in digits generated; do
  train="$folder/$data-train.h5"; test="$folder/$data-test.h5"
  epochs=$([ "$data" = digits ] && echo 50 || echo 10)
  for framework in logistic mlp kmeans pca; do
    read -r ours ours_score < <(OPENBLAS_NUM_THREADS=$threads "$bench" "$framework" "$train" "$test" "$threads" "$epochs")
    peers=("$framework")
    [ "$framework" = mlp ] && peers=(mlp-sklearn mlp-torch)
    for peer in "${peers[@]}"; do
      if [ "$peer" = mlp-torch ] && ! python3 -c 'import torch' 2>/dev/null; then continue; fi
      read -r theirs theirs_score < <(OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads python3 benchmarks/frameworks/peers.py "$peer" "$train" "$test" "$threads" "$epochs")
      name=$([ "$peer" = mlp-torch ] && echo "PyTorch" || echo "scikit-learn")
      echo "| $data | $framework | $ours | $ours_score | $name | $theirs | $theirs_score | $(ratio "$ours" "$theirs") |"
    done
  done
done
