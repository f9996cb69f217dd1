//! The `reports/perf.json` schema: the summary's types ([`PerfReport`] and its parts), what
//! the bench hands the summariser ([`MemoryRow`], [`PerfMeta`]), and the schema version.

use super::engine;
use super::estimates::Timing;
use serde::{Deserialize, Serialize};
use std::time::SystemTime;

/// Version of the `reports/perf.json` schema.
pub const SCHEMA_VERSION: u32 = 1;

/// Sizes of one MLP hypercleaning problem.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MlpSize {
    /// Training examples (= dim θ).
    pub n_train: usize,
    /// Validation examples.
    pub n_val: usize,
    /// Inputs.
    pub dim: usize,
    /// Hidden units.
    pub hidden: usize,
    /// Classes.
    pub classes: usize,
    /// Parameters of φ (W1, b1, W2, b2).
    pub phi_params: usize,
    /// Element type.
    pub dtype: String,
}

/// Inner-state memory and oracle calls of one estimator at one r, measured once outside the
/// timing loop, plus the mean calls over all the estimates the timing loop made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryRow {
    /// Estimator id (the criterion function id).
    pub estimator: String,
    /// Inner steps.
    pub r: usize,
    /// Gradient calls of the measured estimate.
    pub grad_calls: u64,
    /// HVP calls of the measured estimate.
    pub hvp_calls: u64,
    /// Mean gradient + HVP calls per estimate over the timed iterations (for UFOM this averages
    /// over the draws of ξ); `None` if not timed.
    pub mean_calls: Option<f64>,
    /// Estimates the timed iterations made (warm-up included).
    pub timed_estimates: u64,
    /// Inner states held at once, at peak (`Estimate::peak_states`; for randomised estimators
    /// the maximum over the measured draws).
    pub peak_states: usize,
    /// Bytes of those states and, for stored exact and truncated, of the gradient graphs they
    /// keep (`Estimate::peak_state_bytes`).
    pub peak_state_bytes: usize,
}

/// What the bench tells the summariser besides the criterion directory.
#[derive(Clone, Debug)]
pub struct PerfMeta {
    /// `git rev-parse HEAD`, if available.
    pub git_commit: Option<String>,
    /// Available parallelism.
    pub threads: usize,
    /// OS and architecture.
    pub platform: String,
    /// `cpu` or `cuda:N`.
    pub device: String,
    /// Criterion group of the oracle benches.
    pub oracle_group: String,
    /// Function id of the inner-gradient bench in that group.
    pub gradient_id: String,
    /// Function id of the HVP bench in that group.
    pub hvp_id: String,
    /// Problem the oracles were timed on.
    pub oracle_problem: MlpSize,
    /// Criterion group of the estimator benches (function = estimator, parameter = r).
    pub estimator_group: String,
    /// Problem the estimators were timed on.
    pub estimator_problem: MlpSize,
    /// Benchmark settings in words (sample size, warm-up, measurement time).
    pub settings: String,
    /// Combinations skipped, and why.
    pub skipped: Vec<String>,
    /// Other remarks.
    pub notes: Vec<String>,
    /// Refuse estimates written before this time (stale results from an earlier run).
    pub fresh_since: Option<SystemTime>,
}

/// Environment of the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PerfEnvironment {
    /// `git rev-parse HEAD`, if available.
    pub git_commit: Option<String>,
    /// Available parallelism.
    pub threads: usize,
    /// OS and architecture.
    pub platform: String,
    /// `cpu` or `cuda:N`.
    pub device: String,
}

/// One inner gradient vs one HVP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OracleReport {
    /// The problem.
    pub problem: MlpSize,
    /// One ∂L_in/∂φ (a gradient call, C1).
    pub gradient: Timing,
    /// One [(∂²L_in/∂θ∂φ)ᵀv, (∂²L_in/∂φ²)ᵀv] (an HVP call, C2).
    pub hvp: Timing,
    /// C2/C1 = mean HVP time / mean gradient time.
    pub hvp_over_gradient: f64,
    /// A conservative range of that ratio from the two confidence intervals.
    pub hvp_over_gradient_range: [f64; 2],
}

/// Time, calls and memory of one estimator at one r.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EstimatorRow {
    /// Estimator id.
    pub estimator: String,
    /// Inner steps.
    pub r: usize,
    /// Time per estimate.
    pub time: Timing,
    /// Gradient calls of one (measured) estimate.
    pub grad_calls: u64,
    /// HVP calls of one (measured) estimate.
    pub hvp_calls: u64,
    /// Mean gradient + HVP calls per timed estimate.
    pub mean_calls: f64,
    /// Mean time / mean calls.
    pub seconds_per_call: f64,
    /// Inner states held at peak.
    pub peak_states: usize,
    /// Bytes of those states and of the graphs kept with them (`Estimate::peak_state_bytes`).
    pub peak_state_bytes: usize,
}

/// How an estimator's cost grows with r: least-squares slopes on log–log axes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scaling {
    /// Estimator id.
    pub estimator: String,
    /// The r values fitted.
    pub rs: Vec<usize>,
    /// d log(time) / d log(r): ≈ 1 linear, ≈ 2 quadratic (fixed costs pull it below).
    pub time_exponent: Option<f64>,
    /// d log(mean calls) / d log(r).
    pub calls_exponent: Option<f64>,
    /// d log(peak bytes) / d log(r): ≈ 0 constant memory, ≈ 1 linear.
    pub peak_bytes_exponent: Option<f64>,
}

/// `reports/perf.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PerfReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The command that produced it.
    pub command: String,
    /// Where it ran.
    pub environment: PerfEnvironment,
    /// Benchmark settings.
    pub settings: String,
    /// Gradient vs HVP.
    pub oracle: OracleReport,
    /// Problem the estimators were timed on.
    pub estimator_problem: MlpSize,
    /// Per (estimator, r), in the order measured.
    pub estimators: Vec<EstimatorRow>,
    /// Per estimator, growth in r.
    pub scaling: Vec<Scaling>,
    /// Combinations skipped, and why.
    pub skipped: Vec<String>,
    /// Remarks.
    pub notes: Vec<String>,
    /// The oracles on the four reference cases (absent in reports written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<engine::EngineReport>,
}

/// The command that produces `reports/perf.json`.
pub const PERF_COMMAND: &str = "cargo bench -p ufom-bench --bench perf";
