#!/usr/bin/env bash
# The main job on the embedded default: sets up what is missing, builds blacktail in release mode,
# validates every pipeline in pipelines/, makes a signing key if the home has none, runs the
# flagship pipeline end to end with the local engine (SQLite store, artifacts and keys in
# .blacktail/), which publishes its model to the local market, then shows and verifies the
# published model and reproduces the run that made it, bit for bit.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product blacktail
blacktail=$(swift build -c release --show-bin-path)/blacktail
"$blacktail" validate pipelines/*.yaml
echo
if [ "$("$blacktail" keys list)" = "no keys; make one with 'blacktail keys new NAME'" ]; then
    "$blacktail" keys new publisher
fi
"$blacktail" run pipelines/iris-classifier.yaml
echo
"$blacktail" runs --limit 5
echo
"$blacktail" market show iris-mlp
echo
"$blacktail" market verify iris-mlp
"$blacktail" reproduce iris-mlp --plain
