//! The bias–variance–cost map (`ufom map`): the paper's framing — bias D², variance V², cost —
//! measured for every estimator setting on four problems, at one fixed (θ, T) each.
//!
//! measure ([`measure()`]: n estimates of one setting, in [`measure`]) → analyse (bias², variance, a 99 %
//! t-interval of the projected error) → report ([`render`]: `map.json` is the contract; the
//! Markdown table, one SVG per problem and the README block are made from it alone).
//!
//! Every setting draws from its own generator, seeded from the map's seed, the problem and the
//! setting's spec ([`setting_seed`]): no two points share a ξ sequence.
//!
//! Per setting, with G the exact hypergradient (stored exact, Alg. 2) and g_1..g_n the estimates
//! (all at one fixed (θ, T): the spread is over the estimator's own draws ξ, not over tasks):
//! - bias² = ‖ḡ − G‖² − tr(S)/n, the unbiased estimate of ‖E g − G‖² (S the sample covariance;
//!   it can come out slightly negative for an unbiased estimator); for a deterministic
//!   estimator (tr S = 0) it is ‖g − G‖² exactly;
//! - variance = tr(S) = E‖g − E g‖² over ξ at the fixed (θ, T) — not the paper's V², a maximum
//!   over θ of a variance over tasks — zero for a deterministic estimator (measured, not
//!   assumed);
//! - 95 % intervals of bias² and variance by batch means: the n estimates split into K =
//!   min(20, n/2) batches, each batch's (unbiased) bias² and variance computed alone, and the
//!   full-sample value ± t_{K−1} · sd(batch values)/√K;
//! - the 99 % t-interval of the mean of uᵀ(g_i − G) along one fixed random unit u: an unbiased
//!   estimator's interval contains 0 (a deterministic one's is a point, compared with a 1e-9
//!   relative tolerance);
//! - cost: gradient and HVP calls and wall time per estimate (means), peak inner-state bytes (with
//!   the gradient graphs stored exact and truncated keep).

mod measure;
pub mod problems;
pub mod render;

pub use measure::{measure, setting_seed};

use crate::harness::record::{Environment, Scale};
use anyhow::Result;
use hypergrad::{Counted, EstimatorSpec, Oracles, ParamList};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

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
    /// Seed of this setting's draws ([`setting_seed`]).
    #[serde(default)]
    pub seed: u64,
    /// Unbiased estimate of ‖E g − G‖².
    pub bias2: f64,
    /// Its 95 % interval (batch means).
    #[serde(default)]
    pub bias2_ci95: Option<[f64; 2]>,
    /// tr(S): E‖g − E g‖² over ξ at the fixed (θ, T).
    pub variance: f64,
    /// Its 95 % interval (batch means).
    #[serde(default)]
    pub variance_ci95: Option<[f64; 2]>,
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
    /// The scale's defaults: 1000 samples (smoke: 200, so q = 0.1 sees about 20 exact draws),
    /// 5 repeats (smoke: 3), seed 0.
    pub fn at(scale: Scale) -> Self {
        let smoke = scale == Scale::Smoke;
        Self {
            scale,
            samples: if smoke { 200 } else { 1000 },
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
        points.push(measure(name, o, theta, task, &exact, &spec, cfg, &u)?);
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
