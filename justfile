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

# Run the verification suite and its calibration, and refresh the tracked reports/verify.json from them (tests never write it).
verify-report:
    rm -f target/verify.json
    cargo test -p verify
    cargo test -p verify --release --test calibration -- --ignored
    cp target/verify.json reports/verify.json
    cargo run --release -p ufom-bench -- report reports --readme README.md
    cargo run --release -p ufom-bench -- report reports --readme verify/README.md

# Calibrate verify's unbiasedness test (4.5–7 min): its records into reports/verify.json, then the READMEs' calibration tables from them.
calibrate:
    VERIFY_REPORT="{{justfile_directory()}}/reports/verify.json" cargo test -p verify --release --test calibration -- --ignored --nocapture
    cargo run --release -p ufom-bench -- report reports --readme README.md
    cargo run --release -p ufom-bench -- report reports --readme verify/README.md

# Default scale into reports/: every experiment with data (UFOM_DATA_DIR or --data-dir), the map, the README's blocks (about 20 min on 2 cores at the default --jobs).
bench *ARGS:
    cargo run --release -p ufom-bench -- bench --scale default --out reports {{ARGS}}
    cargo run --release -p ufom-bench -- map --scale default --out reports
    cargo run --release -p ufom-bench -- report reports --readme README.md

# The bias–variance–cost map alone (default scale, about 1.3 min), then the README's blocks.
map *ARGS:
    cargo run --release -p ufom-bench -- map --scale default --out reports {{ARGS}}
    cargo run --release -p ufom-bench -- report reports --readme README.md

# Regenerate reports/schema/*.json from the report types (a test fails when they are stale).
schema:
    cargo run --release -p ufom-bench -- schema --out reports/schema

# Re-render Markdown, SVG, bencher.json and the READMEs' result blocks from reports/*.json.
report:
    cargo run --release -p ufom-bench -- report reports --readme README.md
    cargo run --release -p ufom-bench -- report reports --readme verify/README.md

# The command-line generator (benches/tests/fuzz_cli.rs) and the byte-level reader fuzzers with many more cases than CI's (default 2000).
fuzz CASES="2000":
    FUZZ_CASES={{CASES}} cargo test --release -p ufom-bench --test fuzz_cli -- --nocapture
    PROPTEST_CASES={{CASES}} cargo test --release -p ufom-datasets --test fuzz_readers -- --nocapture
    PROPTEST_CASES={{CASES}} cargo test --release -p ufom-bench --test fuzz_files -- --nocapture

# The whole suite at smoke scale in seconds (what CI's bench_smoke test runs), into reports/smoke.
bench-smoke *ARGS:
    cargo run --release -p ufom-bench -- bench --scale smoke --out reports/smoke {{ARGS}}

# The paper's sizes into reports/paper with this CPU build (meant for a GPU: the cuda build's `ufom bench --scale paper --device cuda`).
bench-paper *ARGS:
    cargo run --release -p ufom-bench -- bench --scale paper --out reports/paper {{ARGS}}

# Criterion benches into reports/perf.json (about 6 min after a 2 min build); arguments go to cargo, e.g. `-- '^matmul'`.
[positional-arguments]
perf *ARGS:
    #!/usr/bin/env bash
    set -euo pipefail
    cargo bench --workspace --bench perf "$@"
    # After a measuring run (not CI's `--no-run`), the README's engine block from the new perf.json.
    case " $* " in *" --no-run "*) ;; *) cargo run --release -p ufom-bench -- report reports --readme README.md ;; esac

# After `just perf`: a JAX twin of the engine's reference cases (benches/reference/jax_twin.py) installed into target/jax-venv and timed alternately with ufom's oracles; its figures and ratios into reports/perf.json (none if jax cannot be installed or imported).
perf-jax:
    #!/usr/bin/env bash
    set -u
    venv=target/jax-venv
    if ! { [ -x "$venv/bin/python" ] || python3 -m venv "$venv"; } \
        || ! "$venv/bin/python" -m pip install --disable-pip-version-check -q -r benches/reference/requirements.txt; then
        echo "perf-jax: could not install benches/reference/requirements.txt into $venv (pip needs the network once)" >&2
    fi
    # Fails with exit code 2, and leaves no JAX field in reports/perf.json, if the twin cannot import jax.
    cargo bench -p ufom-bench --bench perf_jax; status=$?
    # The README's engine block, with or without JAX columns; the twin's exit code stands.
    cargo run --release -p ufom-bench -- report reports --readme README.md
    exit $status

# Build target/cuda-build/release/ufom with `cuda`, no GPU needed (CUDA 13.0 from PyPI wheels into target/cuda-toolchain).
build-cuda *ARGS:
    scripts/cuda-toolchain.sh {{ARGS}}

# The CUDA build, verify's CUDA tests and a launcher, for a GPU machine without Rust: target/gpu-bundle/ufom-gpu.tar.gz.
gpu-bundle:
    scripts/gpu-bundle.sh

# After gpu-bundle, no GPU needed: its CUDA imports resolve in the real 13.0 libraries and it fails cleanly without a device.
cuda-link-check:
    scripts/cuda-link-check.sh

# What this build finds and whether the device agrees with the CPU (`--device cpu` checks the CPU).
doctor *ARGS:
    cargo run --release -p ufom-bench -- doctor {{ARGS}}
