#!/usr/bin/env bash
# Serial against parallel cells, in one run on this machine: the same default-scale subset
# (hypercleaning and Omniglot at one seed, or the experiments and seeds given) with --jobs 1
# and with --jobs N, alternately, then the two sets of cell files compared bit for bit (timing
# fields aside). Prints the wall time of each and their ratio.
#
#   scripts/jobs-ab.sh [N=2] [SEEDS=1] [EXPERIMENTS="hypercleaning omniglot"]
#
# Needs the data (UFOM_DATA_DIR or ../shared/datasets) and a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${1:-2}
seeds=${2:-1}
experiments=${3:-hypercleaning omniglot}
export UFOM_DATA_DIR=${UFOM_DATA_DIR:-$(cd .. && pwd)/shared/datasets}
cargo build --release -p ufom-bench -q
out=$(mktemp -d /tmp/jobs-ab.XXXXXX)
args=(bench --scale default --seeds "$seeds")
for e in $experiments; do args+=(--experiment "$e"); done
for j in 1 "$jobs"; do
  start=$(date +%s.%N)
  target/release/ufom "${args[@]}" --jobs "$j" --out "$out/jobs$j" > "$out/jobs$j.log" 2>&1
  end=$(date +%s.%N)
  echo "$j $(echo "$end - $start" | bc)" >> "$out/times"
  grep -E '^(hypercleaning|omniglot|synthetic|cifar100) ' "$out/jobs$j.log" | sed "s/^/  --jobs $j: /"
done
python3 - "$out" "$jobs" <<'PY'
import json, pathlib, sys
out, jobs = pathlib.Path(sys.argv[1]), sys.argv[2]
def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k not in ("wall_s", "seconds_per_call")}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v
def cells(d):
    root = out / d / "cells"
    return {str(p.relative_to(root)): strip(json.loads(p.read_text())) for p in root.rglob("*.json")}
a, b = cells("jobs1"), cells(f"jobs{jobs}")
same = a.keys() == b.keys() and all(a[k] == b[k] for k in a)
times = dict(line.split() for line in (out / "times").read_text().splitlines())
t1, tn = float(times["1"]), float(times[jobs])
print(f"cells: {len(a)}; bitwise identical apart from timing: {same}")
print(f"wall: --jobs 1 {t1:.0f} s, --jobs {jobs} {tn:.0f} s, speed-up {t1 / tn:.2f}x")
sys.exit(0 if same else 1)
PY
