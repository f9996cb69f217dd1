//! The bias–variance–cost map (`ufom map`): the paper's framing — bias D², variance V², cost —
//! measured for every estimator setting on four problems, at one fixed (θ, T) each.
//!
//! measure ([`measure`]: n estimates of one setting) → analyse (bias², variance, a 99 %
//! t-interval of the projected error) → report ([`render`]: `map.json` is the contract; the
//! Markdown table, one SVG per problem and the README block are made from it alone).
//!
//! Per setting, with G the exact hypergradient (stored exact, Alg. 2) and g_1..g_n the estimates:
//! - bias² = ‖ḡ − G‖² − tr(S)/n, the unbiased estimate of ‖E g − G‖² (S the sample covariance;
//!   it can come out slightly negative for an unbiased estimator); for a deterministic
//!   estimator (tr S = 0) it is ‖g − G‖² exactly;
//! - variance = tr(S) = E‖g − E g‖², zero for a deterministic estimator (measured, not assumed);
//! - the 99 % t-interval of the mean of uᵀ(g_i − G) along one fixed random unit u: an unbiased
//!   estimator's interval contains 0 (a deterministic one's is a point, compared with a 1e-9
//!   relative tolerance);
//! - cost: gradient and HVP calls and wall time per estimate (means), peak inner-state bytes (with
//!   the gradient graphs stored exact and truncated keep).

pub mod problems;
pub mod render;

use crate::harness::record::{Environment, Scale};
use anyhow::Result;
use hypergrad::{Counted, EstimatorSpec, Oracles, ParamList};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Version of `map.json`'s layout.
pub const MAP_SCHEMA_VERSION: u32 = 1;

/// What a report file holds, for the readers that meet several kinds in one folder. Experiment
/// reports carry no `kind` (they predate it); the map's is `estimator_map`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// `map.json`: the bias–variance–cost map.
    EstimatorMap,
}

/// The whole map: what `map.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MapReport {
    /// Always [`ReportKind::EstimatorMap`] (tells `ufom report` this is not an experiment
    /// report).
    pub kind: ReportKind,
    /// [`MAP_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The scale it ran at.
    pub scale: Scale,
    /// The command that produced it.
    pub command: String,
    /// Seed of every draw (ξ, tasks, θ, the projection direction).
    pub seed: u64,
    /// Estimates per randomised setting.
    pub samples: usize,
    /// Estimates per deterministic setting (for the timing; their spread is measured too).
    pub repeats: usize,
    /// Machine and build.
    pub environment: Environment,
    /// Seconds the whole map took.
    pub wall_s: f64,
    /// One entry per problem.
    pub problems: Vec<ProblemMap>,
}

/// One problem's points.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProblemMap {
    /// Short name (`counterexample`, `quadratic`, `mlp`, `convnet`).
    pub name: String,
    /// Sizes and settings in words.
    pub description: String,
    /// Inner steps r run by the estimators.
    pub r: usize,
    /// dim φ.
    pub inner_dim: usize,
    /// ‖G‖² of the exact hypergradient at the problem's (θ, T).
    pub exact_sq_norm: f64,
    /// One point per estimator setting.
    pub points: Vec<MapPoint>,
}

/// One estimator setting on one problem.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MapPoint {
    /// The setting's label (`ufom_q0.1`, `aid_cg_n5_cold`, ...).
    pub label: String,
    /// The estimator family (its serde kind), for the plot's colours.
    pub family: String,
    /// The setting.
    pub spec: EstimatorSpec,
    /// Estimates measured.
    pub n: usize,
    /// Unbiased estimate of ‖E g − G‖².
    pub bias2: f64,
    /// tr(S): E‖g − E g‖².
    pub variance: f64,
    /// bias2 / ‖G‖².
    pub rel_bias2: f64,
    /// variance / ‖G‖².
    pub rel_variance: f64,
    /// 99 % t-interval of the mean projected error uᵀ(g − G).
    pub projected_interval: [f64; 2],
    /// Whether that interval contains 0 (within 1e-9·‖G‖).
    pub consistent_with_unbiased: bool,
    /// Mean gradient calls per estimate.
    pub grad_calls: f64,
    /// Mean HVP calls per estimate.
    pub hvp_calls: f64,
    /// Mean wall milliseconds per estimate.
    pub ms_per_estimate: f64,
    /// Peak bytes of inner states held, with the gradient graphs stored exact and truncated
    /// keep (`Estimate::peak_state_bytes`; largest over the estimates).
    pub peak_state_bytes: usize,
}

impl MapPoint {
    /// (bias² clipped at 0 + variance) / ‖G‖²: the relative mean squared error.
    pub fn rel_mse(&self) -> f64 {
        self.rel_bias2.max(0.0) + self.rel_variance
    }

    /// Gradient + HVP calls per estimate.
    pub fn calls(&self) -> f64 {
        self.grad_calls + self.hvp_calls
    }
}

/// Settings of a map run.
#[derive(Clone, Debug)]
pub struct MapConfig {
    /// Sizes of the problems.
    pub scale: Scale,
    /// Estimates per randomised setting.
    pub samples: usize,
    /// Estimates per deterministic setting.
    pub repeats: usize,
    /// Seed of every draw.
    pub seed: u64,
}

impl MapConfig {
    /// The scale's defaults: 1000 samples (smoke: 40), 5 repeats (smoke: 3), seed 0.
    pub fn at(scale: Scale) -> Self {
        let smoke = scale == Scale::Smoke;
        Self {
            scale,
            samples: if smoke { 40 } else { 1000 },
            repeats: if smoke { 3 } else { 5 },
            seed: 0,
        }
    }
}

