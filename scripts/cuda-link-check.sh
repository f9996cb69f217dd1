#!/usr/bin/env bash
# Checks the GPU bundle (scripts/gpu-bundle.sh) as far as a machine without a GPU can:
#  1. every symbol the bundle's programs (ufom, the verify CUDA tests) import from cuBLAS,
#     cuRAND and the CUDA runtime resolves in the real CUDA 13.0 libraries (NVIDIA's PyPI
#     wheels, downloaded into target/cuda-link-check; `ldd -r` with the link stubs swapped for
#     them);
#  2. the launcher and the binary start with those libraries, and `ufom doctor` fails cleanly —
#     exit 1, the driver's error named, no panic — when libcuda reports no device. libcuda is the
#     driver's and cannot be installed without one, so a fake built here stands in for it: every
#     driver entry point the binary imports returns CUDA_ERROR_NO_DEVICE.
#  3. the bundled verify tests (bin/verify-*) start and skip their CUDA checks, saying why.
# What it cannot check: that the driver's libcuda has the 30 driver-API symbols (all long-stable
# entry points, listed by this script) and that the PTX loads and computes — `ufom doctor` on a
# GPU machine does that. Needs python3 with pip (PyPI reachable), gcc, nm, ldd.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bundle="$root/target/gpu-bundle/ufom-gpu"
binary="$bundle/bin/ufom"
[ -x "$binary" ] || { echo "no bundle at $bundle: run scripts/gpu-bundle.sh (just gpu-bundle) first" >&2; exit 2; }
cudart="$root/target/cuda-toolchain/py/nvidia/cu13/lib"
[ -e "$cudart/libcudart.so.13" ] || { echo "no libcudart.so.13 in $cudart: run scripts/cuda-toolchain.sh first" >&2; exit 2; }
work="$root/target/cuda-link-check"
libs="$work/lib"
fake="$work/fake-driver"
# The versions the GPU machines' venvs carry with CUDA 13.0.
wheels=("nvidia-cublas>=13.0,<13.1" "nvidia-curand>=10.4.0,<10.4.1")
if [ ! -e "$libs/libcublas.so.13" ] || [ ! -e "$libs/libcurand.so.10" ]; then
  echo "downloading the cuBLAS and cuRAND wheels (about 480 MB) into $work" >&2
  rm -rf "$work"
  mkdir -p "$work/wheels" "$libs"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --platform manylinux_2_27_x86_64 --python-version 3.11 -d "$work/wheels" "${wheels[@]}"
  for w in "$work"/wheels/*.whl; do
    python3 - "$w" "$libs" <<'PY'
import os, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for n in z.namelist():
        if "/lib/lib" in n and ".so" in n:
            with open(os.path.join(out, os.path.basename(n)), "wb") as f:
                f.write(z.read(n))
PY
  done
  rm -rf "$work/wheels"
fi
cp -f "$cudart/libcudart.so.13" "$libs/"
echo "real libraries: $(cd "$libs" && ls | tr '\n' ' ')" >&2

# The driver-API symbols the binary imports, and a fake libcuda.so.1 reporting no device.
imports=$(for b in "$bundle"/bin/*; do nm -D --undefined-only "$b"; done | awk '{print $2}' | sort -u)
driver=$(echo "$imports" | grep -E '^cu[A-Z]' || true)
echo "imports: $(echo "$driver" | wc -l) driver API, $(echo "$imports" | grep -c '^cublas') cuBLAS," \
  "$(echo "$imports" | grep -c '^curand') cuRAND, $(echo "$imports" | grep -c '^cuda[A-Z]') CUDA runtime" >&2
echo "driver API entry points needed from libcuda.so.1: $(echo $driver)" >&2
mkdir -p "$fake"
{
  echo "$driver" | grep -v '^cuGetErrorString$' | sed 's/.*/int &(void) { return 100; }/'
  echo 'int cuGetErrorString(int e, const char **s) { *s = "no CUDA-capable device is detected (fake libcuda of cuda-link-check.sh)"; return 0; }'
} > "$fake/fake.c"
gcc -shared -fPIC -o "$fake/libcuda.so.1" -Wl,-soname,libcuda.so.1 "$fake/fake.c"

# 1. Every import resolves (ldd -r: relocations processed, undefined symbols reported).
for b in "$bundle"/bin/*; do
  report=$(LD_LIBRARY_PATH="$libs:$fake" ldd -r "$b" 2>&1)
  echo "$(basename "$b"):" >&2
  echo "$report" | grep -E 'libcu|not found|undefined' >&2 || true
  if echo "$report" | grep -Eq 'not found|undefined symbol'; then
    echo "FAIL: the imports of bin/$(basename "$b") do not all resolve in the real libraries" >&2
    exit 1
  fi
done
echo "ok: every cuBLAS/cuRAND/runtime import of $(ls "$bundle/bin" | tr '\n' ' ')resolves in the real 13.0 libraries" >&2
# Negative control: a cuBLAS lacking one of the imported symbols must be reported.
gone=$(echo "$imports" | grep -m1 '^cublas')
mkdir -p "$work/control"
echo "$imports" | grep '^cublas' | grep -vx "$gone" | sed 's/.*/void &(void) {}/' > "$work/control/cublas.c"
gcc -shared -fPIC -o "$work/control/libcublas.so.13" -Wl,-soname,libcublas.so.13 "$work/control/cublas.c"
if ! LD_LIBRARY_PATH="$work/control:$libs:$fake" ldd -r "$binary" 2>&1 | grep -q "undefined symbol: $gone"; then
  echo "FAIL: negative control: a cuBLAS without $gone was not reported" >&2
  exit 1
fi
echo "ok: negative control: a cuBLAS without $gone is reported as an undefined symbol" >&2

# 2. The launcher runs the binary, which loads them and names the driver's error.
set +e
out=$(RUST_BACKTRACE=0 UFOM_PYTHON=/nonexistent UFOM_CUDA_LIBS="$libs:$fake" \
  "$bundle/ufom-gpu" doctor 2>&1)
rc=$?
set -e
echo "$out" | sed 's/^/  doctor| /' >&2
if [ "$rc" -ne 1 ] || ! echo "$out" | grep -q 'CUDA_ERROR_NO_DEVICE' || echo "$out" | grep -q 'panicked'; then
  echo "FAIL: expected \`ufom-gpu doctor\` to exit 1 naming CUDA_ERROR_NO_DEVICE, got exit $rc" >&2
  exit 1
fi
echo "ok: without a device \`ufom-gpu doctor\` exits 1 naming the driver's CUDA_ERROR_NO_DEVICE" >&2

# 3. The bundled verify tests start through the launcher and skip their CUDA checks, saying why.
for b in "$bundle"/bin/verify-*; do
  [ -e "$b" ] || continue
  name=$(basename "$b")
  set +e
  out=$(RUST_BACKTRACE=0 VERIFY_REPORT="$work/$name.json" UFOM_PYTHON=/nonexistent \
    UFOM_CUDA_LIBS="$libs:$fake" "$bundle/ufom-gpu" --run "$name" --nocapture 2>&1)
  rc=$?
  set -e
  if [ "$rc" -ne 0 ] || ! echo "$out" | grep -q 'SKIPPED: no CUDA device (.*CUDA_ERROR_NO_DEVICE'; then
    echo "$out" | tail -n 20 >&2
    echo "FAIL: \`ufom-gpu --run $name\` should pass, skipping its CUDA checks; exit $rc" >&2
    exit 1
  fi
  echo "ok: \`ufom-gpu --run $name\` runs and skips its CUDA checks without a device" >&2
done
