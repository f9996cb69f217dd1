//! The map's four problems at a scale, in f64 on the CPU, each at one fixed (θ, T): the
//! Theorem-2 counterexample, the quadratic family, the hypercleaning MLP on synthetic data and
//! the MAML conv net on a synthetic task.

use super::{map_problem, MapConfig, MapReport, ProblemMap, MAP_SCHEMA_VERSION};
use crate::harness::record::Scale;
use anyhow::Result;
use candle_core::{DType, Device};
use hypergrad::problems::{
    synthetic_source, ConvNet, Counterexample, CounterexampleConfig, Maml, MlpConfig, MlpData,
    MlpHypercleaning, MlpTask, Quadratic, QuadraticConfig,
};
use hypergrad::{Autodiff, Counted, TaskDistribution};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// The problem names, in map order.
pub const PROBLEMS: [&str; 4] = ["counterexample", "quadratic", "mlp", "convnet"];

/// Sizes per scale: (quadratic dim φ and r, MLP examples/hidden/r, conv filters/classes/r).
struct Sizes {
    quad_p: usize,
    quad_r: usize,
    mlp_n: usize,
    mlp_hidden: usize,
    mlp_r: usize,
    conv_filters: usize,
    conv_classes: usize,
    conv_r: usize,
}

fn sizes(scale: Scale) -> Sizes {
    match scale {
        Scale::Smoke => Sizes {
            quad_p: 10,
            quad_r: 10,
            mlp_n: 40,
            mlp_hidden: 6,
            mlp_r: 5,
            conv_filters: 4,
            conv_classes: 3,
            conv_r: 2,
        },
        Scale::Default | Scale::Paper => Sizes {
            quad_p: 40,
            quad_r: 40,
            mlp_n: 300,
            mlp_hidden: 32,
            mlp_r: 20,
            conv_filters: 8,
            conv_classes: 5,
            conv_r: 5,
        },
    }
}

fn quadratic(s: &Sizes, cfg: &MapConfig) -> Result<ProblemMap> {
    let qc = QuadraticConfig {
        s: 8,
        p: s.quad_p,
        alphas: vec![0.1; s.quad_r],
        lambda: 0.1,
        start_from_theta: true,
        seed: cfg.seed,
    };
    let problem = Quadratic::new(qc, DType::F64, Device::Cpu)?;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let task = problem.sample_task(&mut rng)?;
    let theta = problem.theta(&super::unit_direction(8, cfg.seed.wrapping_add(1)))?;
    let desc = format!(
        "quadratic family: dim θ = 8, dim φ = {}, r = {}, α = 0.1, V(θ) = Eθ + e, one sampled task",
        s.quad_p, s.quad_r
    );
    let o = Counted::new(Autodiff::new(problem)?);
    map_problem("quadratic", desc, &o, &theta, &task, s.quad_p, cfg, &log)
}

fn counterexample(cfg: &MapConfig) -> Result<ProblemMap> {
    let cc = CounterexampleConfig::default();
    let problem = Counterexample::from_config(&cc)?;
    let theta = problem.theta(5.0)?;
    let desc = format!(
        "Theorem-2 counterexample (Fig. 1a–c: D = {}, r = {}, α = {}), θ = 5, task 1",
        cc.d, cc.r, cc.alpha
    );
    let o = Counted::new(Autodiff::new(problem)?);
    map_problem("counterexample", desc, &o, &theta, &1, 1, cfg, &log)
}

fn mlp(s: &Sizes, cfg: &MapConfig) -> Result<ProblemMap> {
    let (data, _) = MlpData::synthetic(
        s.mlp_n,
        s.mlp_n / 2,
        20,
        5,
        0.3,
        cfg.seed.wrapping_add(7),
        DType::F64,
        &Device::Cpu,
    )?;
    let mc = MlpConfig {
        hidden: s.mlp_hidden,
        steps: s.mlp_r,
        alpha: 1.0,
        fold_last_step: true,
        init_seed: cfg.seed,
        task_batch: None,
    };
    let problem = MlpHypercleaning::new(data, mc)?;
    let inner_dim = problem.phi0().numel();
    let zero = problem.theta_zero()?;
    let theta = zero.with_values(&super::unit_direction(s.mlp_n, cfg.seed.wrapping_add(2)))?;
    let desc = format!(
        "hypercleaning MLP on synthetic data: {} train / {} validation examples, 20 inputs, 5 classes, 30 % corrupted, hidden {}, r = {} (+1 folded), α = 1, θ a random unit vector, full-batch task",
        s.mlp_n,
        s.mlp_n / 2,
        s.mlp_hidden,
        s.mlp_r
    );
    let o = Counted::new(Autodiff::new(problem)?);
    map_problem(
        "mlp",
        desc,
        &o,
        &theta,
        &MlpTask::default(),
        inner_dim,
        cfg,
        &log,
    )
}

fn convnet(s: &Sizes, cfg: &MapConfig) -> Result<ProblemMap> {
    let net = ConvNet::omniglot(s.conv_classes, s.conv_filters);
    let source = synthetic_source(net.clone(), 1, 1, DType::F64, Device::Cpu);
    let task = source(&mut ChaCha8Rng::seed_from_u64(cfg.seed))?;
    let theta = net.init(cfg.seed, DType::F64, &Device::Cpu)?;
    let inner_dim = theta.numel();
    let problem = Maml::new(net, s.conv_r, 0.1)?.with_source(source);
    let desc = format!(
        "MAML conv net (4 blocks, {} filters, 28×28 input) on a synthetic {}-way 1-shot task, r = {}, α = 0.1, θ from the initialiser",
        s.conv_filters, s.conv_classes, s.conv_r
    );
    let o = Counted::new(Autodiff::new(problem)?);
    map_problem("convnet", desc, &o, &theta, &task, inner_dim, cfg, &log)
}

fn log(what: &str) {
    tracing::info!("map: {what}");
}

/// Runs the map on the problems named in `only` (all when empty).
pub fn run(cfg: &MapConfig, only: &[String], command: String) -> Result<MapReport> {
    if let Some(bad) = only.iter().find(|n| !PROBLEMS.contains(&n.as_str())) {
        anyhow::bail!(
            "unknown map problem `{bad}`; the problems are {}",
            PROBLEMS.join(", ")
        );
    }
    let t0 = Instant::now();
    let s = sizes(cfg.scale);
    let mut problems = Vec::new();
    for name in PROBLEMS {
        if !only.is_empty() && !only.iter().any(|n| n == name) {
            continue;
        }
        problems.push(match name {
            "counterexample" => counterexample(cfg)?,
            "quadratic" => quadratic(&s, cfg)?,
            "mlp" => mlp(&s, cfg)?,
            _ => convnet(&s, cfg)?,
        });
    }
    Ok(MapReport {
        kind: super::ReportKind::EstimatorMap,
        schema_version: MAP_SCHEMA_VERSION,
        scale: cfg.scale,
        command,
        seed: cfg.seed,
        samples: cfg.samples,
        repeats: cfg.repeats,
        environment: crate::harness::env::capture(&Device::Cpu, DType::F64),
        wall_s: t0.elapsed().as_secs_f64(),
        problems,
    })
}
