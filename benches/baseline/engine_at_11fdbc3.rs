// The bench that measured the "before" column of reports/perf_fast_engine.json: the engine
// cases of benches/benches/perf/engine.rs as they compile at commit 11fdbc3 (stock candle,
// no analytic twin). Not built here; to rerun: `git worktree add ../baseline 11fdbc3`, copy
// this file to ../baseline/benches/benches/engine.rs, add `[[bench]] name = "engine"
// harness = false` to its benches/Cargo.toml, `cargo bench -p ufom-bench --bench engine`.

//! Criterion benches of the engine's oracles on the four cases of the fast-engine work, written
//! to `reports/engine.json` (`cargo bench -p ufom-bench --bench engine`, `just perf`).
//!
//! * `engine_<case>`: one inner gradient ∂L_in/∂φ and one HVP [(∂²L_in/∂θ∂φ)ᵀv, ∇²_φ L_in v]
//!   in f32 — `autodiff` (candle reverse mode, reverse-over-reverse) and, for the MLP, the
//!   hand-derived twin `analytic` (`MlpAnalytic`, R-operator HVP).
//!   Cases: hypercleaning MLP n = 1000 and n = 5000 (784→256→10, θ ∈ Rⁿ), few-shot conv net
//!   20-way 1-shot with 8 and 64 filters (28×28 inputs, 4 blocks).
//! * `hypergradient_r10`: one hypergradient per estimator at r = 10 on the MLP n = 1000
//!   (last step folded, α = 1), through each oracle implementation.
//! * `matmul`: a 1000×784 by 784×256 f32 product, for the machine's GFLOP/s and the FLOP floor.
//!
//! Only benchmark mode (`cargo bench`) writes the report. Nothing here asserts on time.

use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor};
use criterion::{Criterion, SamplingMode};
use hypergrad::problems::{
    synthetic_source, ConvNet, Maml, MlpConfig, MlpData, MlpHypercleaning, MlpTask,
};
use hypergrad::{Autodiff, Counted, EstimatorSpec, Oracles, ParamList, UnrolledReference};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use ufom_bench::harness::perf::read_timing;
use ufom_bench::harness::store::write_json;

const SAMPLES: usize = 10;
const WARM_UP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(3);
const R: usize = 10;
const UFOM_Q: f64 = 0.1;

/// Reference figures measured on this project's machine (2-core Zen 5, f32, medians of 3) by an
/// independent JAX twin of the same computations (issue "fast engine"), in ms: (gradient, HVP).
fn jax_reference(case: &str) -> Option<(f64, f64)> {
    match case {
        "mlp_n1000" => Some((2.1, 3.0)),
        "mlp_n5000" => Some((14.3, 16.4)),
        "conv_f8" => Some((0.52, 1.24)),
        "conv_f64" => Some((2.3, 5.5)),
        _ => None,
    }
}

fn mlp(n: usize, steps: usize) -> Result<MlpHypercleaning> {
    let (data, _) = MlpData::synthetic(n, 100, 784, 10, 0.1, 0, DType::F32, &Device::Cpu)?;
    Ok(MlpHypercleaning::new(
        data,
        MlpConfig {
            hidden: 256,
            steps,
            alpha: 1.0,
            fold_last_step: true,
            init_seed: 0,
            task_batch: None,
        },
    )?)
}

/// FLOPs of the big products of one MLP gradient (X W1, A W2 forward; dW2, dA, dW1 backward)
/// and of one HVP by the R-operator (adds X V1 and the R-products of the small layer).
fn mlp_flops(n: usize, d: usize, h: usize, c: usize) -> (f64, f64) {
    let (n, d, h, c) = (n as f64, d as f64, h as f64, c as f64);
    let grad = 4.0 * n * d * h + 6.0 * n * h * c;
    let hvp = 6.0 * n * d * h + 12.0 * n * h * c;
    (grad, hvp)
}

