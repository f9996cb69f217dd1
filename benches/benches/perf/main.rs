//! Criterion performance benches of the hypergradient oracles and estimators, summarised into
//! `reports/perf.json` (`cargo bench -p ufom-bench --bench perf`).
//!
//! * group `engine` and friends ([`engine`]): the four reference cases of the fast-engine work
//!   (MLP n = 1000 / 5000, conv net 8 / 64 filters), autodiff and analytic oracles, matmul
//!   GFLOP/s; written to the `engine` section of the report.
//! * group `oracle`: one inner gradient vs one HVP on a hypercleaning-shaped MLP in f32
//!   ([`ORACLE_SIZE`]); their ratio is the C2/C1 cost ratio of the paper's §4.4.
//! * group `estimator`: every estimator on a small MLP ([`ESTIMATOR_SIZE`]) for each r in [`RS`];
//!   UFOM's ξ is drawn from a seeded rng on every iteration, so its mean time reflects q.
//! * memory: `Estimate::peak_state_bytes` and the calls of one estimate per (estimator, r),
//!   measured outside the timing loops.
//!
//! `reports/perf.json` is only written in benchmark mode (`cargo bench`), never by
//! `cargo bench -- --test`, `--list`, `--profile-time` or `cargo test --benches`, and only if
//! every benchmark produced fresh estimates (a filtered run leaves the report alone).

mod engine;

use anyhow::{Context, Result};
use candle_core::Device;
use criterion::{BenchmarkId, Criterion, SamplingMode};
use hypergrad::problems::{MlpHypercleaning, MlpTask};
use hypergrad::{Autodiff, Counted, Estimator, EstimatorSpec, Oracles, ParamList};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use ufom_bench::harness::perf::cases::{perf_estimators, synthetic_mlp, MlpShape, MNIST_MLP};
use ufom_bench::harness::perf::{summarise, MemoryRow, MlpSize, PerfMeta};
use ufom_bench::harness::store::write_json;

type Orc = Autodiff<MlpHypercleaning>;

/// Inner horizons of the estimator group.
const RS: [usize; 5] = [5, 10, 20, 50, 100];

/// The hypercleaning shape (MNIST-sized inputs), for the oracle timings.
const ORACLE_SIZE: MlpShape = MNIST_MLP;

/// A small MLP, so that the O(r²) recomputing estimator stays affordable at r = 100.
const ESTIMATOR_SIZE: MlpShape = MlpShape {
    n_train: 64,
    n_val: 64,
    dim: 32,
    hidden: 16,
    classes: 10,
};

const ORACLE_WARM_UP: Duration = Duration::from_secs(1);
const ORACLE_MEASURE: Duration = Duration::from_secs(4);
const EST_WARM_UP: Duration = Duration::from_millis(500);
const EST_MEASURE: Duration = Duration::from_secs(2);
/// A randomised estimator's time is a mixture of cheap (ξ = 0) and expensive (ξ = 1) draws:
/// time more of them.
const UFOM_MEASURE: Duration = Duration::from_secs(6);
const SAMPLES: usize = 10;
/// Draws of a randomised estimator when measuring its memory (stops once both branches showed).
const MEMORY_MAX_DRAWS: usize = 64;

fn mlp_size(size: MlpShape, phi: &ParamList) -> MlpSize {
    MlpSize {
        n_train: size.n_train,
        n_val: size.n_val,
        dim: size.dim,
        hidden: size.hidden,
        classes: size.classes,
        phi_params: phi.numel(),
        dtype: "f32".into(),
    }
}

/// (criterion function id, estimator): the catalog's perf settings.
fn estimators() -> Vec<(String, EstimatorSpec)> {
    perf_estimators(true)
}

/// One inner gradient vs one HVP. Returns the problem's size.
fn bench_oracles(c: &mut Criterion) -> Result<MlpSize> {
    let o = Autodiff::new(synthetic_mlp(ORACLE_SIZE, 1, &Device::Cpu)?)?;
    let theta = o.problem().theta_zero()?;
    let phi = o.problem().phi0().clone();
    let task = MlpTask::default();
    let v = o.inner_grad(&theta, &phi, &task)?;
    let mut g = c.benchmark_group("oracle");
    g.sample_size(SAMPLES)
        .warm_up_time(ORACLE_WARM_UP)
        .measurement_time(ORACLE_MEASURE);
    g.bench_function("gradient", |b| {
        b.iter(|| {
            o.inner_grad(black_box(&theta), black_box(&phi), &task)
                .expect("inner gradient")
        })
    });
    g.bench_function("hvp", |b| {
        b.iter(|| {
            o.inner_hvp(black_box(&theta), black_box(&phi), &task, black_box(&v))
                .expect("inner HVP")
        })
    });
    g.finish();
    Ok(mlp_size(ORACLE_SIZE, &phi))
}

