//! `just perf-jax`: the JAX twin of the reference cases (`benches/reference/jax_twin.py`)
//! measured beside ufom's oracles, into the `engine` section of `reports/perf.json`
//! ([`ufom_bench::harness::perf::jax`]).
//!
//! `cargo bench -p ufom-bench --bench perf_jax` with the twin's Python in `UFOM_JAX_PYTHON`
//! (default `target/jax-venv/bin/python`, which `just perf-jax` installs). Per case and for each
//! of its oracle implementations: the twin's values on ufom's inputs are checked first, then
//! `UFOM_JAX_ROUNDS` (default 5) ufom rounds and as many JAX rounds alternate, each the median
//! of `UFOM_JAX_REPS` (default 10) calls after 2 untimed ones. `reports/perf.json` must hold an
//! `engine` section (`just perf`); the other sections are left as they are. Without a working
//! twin the JAX fields are removed and the exit code is 2.

use anyhow::{bail, Context, Result};
use candle_core::Device;
use std::path::{Path, PathBuf};
use ufom_bench::harness::perf::cases::{bind, BoundOracles, REFERENCE_CASES};
use ufom_bench::harness::perf::engine::JaxRun;
use ufom_bench::harness::perf::jax::{
    case_data, compare_case, merge, model, Rounds, Twin, TOLERANCE, TWIN_SCRIPT,
};
use ufom_bench::harness::perf::PerfReport;
use ufom_bench::harness::report::perf_block::engine_block;
use ufom_bench::harness::store::{read_json, write_json};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn env_usize(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) => match v.parse() {
            Ok(n) if n > 0 => Ok(n),
            _ => bail!("{name}={v}: needs a positive integer"),
        },
        Err(_) => Ok(default),
    }
}

fn main() -> Result<()> {
    let process = ufom_bench::process::configure();
    // `cargo test --benches` runs bench targets without `--bench`: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    // `cargo bench -- --test` (CI's pass over every bench target): criterion's test mode
    // measures and writes nothing, so neither does this; the comparison's logic is tested in
    // `harness::perf::jax::tests`, and the twin needs a Python with jax that CI lacks.
    if std::env::args().any(|a| a == "--test") {
        eprintln!("perf-jax: test mode: nothing measured, reports/perf.json untouched");
        return Ok(());
    }
    let rounds = Rounds {
        rounds: env_usize("UFOM_JAX_ROUNDS", 5)?,
        reps: env_usize("UFOM_JAX_REPS", 10)?,
        warm_up: 2,
    };
    let root = workspace_root();
    let path = root.join("reports").join("perf.json");
    let mut report: PerfReport =
        read_json(&path).with_context(|| format!("{} (run `just perf` first)", path.display()))?;
    let Some(engine) = report.engine.as_mut() else {
        bail!(
            "{} has no engine section: run `just perf` first",
            path.display()
        );
    };
    let python = std::env::var_os("UFOM_JAX_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/jax-venv/bin/python"));
    let mut twin = match Twin::spawn(&python, &root.join(TWIN_SCRIPT)) {
        Ok(twin) => twin,
        Err(e) => {
            let had_jax = engine.jax.is_some();
            merge(engine, None);
            if had_jax {
                write_json(&path, &report)?;
            }
            eprintln!(
                "perf-jax: no JAX twin with {}: {e:#}\nperf-jax: {} has no JAX fields",
                python.display(),
                path.display()
            );
            std::process::exit(2);
        }
    };
    let v = twin.versions.clone();
    eprintln!(
        "JAX {} (jaxlib {}, numpy {}, Python {}) on {:?}; {} rounds of {} calls each side",
        v.jax, v.jaxlib, v.numpy, v.python, v.devices, rounds.rounds, rounds.reps
    );
    let dir = root.join("target").join("jax-twin");
    let mut comparisons = Vec::new();
    for (name, case) in REFERENCE_CASES {
        eprintln!("{name}: {:?}", case.oracles());
        let oracles: Vec<(String, Box<dyn BoundOracles>)> = case
            .oracles()
            .iter()
            .map(|o| Ok((o.to_string(), bind(case, o, &Device::Cpu)?)))
            .collect::<Result<_>>()?;
        let (x, y) = case_data(case, &Device::Cpu)?;
        let c = compare_case(
            &mut twin,
            name,
            model(case),
            &oracles,
            (&x, &y),
            &dir,
            rounds,
        );
        for c in &c {
            if let Some(why) = &c.refused {
                eprintln!("  {}: no ratio: {why}", c.oracles);
            }
        }
        comparisons.extend(c);
    }
    drop(twin);
    let run = JaxRun {
        command: "just perf-jax".into(),
        twin: TWIN_SCRIPT.into(),
        git_commit: ufom_bench::harness::env::git_commit(),
        versions: v,
        rounds: rounds.rounds,
        reps: rounds.reps,
        warm_up: rounds.warm_up,
        tolerance: TOLERANCE,
        process,
        refused: vec![],
        notes: vec![
            "same inputs: ufom writes θ, φ, the task's data and v (its gradient) to \
             target/jax-twin/<case>.in.safetensors; the twin's gradient and HVP pair on them \
             are compared with each oracle implementation before any timing (jax_rel_error: \
             the largest ‖twin − ufom‖/‖ufom‖ over the gradient and the two HVP parts)"
                .into(),
            "JAX: jax.jit, f32, CPU; gradient jax.grad wrt φ, HVP pair by forward-over-reverse \
             (jax.jvp of jax.grad wrt (θ, φ) along (0, v)); every call followed by \
             block_until_ready; timed after compilation"
                .into(),
            "alternated: per case, a ufom round (every oracle implementation) then a JAX round, \
             repeated; each round is the median of its calls after the warm-up; paired_*_ms \
             and jax_*_ms are the medians of the rounds; *_over_jax = paired / jax (above 1: \
             ufom slower)"
                .into(),
        ],
    };
    merge(engine, Some((run, &comparisons)));
    write_json(&path, &report)?;
    let engine = report.engine.as_ref().context("engine section")?;
    println!("{}", engine_block(engine));
    eprintln!("wrote the JAX fields of {}", path.display());
    Ok(())
}
