#!/usr/bin/env bash
# Installs the peers of the engine benchmark, Snakemake and Prefect, with pip, into a virtual
# environment of their own (benchmarks/engine/generated/venv, which git ignores) so that their many
# dependencies (Prefect brings pydantic, SQLAlchemy, FastAPI, uvicorn, ...) leave the machine's Python
# alone. Where `python3 -m venv` is not available it installs into python3 itself, with
# --break-system-packages if pip refuses an externally managed Python. The project does not depend on
# either tool.
#
# Prefect 3 needs an API server to record every flow and task run. Without PREFECT_API_URL it starts
# an "ephemeral" one itself: a uvicorn process on 127.0.0.1 serving a SQLite database under
# PREFECT_HOME, started when the flow starts and stopped when it ends; no account, no network beyond
# the loopback. This script creates that database once (its migrations take a while), so that the
# timed runs pay for starting the server but not for migrating. measure.py sets the variables below.
#
# usage: benchmarks/engine/setup.sh        (prints the Python to use as its last line)
set -euo pipefail
cd "$(dirname "$0")"
snakemake_version=9.27.1
prefect_version=3.9.1
mkdir -p generated

python="$PWD/generated/venv/bin/python"
if [ ! -x "$python" ] && ! python3 -m venv generated/venv >/dev/null 2>&1; then
  rm -rf generated/venv
  python=python3
fi
if ! "$python" -c "import snakemake, prefect, sys
from importlib.metadata import version
sys.exit(version('snakemake') != '$snakemake_version' or version('prefect') != '$prefect_version')" 2>/dev/null; then
  echo "installing snakemake $snakemake_version and prefect $prefect_version with pip (a few minutes)..." >&2
  "$python" -m pip install --quiet "snakemake==$snakemake_version" "prefect==$prefect_version" \
    || "$python" -m pip install --quiet --break-system-packages "snakemake==$snakemake_version" "prefect==$prefect_version"
fi

export PREFECT_HOME="$PWD/generated/prefect-home"
unset PREFECT_API_URL
export PREFECT_SERVER_ALLOW_EPHEMERAL_MODE=true PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=300
export PREFECT_SERVER_ANALYTICS_ENABLED=false PREFECT_UI_ENABLED=false DO_NOT_TRACK=1
if [ ! -f "$PREFECT_HOME/prefect.db" ]; then
  echo "creating Prefect's local database in $PREFECT_HOME..." >&2
  "$python" -m prefect server database upgrade -y >/dev/null
fi
echo "$python"
