#!/usr/bin/env bash
# The main job on the embedded default: sets up what is missing, builds blacktail in release mode,
# validates every pipeline in pipelines/, then runs the flagship pipeline end to end with the local
# engine (SQLite store and artifacts in .blacktail/) and prints the run's record.
# Publishing to the market is turned off (-p publish=false) until the market registry exists.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product blacktail
blacktail=$(swift build -c release --show-bin-path)/blacktail
"$blacktail" validate pipelines/*.yaml
echo
"$blacktail" run pipelines/iris-classifier.yaml -p publish=false
echo
"$blacktail" runs --limit 5