/// The gradient and HVP benches of one oracle implementation; returns nothing, criterion
/// records the times.
fn bench_pair<O: Oracles>(
    c: &mut Criterion,
    group: &str,
    label: &str,
    o: &O,
    theta: &ParamList,
    phi: &ParamList,
    task: &O::Task,
) -> Result<()> {
    let v = o.inner_grad(theta, phi, task)?;
    let mut g = c.benchmark_group(group);
    g.sample_size(SAMPLES)
        .warm_up_time(WARM_UP)
        .measurement_time(MEASURE);
    g.bench_function(format!("gradient_{label}"), |b| {
        b.iter(|| {
            o.inner_grad(black_box(theta), black_box(phi), task)
                .expect("gradient")
        })
    });
    g.bench_function(format!("hvp_{label}"), |b| {
        b.iter(|| {
            o.inner_hvp(black_box(theta), black_box(phi), task, black_box(&v))
                .expect("hvp")
        })
    });
    g.finish();
    Ok(())
}

/// Every estimator once per iteration at r = 10 through oracles `O`.
fn bench_estimators<O: UnrolledReference + 'static>(
    c: &mut Criterion,
    label: &str,
    o: &Counted<O>,
    theta: &ParamList,
    task: &O::Task,
) -> Result<()> {
    let mut g = c.benchmark_group("hypergradient_r10");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(SAMPLES)
        .warm_up_time(WARM_UP)
        .measurement_time(MEASURE);
    for (name, spec) in estimator_specs() {
        let mut est = spec.build::<O>()?;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        g.bench_function(format!("{name}_{label}"), |b| {
            b.iter(|| {
                est.estimate(o, black_box(theta), task, &mut rng)
                    .expect("estimate")
            })
        });
    }
    g.finish();
    Ok(())
}

fn estimator_specs() -> Vec<(String, EstimatorSpec)> {
    vec![
        ("fom".into(), EstimatorSpec::Fom),
        ("stored_exact".into(), EstimatorSpec::Exact),
        ("recompute_exact".into(), EstimatorSpec::Recompute),
        (format!("ufom_q{UFOM_Q}"), EstimatorSpec::Ufom { q: UFOM_Q }),
    ]
}

/// One conv-net case: θ from the network's initialiser, one synthetic 20-way 1-shot task.
fn conv_case(filters: usize) -> Result<(Autodiff<Maml>, ParamList, hypergrad::problems::MamlTask)> {
    let net = ConvNet::omniglot(20, filters);
    let source = synthetic_source(net.clone(), 1, 1, DType::F32, Device::Cpu);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let task = source(&mut rng)?;
    let theta = net.init(0, DType::F32, &Device::Cpu)?;
    let problem = Maml::new(net, 1, 0.1)?.with_source(source);
    Ok((Autodiff::new(problem)?, theta, task))
}

fn bench_matmul(c: &mut Criterion) -> Result<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let a = Tensor::randn(0f32, 1.0, (1000, 784), &Device::Cpu)?;
    let b = Tensor::randn(0f32, 1.0, (784, 256), &Device::Cpu)?;
    let _ = &mut rng;
    let mut g = c.benchmark_group("matmul");
    g.sample_size(SAMPLES)
        .warm_up_time(WARM_UP)
        .measurement_time(MEASURE);
    g.bench_function("f32_1000x784x256", |bch| {
        bch.iter(|| black_box(&a).matmul(black_box(&b)).expect("matmul"))
    });
    g.finish();
    Ok(2.0 * 1000.0 * 784.0 * 256.0)
}

#[derive(Serialize)]
struct CaseRow {
    case: String,
    oracles: String,
    gradient_ms: f64,
    hvp_ms: f64,
    hvp_over_gradient: f64,
    gradient_flops: Option<f64>,
    hvp_flops: Option<f64>,
    gradient_floor_ms: Option<f64>,
    hvp_floor_ms: Option<f64>,
    jax_gradient_ms: Option<f64>,
    jax_hvp_ms: Option<f64>,
    gradient_over_jax: Option<f64>,
    hvp_over_jax: Option<f64>,
}

#[derive(Serialize)]
struct EngineReport {
    schema_version: u32,
    git_commit: Option<String>,
    platform: String,
    threads: usize,
    matmul_gflops: f64,
    cases: Vec<CaseRow>,
    /// `<estimator>_<oracles>` → ms per hypergradient at r = 10 on the MLP n = 1000.
    hypergradient_r10_ms: BTreeMap<String, f64>,
    notes: Vec<String>,
}

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

fn git_commit(root: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root)
        .output()
        .ok()?;
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
}

