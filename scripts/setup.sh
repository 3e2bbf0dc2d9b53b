#!/usr/bin/env bash
# Installs what Blacktail needs that this machine lacks, and nothing else:
#   - Debian packages: the C libraries (HDF5, OpenBLAS, libyaml, SQLite), pkg-config, PostgreSQL, elfutils;
#   - Python packages used by the test suite's independent checks (PyYAML, jsonschema, h5py, numpy).
# Swift itself (6.x) must be installed; the script looks for it on PATH and in /opt/swift.
# Safe to run again: it only acts on what is missing.
set -euo pipefail

say() { printf 'setup: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else say "need root to run: $*"; exit 1
  fi
}

# Swift toolchain.
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
  export PATH="$PATH:/opt/swift/usr/bin"
fi
if ! command -v swift >/dev/null 2>&1; then
  say "Swift 6 is not installed: get a toolchain from swift.org and put its usr/bin on PATH (or in /opt/swift)"
  exit 1
fi

# Debian packages.
# postgresql: the server the tests start on loopback for the PostgreSQL store; elfutils: eu-stack,
# with which a reliability test shows where a `blacktail` process that stalled is waiting.
apt_packages=(pkg-config libhdf5-dev libopenblas-dev libyaml-dev libsqlite3-dev postgresql elfutils python3 python3-pip)
missing=()
for package in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python packages for the tests' independent checks, and scikit-learn for the `run:` step of
# pipelines/breast-cancer-custom.yaml, which the tests run and reproduce.
python_modules=(yaml:PyYAML jsonschema:jsonschema h5py:h5py numpy:numpy sklearn:scikit-learn)
wanted=()
for entry in "${python_modules[@]}"; do
  python3 -c "import ${entry%%:*}" 2>/dev/null || wanted+=("${entry##*:}")
done
if [ ${#wanted[@]} -gt 0 ]; then
  say "installing Python packages ${wanted[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${wanted[@]}" 2>/dev/null \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "${wanted[@]}"
fi
