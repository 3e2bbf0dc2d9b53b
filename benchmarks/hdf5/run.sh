#!/usr/bin/env bash
# HDF5 benchmark: Blacktail's dataset reader and CSV import against h5py and pandas, on the same
# files in one run. Prints a Markdown table; see benchmarks/README.md.
#
# usage: benchmarks/hdf5/run.sh [ROWS] [FEATURES]     (default 2000000 x 64)
# Installs h5py and pandas for itself (pip) if they are missing; the project does not depend on them.
set -euo pipefail
cd "$(dirname "$0")/../.."
rows=${1:-2000000}
features=${2:-64}
folder=benchmarks/hdf5/generated
mkdir -p "$folder"
python3 -c 'import h5py, pandas' 2>/dev/null || python3 -m pip install --quiet h5py pandas
swift build -c release --product blacktail >/dev/null
swift build -c release --product blacktail-hdf5-benchmark >/dev/null
bin=$(swift build -c release --show-bin-path)
data="$folder/data-$rows-$features.h5"
csv="$folder/data-$rows-$features.csv"
[ -f "$data" ] || "$bin/blacktail-hdf5-benchmark" generate "$data" "$rows" "$features"
[ -f "$csv" ] || python3 benchmarks/hdf5/peers.py write-csv "$data" "$csv"
mib=$(awk -v r="$rows" -v f="$features" 'BEGIN { printf "%.0f", r * f * 4 / 1048576 }')

# Warm the page cache for both readers.
cat "$data" > /dev/null

ours_whole=$("$bin/blacktail-hdf5-benchmark" read-whole "$data" 5 | cut -d' ' -f1)
theirs_whole=$(python3 benchmarks/hdf5/peers.py read-whole "$data" 5 | cut -d' ' -f1)
ours_batches=$("$bin/blacktail-hdf5-benchmark" minibatches "$data" 500 256 1 | cut -d' ' -f1)
theirs_batches=$(python3 benchmarks/hdf5/peers.py minibatches "$data" 500 256 1 | cut -d' ' -f1)
cat "$csv" > /dev/null
ours_import=$( { /usr/bin/time -f '%e %M' "$bin/blacktail" data import "$csv" --label label -o "$folder/ours.h5" >/dev/null; } 2>&1 | tail -n 1)
theirs_import=$( { /usr/bin/time -f '%e %M' python3 benchmarks/hdf5/peers.py import-csv "$csv" "$folder/theirs.h5" >/dev/null; } 2>&1 | tail -n 1)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "| operation ($rows x $features float32, $mib MiB) | Blacktail | h5py / pandas | Blacktail speed relative to peer |"
echo "| --- | ---: | ---: | ---: |"
echo "| read whole dataset (median of 5), s | $ours_whole | $theirs_whole | $(ratio "$theirs_whole" "$ours_whole")x |"
echo "| 500 random minibatches of 256 rows, s | $ours_batches | $theirs_batches | $(ratio "$theirs_batches" "$ours_batches")x |"
echo "| import CSV ($(du -m "$csv" | cut -f1) MiB) to HDF5, s (peak RSS MiB) | ${ours_import% *} ($(( ${ours_import#* } / 1024 ))) | ${theirs_import% *} ($(( ${theirs_import#* } / 1024 ))) | $(ratio "${theirs_import% *}" "${ours_import% *}")x |"
