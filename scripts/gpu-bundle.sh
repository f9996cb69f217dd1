#!/usr/bin/env bash
# Packs the CUDA build of `ufom` (scripts/cuda-toolchain.sh) into a relocatable bundle for a GPU
# machine without a Rust toolchain: target/gpu-bundle/ufom-gpu/{bin/ufom, ufom-gpu, README.txt}
# and target/gpu-bundle/ufom-gpu.tar.gz. `ufom-gpu` is a launcher that puts the CUDA libraries it
# finds (cuBLAS, cuRAND, the CUDA runtime from the nvidia-* wheels of a Python environment, a CUDA
# installation, or $UFOM_CUDA_LIBS; libcuda from the driver) on LD_LIBRARY_PATH and runs the
# binary. Prints the sizes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
binary=$("$root/scripts/cuda-toolchain.sh")
out="$root/target/gpu-bundle"
rm -rf "$out"
mkdir -p "$out/ufom-gpu/bin"
cp "$binary" "$out/ufom-gpu/bin/ufom"
strip "$out/ufom-gpu/bin/ufom" 2>/dev/null || true
cp "$root/scripts/ufom-gpu" "$out/ufom-gpu/ufom-gpu"
chmod +x "$out/ufom-gpu/ufom-gpu"
cat > "$out/ufom-gpu/README.txt" <<'TXT'
ufom, CUDA build (PTX for compute capability 9.0, CUDA 13.0; driver >= 580).

  ./ufom-gpu doctor                       # libraries and device found; GPU vs CPU check
  ./ufom-gpu bench --device cuda --scale paper --experiment hypercleaning --data-dir DIR

The launcher finds cuBLAS/cuRAND/the CUDA runtime in the nvidia-* packages of the Python on PATH (or of
$UFOM_PYTHON), in /usr/local/cuda, or in $UFOM_CUDA_LIBS (a folder or a :-list).
TXT
tar -C "$out" -czf "$out/ufom-gpu.tar.gz" ufom-gpu
du -sh "$out/ufom-gpu/bin/ufom" "$out/ufom-gpu.tar.gz" >&2
echo "$out/ufom-gpu.tar.gz"
