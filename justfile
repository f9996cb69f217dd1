# Tasks for this workspace (https://github.com/casey/just). CI runs .ci/run.

# Run every test (what CI runs after the lints).
test:
    cargo test --workspace

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Format the code.
fmt:
    cargo fmt --all

# The statistical verification suite alone (records in target/verify.json).
verify:
    cargo test -p verify

# (Tests themselves never write tracked files.)
# Run the whole verification suite and refresh the tracked reports/verify.json from it.
verify-report:
    rm -f target/verify.json
    cargo test -p verify
    cp target/verify.json reports/verify.json

# Every experiment whose data is available (set UFOM_DATA_DIR or pass --data-dir), then the
# estimator map, then the README's result blocks from them.
# Regenerate the reports in reports/ at default scale (2-core CPU, about 32 minutes).
bench *ARGS:
    cargo run --release -p ufom-bench -- bench --scale default --out reports {{ARGS}}
    cargo run --release -p ufom-bench -- map --scale default --out reports
    cargo run --release -p ufom-bench -- report reports --readme README.md

# The bias–variance–cost map alone (default scale, under 10 minutes), then the README's blocks.
map *ARGS:
    cargo run --release -p ufom-bench -- map --scale default --out reports {{ARGS}}
    cargo run --release -p ufom-bench -- report reports --readme README.md

# Re-render Markdown, SVG, bencher.json and the README's result blocks from reports/*.json.
report:
    cargo run --release -p ufom-bench -- report reports --readme README.md

# The whole suite in under a minute (what CI's smoke test runs), into reports/smoke.
bench-smoke *ARGS:
    cargo run --release -p ufom-bench -- bench --scale smoke --out reports/smoke {{ARGS}}

# The paper's sizes (meant for a GPU: add `--device cuda` and build with --features cuda).
bench-paper *ARGS:
    cargo run --release -p ufom-bench -- bench --scale paper --out reports/paper {{ARGS}}

# The engine's oracles on the four reference cases (reports/engine.json), then gradient vs
# HVP and estimators over r (reports/perf.json).
# Criterion performance benches.
perf:
    cargo bench -p ufom-bench --bench engine
    cargo bench -p ufom-bench --bench perf

# Installs the CUDA 13.0 compiler and headers from NVIDIA's PyPI wheels into
# target/cuda-toolchain, then builds target/cuda-build/release/ufom (PTX for compute
# capability $CUDA_COMPUTE_CAP, default 90).
# Build `ufom` with the `cuda` feature here (no GPU or CUDA install needed).
build-cuda *ARGS:
    scripts/cuda-toolchain.sh {{ARGS}}

# Binary + launcher that finds the CUDA libraries, for a GPU machine without Rust.
# The CUDA build as a relocatable bundle: target/gpu-bundle/ufom-gpu.tar.gz.
gpu-bundle:
    scripts/gpu-bundle.sh

# Without a GPU: the bundle's imports resolve in the real cuBLAS/cuRAND/runtime 13.0 wheels,
# and it fails cleanly when the driver reports no device.
# Check the GPU bundle's linking against the real CUDA 13.0 libraries (no GPU needed).
cuda-link-check:
    scripts/cuda-link-check.sh

# What this build finds and whether the device agrees with the CPU (`--device cpu` checks the CPU).
doctor *ARGS:
    cargo run --release -p ufom-bench -- doctor {{ARGS}}