fn benchmark_mode() -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    has("--bench")
        && !has("--test")
        && !has("--list")
        && !args.iter().any(|a| a.starts_with("--profile-time"))
}

const CASES: [&str; 4] = ["mlp_n1000", "mlp_n5000", "conv_f8", "conv_f64"];

fn main() -> Result<()> {
    let started = SystemTime::now() - Duration::from_secs(2);
    let dir = criterion_dir();
    let mut c = Criterion::default()
        .output_directory(&dir)
        .configure_from_args();

    let flop = bench_matmul(&mut c)?;
    let mut flops = BTreeMap::new();
    for (case, n) in [("mlp_n1000", 1000usize), ("mlp_n5000", 5000)] {
        let p = mlp(n, 1)?;
        let theta = p.theta_zero()?;
        let phi = p.phi0().clone();
        let task = MlpTask::default();
        bench_pair(&mut c, case, "autodiff", &Autodiff::new(p.clone())?, &theta, &phi, &task)?;
        flops.insert(case, mlp_flops(n, 784, 256, 10));
    }
    for (case, filters) in [("conv_f8", 8usize), ("conv_f64", 64)] {
        let (o, theta, task) = conv_case(filters)?;
        bench_pair(&mut c, case, "autodiff", &o, &theta, &theta, &task)?;
    }
    {
        let p = mlp(1000, R)?;
        let theta = p.theta_zero()?;
        let task = MlpTask::default();
        bench_estimators(&mut c, "autodiff", &Counted::new(Autodiff::new(p.clone())?), &theta, &task)?;
    }
    c.final_summary();
    if !benchmark_mode() {
        return Ok(());
    }

    let time_ms = |group: &str, id: &str| -> Result<f64> {
        Ok(read_timing(&dir, group, id, None, Some(started))
            .with_context(|| format!("{group}/{id}"))?
            .mean_s
            * 1e3)
    };
    let gflops = flop / (time_ms("matmul", "f32_1000x784x256")? * 1e-3) / 1e9;
    let mut cases = Vec::new();
    for case in CASES {
        for oracles in ["autodiff", "analytic"] {
            let Ok(g) = time_ms(case, &format!("gradient_{oracles}")) else {
                continue;
            };
            let h = time_ms(case, &format!("hvp_{oracles}"))?;
            let f = flops.get(case).copied();
            let jax = jax_reference(case);
            cases.push(CaseRow {
                case: case.into(),
                oracles: oracles.into(),
                gradient_ms: g,
                hvp_ms: h,
                hvp_over_gradient: h / g,
                gradient_flops: f.map(|f| f.0),
                hvp_flops: f.map(|f| f.1),
                gradient_floor_ms: f.map(|f| f.0 / (gflops * 1e9) * 1e3),
                hvp_floor_ms: f.map(|f| f.1 / (gflops * 1e9) * 1e3),
                jax_gradient_ms: jax.map(|j| j.0),
                jax_hvp_ms: jax.map(|j| j.1),
                gradient_over_jax: jax.map(|j| g / j.0),
                hvp_over_jax: jax.map(|j| h / j.1),
            });
        }
    }
    let mut hyper = BTreeMap::new();
    for (name, _) in estimator_specs() {
        for oracles in ["autodiff", "analytic"] {
            let id = format!("{name}_{oracles}");
            if let Ok(t) = time_ms("hypergradient_r10", &id) { hyper.insert(id.clone(), t); }
        }
    }
    let root = workspace_root();
    let report = EngineReport {
        schema_version: 1,
        git_commit: git_commit(&root),
        platform: format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        matmul_gflops: gflops,
        cases,
        hypergradient_r10_ms: hyper,
        notes: vec![
            "times: criterion mean of 10 samples, f32, θ = 0, φ = φ0 (MLP) or the initialiser's θ (conv)".into(),
            "floor: the FLOPs of the big products divided by the matmul GFLOP/s measured in this run".into(),
            "jax_*: an independent JAX twin measured on this machine kind (fast-engine issue), not rerun here".into(),
            format!("hypergradient_r10: one estimate at θ = 0, full-batch task, ufom q = {UFOM_Q} (mean over draws of ξ)"),
        ],
    };
    let path = root.join("engine_baseline.json");
    write_json(&path, &report)?;
    eprintln!("wrote {}", path.display());
    Ok(())
}