/// Calls and peak memory of one estimate (for a randomised estimator: the maximum over draws,
/// stopping once both branches were drawn).
fn measure_memory(
    est: &mut dyn Estimator<Orc>,
    o: &Counted<Orc>,
    theta: &ParamList,
    task: &MlpTask,
    name: &str,
    r: usize,
) -> Result<MemoryRow> {
    let mut rng = ChaCha8Rng::seed_from_u64(1_000 + r as u64);
    let mut row = MemoryRow {
        estimator: name.to_string(),
        r,
        grad_calls: 0,
        hvp_calls: 0,
        mean_calls: None,
        timed_estimates: 0,
        peak_states: 0,
        peak_state_bytes: 0,
    };
    let (mut seen_exact, mut seen_cheap) = (false, false);
    for _ in 0..MEMORY_MAX_DRAWS {
        let before = o.calls();
        let e = est
            .estimate(o, theta, task, &mut rng)
            .with_context(|| format!("{name} at r = {r}"))?;
        let spent = o.calls() - before;
        if spent.total() > row.grad_calls + row.hvp_calls {
            row.grad_calls = spent.grad;
            row.hvp_calls = spent.hvp;
        }
        row.peak_states = row.peak_states.max(e.peak_states);
        row.peak_state_bytes = row.peak_state_bytes.max(e.peak_state_bytes);
        match e.exact_drawn() {
            None => break,
            Some(true) => seen_exact = true,
            Some(false) => seen_cheap = true,
        }
        if seen_exact && seen_cheap {
            break;
        }
    }
    Ok(row)
}

/// Every estimator at every r. Returns memory rows (with the mean calls of the timed
/// iterations) when `measure` is set.
fn bench_estimators(c: &mut Criterion, measure: bool) -> Result<(MlpSize, Vec<MemoryRow>)> {
    let problems: Vec<(usize, Counted<Orc>)> = RS
        .iter()
        .map(|&r| {
            Ok((
                r,
                Counted::new(Autodiff::new(synthetic_mlp(
                    ESTIMATOR_SIZE,
                    r,
                    &Device::Cpu,
                )?)?),
            ))
        })
        .collect::<Result<_>>()?;
    let size = mlp_size(ESTIMATOR_SIZE, problems[0].1.inner().problem().phi0());
    let task = MlpTask::default();
    let mut rows = Vec::new();
    let mut g = c.benchmark_group("estimator");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(SAMPLES)
        .warm_up_time(EST_WARM_UP);
    for (name, spec) in estimators() {
        g.measurement_time(if spec.is_randomised() {
            UFOM_MEASURE
        } else {
            EST_MEASURE
        });
        for (r, o) in &problems {
            let r = *r;
            let theta = o.inner().problem().theta_zero()?;
            let mut est = spec.build_with_reference::<Orc>()?;
            let mut row = if measure {
                Some(measure_memory(est.as_mut(), o, &theta, &task, &name, r)?)
            } else {
                None
            };
            let mut rng = ChaCha8Rng::seed_from_u64(r as u64);
            let before = o.calls();
            let mut n = 0u64;
            g.bench_with_input(BenchmarkId::new(name.as_str(), r), &r, |b, _| {
                b.iter(|| {
                    n += 1;
                    est.estimate(o, black_box(&theta), &task, &mut rng)
                        .expect("estimate")
                })
            });
            if let Some(row) = row.as_mut() {
                row.timed_estimates = n;
                row.mean_calls = (n > 0).then(|| (o.calls() - before).total() as f64 / n as f64);
            }
            rows.extend(row);
        }
    }
    g.finish();
    Ok((size, rows))
}

/// Criterion's output directory, set explicitly so the summariser reads where criterion wrote:
/// `$CRITERION_HOME`, else `<target>/criterion` next to this executable
/// (`<target>/<profile>/deps/perf-<hash>`), else `<workspace>/target/criterion`.
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.join("criterion")))
        .unwrap_or_else(|| workspace_root().join("target").join("criterion"))
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Whether criterion will really benchmark (as opposed to `--test`, `--list`, `--profile-time`
/// or `cargo test --benches`, which passes no `--bench`), mirroring `configure_from_args`.
fn benchmark_mode() -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    has("--bench")
        && !has("--test")
        && !has("--list")
        && !args.iter().any(|a| a.starts_with("--profile-time"))
}

