#!/usr/bin/env bash
# Compiler benchmark: times `blacktail validate` (read, parse, check, plan) on generated pipelines
# of 1,000, 10,000 and 100,000 steps, chains and wide fan-outs, in a release build, with its peak
# memory; and, side by side on the same files, PyYAML's C loader parsing them (parsing only, no
# checks), as a reference point. Prints a Markdown table. Run by hand; see ../README.md.
#
# usage: benchmarks/compile/run.sh [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/../.."
repeats=${1:-5}
swift build -c release --product blacktail >/dev/null
blacktail=$(swift build -c release --show-bin-path)/blacktail
python3 -c 'import yaml; yaml.CSafeLoader' 2>/dev/null || { echo "PyYAML with libyaml is needed: pip install pyyaml" >&2; exit 1; }
folder=benchmarks/compile/generated
mkdir -p "$folder"

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "| shape | steps | file MiB | blacktail validate, s (median of $repeats) | peak RSS, MiB | PyYAML CSafeLoader parse, s | ratio |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for shape in chain wide; do
  for steps in 1000 10000 100000; do
    file="$folder/$shape-$steps.yaml"
    [ -f "$file" ] || python3 benchmarks/compile/generate.py "$shape" "$steps" "$file"
    "$blacktail" validate "$file" >/dev/null  # warm the page cache
    times=() rss=()
    for _ in $(seq "$repeats"); do
      read -r seconds kilobytes < <( { /usr/bin/time -f '%e %M' "$blacktail" validate "$file" >/dev/null; } 2>&1 | tail -n 1)
      times+=("$seconds"); rss+=("$kilobytes")
    done
    python_seconds=$(python3 - "$file" "$repeats" <<'PY'
import statistics, sys, time, yaml
path, repeats = sys.argv[1], int(sys.argv[2])
text = open(path, encoding="utf-8").read()
samples = []
for _ in range(repeats):
    start = time.perf_counter()
    yaml.load(text, Loader=yaml.CSafeLoader)
    samples.append(time.perf_counter() - start)
print(f"{statistics.median(samples):.3f}")
PY
)
    median_seconds=$(printf '%s\n' "${times[@]}" | median)
    peak=$(printf '%s\n' "${rss[@]}" | sort -g | tail -n 1)
    size=$(awk -v b="$(stat -c %s "$file")" 'BEGIN { printf "%.1f", b / 1048576 }')
    ratio=$(awk -v a="$median_seconds" -v b="$python_seconds" 'BEGIN { printf "%.2f", a / b }')
    printf '| %s | %d | %s | %s | %d | %s | %s |\n' "$shape" "$steps" "$size" "$median_seconds" "$((peak / 1024))" "$python_seconds" "$ratio"
  done
done
