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

# The statistical verification suite alone.
verify:
    cargo test -p verify

# Benchmarks: for now one hypergradient per estimator on the counterexample.
bench:
    for e in fom exact recompute unrolled adaptive; do cargo run --release -q -p ufom-bench -- hypergrad --problem counterexample --theta 3 --estimator $e; done
    cargo run --release -q -p ufom-bench -- hypergrad --problem counterexample --theta 3 --estimator ufom --q 0.1