fn main() -> Result<()> {
    let process = ufom_bench::process::configure();
    // Slack for file systems with coarse modification times.
    let started = SystemTime::now() - Duration::from_secs(2);
    let bench_mode = benchmark_mode();
    let dir = criterion_dir();
    let mut c = Criterion::default()
        .output_directory(&dir)
        .configure_from_args();

    engine::bench(&mut c)?;
    let oracle_problem = bench_oracles(&mut c)?;
    let (estimator_problem, memory) = bench_estimators(&mut c, bench_mode)?;
    c.final_summary();
    if !bench_mode {
        return Ok(());
    }

    let root = workspace_root();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut notes = vec![
        format!(
            "oracle: one inner gradient ∂L_in/∂φ vs one HVP [(∂²L_in/∂θ∂φ)ᵀv, (∂²L_in/∂φ²)ᵀv] \
             (reverse-over-reverse) at θ = 0, φ = φ0, all {} training examples; \
             hvp_over_gradient is the C2/C1 cost ratio of the paper's §4.4",
            ORACLE_SIZE.n_train
        ),
        format!(
            "estimators: one hypergradient estimate at θ = 0 on the full-batch task, r ∈ {RS:?}, \
             α = 1, last inner step folded into L_out; the randomised estimators (ufom, adaptive) draw \
             ξ from a seeded rng on every iteration, so their mean time and mean_calls average \
             over ξ"
        ),
        "grad_calls/hvp_calls: one estimate measured outside the timing loop (for ufom the \
         costliest of the draws measured, i.e. the ξ = 1 branch when drawn); mean_calls: mean \
         over every estimate the timing loop made, warm-up included; seconds_per_call = \
         time.mean_s / mean_calls"
            .to_string(),
        "peak_state_bytes: Estimate::peak_state_bytes (inner states φ_j held at once; for stored \
         exact and truncated also the gradient graphs they keep, measured as the distinct tensor \
         storages the graphs hold that depend on θ or φ), deterministic; unrolled reports its \
         r + 1 states only (the graph it builds inside the oracle is not counted: a lower \
         bound). Unrolled's time grows \
         ~r²: each inner step's backward pass traverses the graph of all earlier steps"
            .to_string(),
        "time/calls/peak-bytes exponents: least-squares slopes on log-log axes over r; fixed \
         per-estimate costs (outer gradient, folded step) pull time exponents below 1 or 2 at \
         small r"
            .to_string(),
    ];
    if let Ok(t) = std::env::var("RAYON_NUM_THREADS") {
        notes.push(format!("RAYON_NUM_THREADS={t}"));
    }
    let meta = PerfMeta {
        // The commit the bench was built from (as the experiment reports record it).
        git_commit: ufom_bench::harness::env::git_commit(),
        threads,
        platform: format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
        device: "cpu".into(),
        oracle_group: "oracle".into(),
        gradient_id: "gradient".into(),
        hvp_id: "hvp".into(),
        oracle_problem,
        estimator_group: "estimator".into(),
        estimator_problem,
        settings: format!(
            "criterion 0.7; oracle: {SAMPLES} samples, {ORACLE_WARM_UP:?} warm-up, \
             {ORACLE_MEASURE:?} measurement; estimator: flat sampling, {SAMPLES} samples, \
             {EST_WARM_UP:?} warm-up, {EST_MEASURE:?} measurement ({UFOM_MEASURE:?} for ufom); \
             estimates that take longer than the measurement time still get {SAMPLES} samples"
        ),
        skipped: vec![
            "adaptive UFOM is not benchmarked (its q follows running variance estimates, so its \
             time is a property of the outer run, not of r)"
                .to_string(),
        ],
        notes,
        fresh_since: Some(started),
    };
    let report = summarise(&dir, &memory, &meta).and_then(|mut report| {
        report.engine = Some(engine::summarise(&dir, started, process)?);
        Ok(report)
    });
    match report {
        Ok(report) => {
            let path = root.join("reports").join("perf.json");
            write_json(&path, &report)?;
            eprintln!("wrote {}", path.display());
        }
        Err(e) => eprintln!("reports/perf.json not written: {e:#}"),
    }
    Ok(())
}
