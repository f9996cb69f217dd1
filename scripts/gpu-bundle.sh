#!/usr/bin/env bash
# Packs the CUDA build of `ufom` (scripts/cuda-toolchain.sh) into a relocatable bundle for a GPU
# machine without a Rust toolchain: target/gpu-bundle/ufom-gpu/{bin/ufom, ufom-gpu, README.txt}
# and target/gpu-bundle/ufom-gpu.tar.gz. `ufom-gpu` is a launcher that puts the CUDA libraries it
# finds (cuBLAS, cuRAND, the CUDA runtime from the nvidia-* wheels of a Python environment, a CUDA
# installation, or $UFOM_CUDA_LIBS; libcuda from the driver) on LD_LIBRARY_PATH and runs the
# binary. Prints the sizes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# UFOM_CUDA_VERIFY=0 leaves the verify crate's CUDA tests out (their first build recompiles
# candle's kernels for the test build's features: about 25 min here).
verify="${UFOM_CUDA_VERIFY:-1}"
rm -f "$root/target/cuda-build/verify-tests.txt"
binary=$(UFOM_CUDA_VERIFY="$verify" "$root/scripts/cuda-toolchain.sh")
out="$root/target/gpu-bundle"
rm -rf "$out"
mkdir -p "$out/ufom-gpu/bin"
cp "$binary" "$out/ufom-gpu/bin/ufom"
strip "$out/ufom-gpu/bin/ufom" 2>/dev/null || true
# The verify crate's CUDA checks: bin/verify-operators, bin/verify-device (`ufom-gpu --run`).
while IFS= read -r test; do
  name="verify-$(basename "$test" | sed 's/-[0-9a-f]*$//')"
  cp "$test" "$out/ufom-gpu/bin/$name"
  strip "$out/ufom-gpu/bin/$name" 2>/dev/null || true
done < <(cat "$root/target/cuda-build/verify-tests.txt" 2>/dev/null || true)
cp "$root/scripts/ufom-gpu" "$out/ufom-gpu/ufom-gpu"
chmod +x "$out/ufom-gpu/ufom-gpu"
cat > "$out/ufom-gpu/README.txt" <<'TXT'
ufom, CUDA build (PTX for compute capability 9.0, CUDA 13.0; driver >= 580).

  ./ufom-gpu doctor                       # libraries and device found; GPU vs CPU check
  ./ufom-gpu doctor --time                # + gradient/HVP timings, GPU vs CPU
  VERIFY_REPORT=verify.json ./ufom-gpu --run verify-operators --nocapture   # operator checks
  VERIFY_REPORT=verify.json ./ufom-gpu --run verify-device --nocapture
  ./ufom-gpu bench --device cuda --scale paper --experiment hypercleaning --data-dir DIR

The launcher finds cuBLAS/cuRAND/the CUDA runtime in the nvidia-* packages of the Python on PATH (or of
$UFOM_PYTHON), in /usr/local/cuda, or in $UFOM_CUDA_LIBS (a folder or a :-list).
TXT
tar -C "$out" -czf "$out/ufom-gpu.tar.gz" ufom-gpu
du -sh "$out"/ufom-gpu/bin/* "$out/ufom-gpu.tar.gz" >&2
echo "$out/ufom-gpu.tar.gz"
