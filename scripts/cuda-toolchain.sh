#!/usr/bin/env bash
# Builds `ufom` with the `cuda` feature on a machine without a CUDA installation (no GPU needed):
# installs the CUDA 13.0 compiler (nvcc, its NVVM back end and CRT headers) and the runtime and
# CCCL headers from NVIDIA's PyPI wheels into target/cuda-toolchain/, then runs
#   cargo build --release -p ufom-bench --features cuda --target-dir target/cuda-build
# with CUDA_HOME/PATH pointing there. The PTX is compiled for compute capability
# $CUDA_COMPUTE_CAP (default 90: H100/H200); CUDA 13.0's PTX (ISA 9.0) loads on drivers >= 580.
# Prints the binary's path. Needs python3 with pip (PyPI reachable) and gcc <= 14.
# With UFOM_CUDA_VERIFY=1 it also builds the verify crate's CUDA checks (see the end).
# Usage: scripts/cuda-toolchain.sh [extra cargo args]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prefix="$root/target/cuda-toolchain"
# Pinned: a 13.0 toolchain, whose PTX a CUDA 13.0 driver (580) loads; 13.1+ PTX would not.
wheels=(
  "nvidia-cuda-nvcc==13.0.88"
  "nvidia-nvvm==13.0.88"
  "nvidia-cuda-crt==13.0.88"
  "nvidia-cuda-runtime==13.0.96"
  "nvidia-cuda-cccl==13.0.85"
)
cuda="$prefix/py/nvidia/cu13"
if [ ! -x "$cuda/bin/nvcc" ] || [ ! -d "$cuda/nvvm" ]; then
  echo "installing the CUDA 13.0 compiler and headers into $prefix (PyPI wheels)" >&2
  rm -rf "$prefix"
  python3 -m pip install --quiet --disable-pip-version-check --no-deps \
    --target "$prefix/py" "${wheels[@]}"
fi
"$cuda/bin/nvcc" --version | tail -n 1 >&2
export CUDA_HOME="$cuda" CUDA_PATH="$cuda" CUDA_ROOT="$cuda"
export PATH="$cuda/bin:$PATH"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"
target="$root/target/cuda-build"
# cudarc links libcuda, libcublas(Lt), libcurand and libnvrtc at build time; none is installed
# here (libcuda comes with a driver). Like the CUDA toolkit's lib/stubs, link against stub
# libraries with the right sonames that define the symbols the compiled crates reference; at run
# time the loader takes the real ones (the bundle's launcher finds them). Phase 1 compiles every
# library crate, phase 2 links the binary against the stubs.
cargo build --release -p ufom-bench --features cuda --lib --target-dir "$target" "$@" >&2
stubs="$prefix/link-stubs"
rm -rf "$stubs"
mkdir -p "$stubs"
syms="$stubs/undefined.txt"
for f in "$target"/release/deps/*.rlib "$target"/release/build/candle-kernels-*/out/*.a; do
  nm -u "$f" 2>/dev/null || true
done | awk '{print $NF}' | grep -E '^(cu|nvrtc|curand|cublas)[A-Za-z0-9_]*$' | sort -u > "$syms"
stub() { # stub NAME SONAME PATTERN [EXCLUDE]
  local name=$1 soname=$2 pattern=$3 exclude=${4:-^$}
  grep -E "$pattern" "$syms" | grep -Ev "$exclude" | sed 's/.*/void &(void) {}/' > "$stubs/$name.c"
  gcc -shared -fPIC -o "$stubs/lib$name.so" -Wl,-soname,"$soname" "$stubs/$name.c"
}
stub cublasLt libcublasLt.so.13 '^cublasLt'
stub cublas libcublas.so.13 '^cublas' '^cublasLt'
stub curand libcurand.so.10 '^curand'
stub nvrtc libnvrtc.so.13 '^nvrtc'
stub cuda libcuda.so.1 '^cu' '^(cublas|curand|cuda[A-Z])'
ln -sf "$cuda/lib/libcudart.so.13" "$stubs/libcudart.so"
echo "link stubs: $(wc -l < "$syms") symbols in $stubs" >&2
export LIBRARY_PATH="$stubs:$cuda/lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
cargo build --release -p ufom-bench --features cuda --target-dir "$target" "$@" >&2
if [ "${UFOM_CUDA_VERIFY:-0}" = 1 ]; then
  # The verify crate's CUDA checks (operators, device) as standalone test executables, listed
  # in $target/verify-tests.txt (scripts/gpu-bundle.sh ships them).
  cargo test --release -p verify --features cuda --no-run --test operators --test device \
    --target-dir "$target" --message-format=json |
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["executable"])' > "$target/verify-tests.txt"
fi
echo "$target/release/ufom"
