//! The `engine` group of the perf bench: the oracles on the four reference cases of the
//! fast-engine work, summarised into the `engine` section of `reports/perf.json`
//! ([`ufom_bench::harness::perf::engine`]).
//!
//! * `<case>` (one group per case): one inner gradient ∂L_in/∂φ and one HVP [(∂²L_in/∂θ∂φ)ᵀv, ∇²_φ L_in v]
//!   in f32 — `autodiff` (candle reverse mode, reverse-over-reverse) and the hand-derived
//!   twin `analytic` (`MlpAnalytic`, `MamlAnalytic`: R-operator HVP). Cases: hypercleaning MLP
//!   n = 1000 and n = 5000 (784→256→10, θ ∈ Rⁿ), few-shot conv net 20-way 1-shot with 8 and 64
//!   filters (28×28 inputs, 4 blocks).
//! * `hypergradient_r10`: one hypergradient per estimator at r = 10 on the MLP n = 1000 (last
//!   step folded, α = 1), through each oracle implementation.
//! * `matmul`: a 1000×784 by 784×256 f32 product, for the machine's GFLOP/s and the FLOP floor.

use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use criterion::{Criterion, SamplingMode};
use hypergrad::problems::{MlpAnalytic, MlpHypercleaning, MlpTask};
use hypergrad::{Autodiff, Counted, Oracles, ParamList};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, SystemTime};
use ufom_bench::harness::perf::cases::{
    bind, mnist_mlp, perf_estimators, BoundOracles, ReferenceCase, MNIST_MLP, REFERENCE_CASES,
};
use ufom_bench::harness::perf::engine::{mlp_flops, EngineCase, EngineReport};
use ufom_bench::harness::perf::read_timing;
use ufom_bench::process::ProcessSettings;

const SAMPLES: usize = 10;
const WARM_UP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(3);
const R: usize = 10;
/// Training examples of the `hypergradient_r10` group's MLP.
const R10_N: usize = 1000;

/// The hypercleaning MLP with n training examples on the CPU (the oracle group's shape
/// otherwise).
fn mlp(n: usize, steps: usize) -> Result<MlpHypercleaning> {
    mnist_mlp(n, steps, &Device::Cpu)
}

/// The gradient and HVP benches of one oracle implementation (v = its gradient); returns
/// nothing, criterion records the times.
fn bench_pair(c: &mut Criterion, group: &str, label: &str, o: &dyn BoundOracles) -> Result<()> {
    let v = o.gradient()?;
    let mut g = c.benchmark_group(group);
    g.sample_size(SAMPLES)
        .warm_up_time(WARM_UP)
        .measurement_time(MEASURE);
    g.bench_function(format!("gradient_{label}"), |b| {
        b.iter(|| o.gradient().expect("gradient"))
    });
    g.bench_function(format!("hvp_{label}"), |b| {
        b.iter(|| o.hvp(black_box(&v)).expect("hvp"))
    });
    g.finish();
    Ok(())
}

/// Every estimator once per iteration at r = 10 through oracles `O`.
fn bench_estimators<O: Oracles + 'static>(
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

/// The estimators timed at r = 10, by label: the catalog's perf settings, but the unrolled
/// reference (timed in the `estimator` group).
fn estimator_specs() -> Vec<(String, hypergrad::EstimatorSpec)> {
    perf_estimators(false)
}

/// FLOPs of the timed matmul.
const MATMUL_FLOPS: f64 = 2.0 * 1000.0 * 784.0 * 256.0;

fn bench_matmul(c: &mut Criterion) -> Result<()> {
    let a = Tensor::randn(0f32, 1.0, (1000, 784), &Device::Cpu)?;
    let b = Tensor::randn(0f32, 1.0, (784, 256), &Device::Cpu)?;
    let mut g = c.benchmark_group("matmul");
    g.sample_size(SAMPLES)
        .warm_up_time(WARM_UP)
        .measurement_time(MEASURE);
    g.bench_function("f32_1000x784x256", |bch| {
        bch.iter(|| black_box(&a).matmul(black_box(&b)).expect("matmul"))
    });
    g.finish();
    Ok(())
}

