#!/usr/bin/env bash
# The main job on the embedded default: sets up what is missing, builds blacktail in release mode,
# then validates every pipeline in pipelines/, prints the plan of the flagship pipeline, and runs its
# first data step by hand: imports datasets/iris.csv into an HDF5 dataset and inspects it.
# (Running plans end to end arrives with the engine; see docs/architecture.md.)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product blacktail
blacktail=$(swift build -c release --show-bin-path)/blacktail
"$blacktail" validate pipelines/*.yaml
echo
"$blacktail" plan pipelines/iris-classifier.yaml
echo
mkdir -p .blacktail
"$blacktail" data import datasets/iris.csv --label species -o .blacktail/iris.h5
"$blacktail" data inspect .blacktail/iris.h5
