#!/usr/bin/env bash
# The CUDA issue's checks on a GPU machine, in one run (a lent machine has minutes, not hours):
#   1. nvidia-smi;
#   2. `ufom doctor`: every built-in problem's oracles and every estimator on the GPU vs the CPU;
#   3. `ufom doctor --time`: one gradient / one HVP per reference case, GPU vs CPU (JSON);
#   4. the verify crate's CUDA checks (every operator first and second order; oracles and
#      estimators), when the bundle has them (`just gpu-bundle` builds them);
#   5. one Table-1 cell at the paper's sizes (hypercleaning, FOM, seed 0) under a time limit.
# Each step's output goes to $OUT (default target/gpu-checks); a failing step does not stop the
# others; the exit status is the number of failed steps.
# Needs target/gpu-bundle/ufom-gpu.tar.gz (`just gpu-bundle`) and, for step 4, MNIST in
# $UFOM_DATA_DIR/mnist (default target/gpu-data, e.g. `cp -r ../shared/datasets/mnist
# target/gpu-data/` before carrying target/gpu-data along). The CUDA libraries are found by the
# bundle's launcher; if no Python on PATH has the nvidia wheels, the script looks for
# libcublas.so.13 under /opt, /usr, /home and /root and passes its folder on.
# Usage: scripts/gpu-checks.sh [SECONDS for the paper cell, default 240]
# Dry run on a machine without a GPU: UFOM_DEVICE=cpu UFOM_SCALE=smoke UFOM_BIN=target/release/ufom.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="${OUT:-$root/target/gpu-checks}"
cell_seconds="${1:-240}"
device="${UFOM_DEVICE:-cuda}"
scale="${UFOM_SCALE:-paper}"
data="${UFOM_DATA_DIR:-$root/target/gpu-data}"
mkdir -p "$out"
failed=0
step() { # step NAME COMMAND...: runs it, output to $out/NAME.txt and the terminal
  local name=$1
  shift
  local start=$SECONDS
  echo "== $name: $*" | tee "$out/$name.txt"
  "$@" 2>&1 | tee -a "$out/$name.txt"
  local rc=${PIPESTATUS[0]}
  echo "== $name: exit $rc after $((SECONDS - start)) s" | tee -a "$out/$name.txt"
  [ "$rc" -eq 0 ] || failed=$((failed + 1))
}

if [ -n "${UFOM_BIN:-}" ]; then
  ufom=("$UFOM_BIN")
else
  bundle="$root/target/gpu-bundle/ufom-gpu.tar.gz"
  [ -f "$bundle" ] || { echo "no $bundle: run \`just gpu-bundle\` and carry it" >&2; exit 100; }
  unpacked=$(mktemp -d)
  tar -C "$unpacked" -xzf "$bundle"
  ufom=("$unpacked/ufom-gpu/ufom-gpu")
  if [ -z "${UFOM_CUDA_LIBS:-}" ] && ! python3 -c 'import nvidia' 2> /dev/null; then
    cublas=$(timeout 60 find /opt /usr /home /root -name 'libcublas.so.13' 2> /dev/null | head -n 1)
    if [ -n "$cublas" ]; then
      UFOM_CUDA_LIBS=$(dirname "$cublas")
      export UFOM_CUDA_LIBS
    fi
    echo "CUDA libraries: ${UFOM_CUDA_LIBS:-none found beyond where the launcher looks}"
  fi
fi

if command -v nvidia-smi > /dev/null; then
  step nvidia-smi nvidia-smi
fi
step doctor "${ufom[@]}" doctor --device "$device"
step timing "${ufom[@]}" doctor --device "$device" --time --reps 20 --time-json "$out/timing.json"
if [ -z "${UFOM_BIN:-}" ]; then
  for check in verify-operators verify-device; do
    if [ -x "$unpacked/ufom-gpu/bin/$check" ]; then
      step "$check" env VERIFY_REPORT="$out/$check.json" "${ufom[@]}" --run "$check" --nocapture
    fi
  done
fi
step paper-cell timeout "$cell_seconds" "${ufom[@]}" -v bench --device "$device" --scale "$scale" \
  --experiment hypercleaning --methods fom --seeds 1 --data-dir "$data" --out "$out/paper"
echo "$failed step(s) failed; outputs in $out"
exit "$failed"