/// Runs every benchmark of the group.
pub fn bench(c: &mut Criterion) -> Result<()> {
    bench_matmul(c)?;
    for (case, reference) in REFERENCE_CASES {
        for oracles in reference.oracles() {
            bench_pair(
                c,
                case,
                oracles,
                bind(reference, oracles, &Device::Cpu)?.as_ref(),
            )?;
        }
    }
    let p = mlp(R10_N, R)?;
    let theta = p.theta_zero()?;
    let task = MlpTask::default();
    let autodiff = Counted::new(Autodiff::new(p.clone())?);
    bench_estimators(c, "autodiff", &autodiff, &theta, &task)?;
    bench_estimators(
        c,
        "analytic",
        &Counted::new(MlpAnalytic::new(p)?),
        &theta,
        &task,
    )?;
    Ok(())
}

/// The section of `reports/perf.json`, from criterion's estimates of this run.
pub fn summarise(dir: &Path, since: SystemTime, process: ProcessSettings) -> Result<EngineReport> {
    let time_ms = |group: &str, id: &str| -> Result<f64> {
        Ok(read_timing(dir, group, id, None, Some(since))
            .with_context(|| format!("{group}/{id}"))?
            .mean_s
            * 1e3)
    };
    let matmul_gflops = MATMUL_FLOPS / (time_ms("matmul", "f32_1000x784x256")? * 1e-3) / 1e9;
    let floor = |f: f64| f / (matmul_gflops * 1e9) * 1e3;
    let mut cases = Vec::new();
    for (case, reference) in REFERENCE_CASES {
        for oracles in reference.oracles() {
            let g = time_ms(case, &format!("gradient_{oracles}"))?;
            let h = time_ms(case, &format!("hvp_{oracles}"))?;
            let flops = match reference {
                ReferenceCase::Mlp { n_train } => Some(mlp_flops(
                    n_train,
                    MNIST_MLP.dim,
                    MNIST_MLP.hidden,
                    MNIST_MLP.classes,
                )),
                ReferenceCase::Conv { .. } => None,
            };
            cases.push(EngineCase {
                case: case.into(),
                oracles: oracles.to_string(),
                gradient_ms: g,
                hvp_ms: h,
                hvp_over_gradient: h / g,
                gradient_flops: flops.map(|f| f.0),
                hvp_flops: flops.map(|f| f.1),
                gradient_floor_ms: flops.map(|f| floor(f.0)),
                hvp_floor_ms: flops.map(|f| floor(f.1)),
                // No JAX figure: only `just perf-jax`, measuring a twin beside these oracles, adds
                // them (issue 24).
                ..EngineCase::default()
            });
        }
    }
    let mut hypergradient_r10_ms = BTreeMap::new();
    for (name, _) in estimator_specs() {
        for oracles in (ReferenceCase::Mlp { n_train: R10_N }).oracles() {
            let id = format!("{name}_{oracles}");
            hypergradient_r10_ms.insert(id.clone(), time_ms("hypergradient_r10", &id)?);
        }
    }
    Ok(EngineReport {
        process,
        matmul_gflops,
        cases,
        hypergradient_r10_ms,
        notes: vec![
            format!(
                "times: criterion means ({SAMPLES} samples, {WARM_UP:?} warm-up, {MEASURE:?} \
                 measurement), f32, θ = 0 and φ = φ0 (MLP) or the initialiser's θ (conv)"
            ),
            "floor: the FLOPs of the large products at the matmul rate measured in this run".into(),
            "hypergradient_r10: one estimate at θ = 0 on the full-batch task; the randomised \
             estimators (ufom, adaptive) average over draws of ξ"
                .into(),
        ],
        jax: None,
    })
}
