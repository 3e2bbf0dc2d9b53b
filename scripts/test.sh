#!/usr/bin/env bash
# Sets up what is missing, then builds Blacktail and runs its whole test suite (swift test).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift test "$@"