/// The settings mapped for r inner steps: every catalog entry's sweep (FOM; UFOM q ∈ {0.1, 0.2,
/// 0.5}; stored, recompute and checkpointed exact (⌈√r⌉ and 2 slots); truncated K ∈ {1, ⌈r/4⌉,
/// ⌈r/2⌉}; AID-CG from zero with N ∈ {1, 5, 20}; Neumann with Q ∈ {1, 5, 20} (η = α)).
/// Adaptive UFOM is UFOM with a data-chosen q; it is mapped through q.
pub fn settings(r: usize) -> Vec<EstimatorSpec> {
    hypergrad::estimators::catalog::map_settings(r)
}

/// The projection direction (a unit vector of length `d` from `seed`) and the two-sided
/// t-interval of the projected errors come from the suite's one statistics module.
pub use hypergrad::stats::{t_interval, unit_direction};

/// Measures one setting: `n` estimates at (θ, T) against the exact gradient `exact`.
#[allow(clippy::too_many_arguments)]
pub fn measure<O: Oracles + 'static>(
    o: &Counted<O>,
    theta: &ParamList,
    task: &O::Task,
    exact: &[f64],
    spec: &EstimatorSpec,
    cfg: &MapConfig,
    u: &[f64],
) -> Result<MapPoint> {
    let n = if spec.is_randomised() {
        cfg.samples
    } else {
        cfg.repeats
    }
    .max(2);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let d = exact.len();
    let (mut sum, mut grads) = (vec![0.0; d], Vec::with_capacity(n));
    let (mut grad_calls, mut hvp_calls, mut secs, mut peak) = (0u64, 0u64, 0.0, 0usize);
    for _ in 0..n {
        // A fresh estimator per estimate: no state (warm starts, adaptive q) carries over.
        let mut est = spec.build::<O>()?;
        let t0 = Instant::now();
        let e = est.estimate(o, theta, task, &mut rng)?;
        secs += t0.elapsed().as_secs_f64();
        grad_calls += e.calls.grad;
        hvp_calls += e.calls.hvp;
        peak = peak.max(e.peak_state_bytes);
        let g = e.grad.to_vec()?;
        if g.len() != d || g.iter().any(|x| !x.is_finite()) {
            anyhow::bail!("{}: a non-finite or mis-sized estimate", spec.label());
        }
        sum.iter_mut().zip(&g).for_each(|(s, x)| *s += x);
        grads.push(g);
    }
    let nf = n as f64;
    let mean: Vec<f64> = sum.iter().map(|s| s / nf).collect();
    let variance = grads
        .iter()
        .map(|g| {
            g.iter()
                .zip(&mean)
                .map(|(x, m)| (x - m).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / (nf - 1.0);
    let raw_bias2: f64 = mean.iter().zip(exact).map(|(m, e)| (m - e).powi(2)).sum();
    let bias2 = raw_bias2 - variance / nf;
    let proj: Vec<f64> = grads
        .iter()
        .map(|g| {
            g.iter()
                .zip(exact)
                .zip(u)
                .map(|((x, e), u)| (x - e) * u)
                .sum()
        })
        .collect();
    let interval = t_interval(&proj, 0.99);
    let norm2: f64 = exact.iter().map(|x| x * x).sum();
    let tol = 1e-9 * norm2.sqrt();
    Ok(MapPoint {
        label: spec.label(),
        family: family(spec),
        spec: spec.clone(),
        n,
        bias2,
        variance,
        rel_bias2: bias2 / norm2,
        rel_variance: variance / norm2,
        projected_interval: interval,
        consistent_with_unbiased: interval[0] - tol <= 0.0 && 0.0 <= interval[1] + tol,
        grad_calls: grad_calls as f64 / nf,
        hvp_calls: hvp_calls as f64 / nf,
        ms_per_estimate: 1e3 * secs / nf,
        peak_state_bytes: peak,
    })
}

/// The setting's family: its serde kind, with the three exact variants as `exact`.
fn family(spec: &EstimatorSpec) -> String {
    let kind = spec.kind();
    match kind.as_str() {
        "stored_exact" | "recompute_exact" | "checkpointed" => "exact".into(),
        _ => kind,
    }
}

/// Maps every setting on one problem at (θ, T).
#[allow(clippy::too_many_arguments)]
pub fn map_problem<O: Oracles + 'static>(
    name: &str,
    description: String,
    o: &Counted<O>,
    theta: &ParamList,
    task: &O::Task,
    inner_dim: usize,
    cfg: &MapConfig,
    progress: &dyn Fn(&str),
) -> Result<ProblemMap> {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let exact = EstimatorSpec::StoredExact
        .build::<O>()?
        .estimate(o, theta, task, &mut rng)?
        .grad
        .to_vec()?;
    let r = o.step_sizes().len();
    let u = unit_direction(exact.len(), cfg.seed ^ 0x5eed);
    let mut points = Vec::new();
    for spec in settings(r) {
        progress(&format!("{name}: {}", spec.label()));
        points.push(measure(o, theta, task, &exact, &spec, cfg, &u)?);
    }
    Ok(ProblemMap {
        name: name.into(),
        description,
        r,
        inner_dim,
        exact_sq_norm: exact.iter().map(|x| x * x).sum(),
        points,
    })
}
