#!/usr/bin/env bash
# Builds `ufom` with the `cuda` feature on a machine without a CUDA installation (no GPU needed):
# installs the CUDA 13.0 compiler (nvcc, its NVVM back end and CRT headers) and the runtime and
# CCCL headers from NVIDIA's PyPI wheels into target/cuda-toolchain/, then runs
#   cargo build --release -p ufom-bench --features cuda --target-dir target/cuda-build
# with CUDA_HOME/PATH pointing there. The PTX is compiled for compute capability
# $CUDA_COMPUTE_CAP (default 90: H100/H200); CUDA 13.0's PTX (ISA 9.0) loads on drivers >= 580.
# Prints the binary's path. Needs python3 with pip (PyPI reachable) and gcc <= 14.
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
# The build runs no CUDA code; the runtime library is only needed if something links it.
export LIBRARY_PATH="$cuda/lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
cargo build --release -p ufom-bench --features cuda --target-dir "$root/target/cuda-build" "$@" >&2
echo "$root/target/cuda-build/release/ufom"
