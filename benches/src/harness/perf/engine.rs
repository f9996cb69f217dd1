//! The `engine` section of `reports/perf.json`: the oracles on the four reference cases of the
//! fast-engine work (hypercleaning MLP n = 1000 and 5000, few-shot conv net with 8 and 64
//! filters), against the machine's measured matmul rate (the FLOP floor) and, after `just
//! perf-jax`, a JAX twin of the same computations measured in the same run (the `jax`
//! module).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Gradient vs HVP of one oracle implementation on one case.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineCase {
    /// `mlp_n1000`, `mlp_n5000`, `conv_f8`, `conv_f64`.
    pub case: String,
    /// `autodiff` (candle reverse mode) or `analytic` (hand-derived twin).
    pub oracles: String,
    /// Mean time of one inner gradient, ms.
    pub gradient_ms: f64,
    /// Mean time of one HVP pair, ms.
    pub hvp_ms: f64,
    /// `hvp_ms / gradient_ms` (the C2/C1 ratio of the paper's §4.4).
    pub hvp_over_gradient: f64,
    /// FLOPs of the large products of one gradient (MLP only).
    pub gradient_flops: Option<f64>,
    /// FLOPs of the large products of one HVP by the R-operator (MLP only).
    pub hvp_flops: Option<f64>,
    /// `gradient_flops` at the measured matmul rate, ms.
    pub gradient_floor_ms: Option<f64>,
    /// `hvp_flops` at the measured matmul rate, ms.
    pub hvp_floor_ms: Option<f64>,
    /// The JAX twin's gradient (`benches/reference/jax_twin.py`), median over the rounds
    /// alternated with `paired_gradient_ms`, ms; absent unless `just perf-jax` measured it on
    /// this machine and the twin agreed with these oracles (a figure from another machine is
    /// never written here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jax_gradient_ms: Option<f64>,
    /// The JAX twin's HVP pair, likewise, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jax_hvp_ms: Option<f64>,
    /// These oracles' gradient, median over the rounds alternated with the JAX twin's, ms
    /// (the criterion figure above comes from another run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paired_gradient_ms: Option<f64>,
    /// These oracles' HVP pair, likewise, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paired_hvp_ms: Option<f64>,
    /// `paired_gradient_ms / jax_gradient_ms` (above 1: slower than JAX).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gradient_over_jax: Option<f64>,
    /// `paired_hvp_ms / jax_hvp_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hvp_over_jax: Option<f64>,
    /// Largest relative difference ‖twin − these oracles‖ / ‖these oracles‖ over the gradient
    /// and the two parts of the HVP on the same inputs (present whenever the twin ran, also
    /// when it disagreed and no ratio was reported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jax_rel_error: Option<f64>,
}

impl EngineCase {
    /// Removes every JAX figure.
    pub fn clear_jax(&mut self) {
        self.jax_gradient_ms = None;
        self.jax_hvp_ms = None;
        self.paired_gradient_ms = None;
        self.paired_hvp_ms = None;
        self.gradient_over_jax = None;
        self.hvp_over_jax = None;
        self.jax_rel_error = None;
    }
}

/// The `engine` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineReport {
    /// Process settings in effect (threads, allocator).
    pub process: crate::process::ProcessSettings,
    /// GFLOP/s of one 1000×784 by 784×256 f32 matmul on this machine, this run.
    pub matmul_gflops: f64,
    /// Per case and oracle implementation.
    pub cases: Vec<EngineCase>,
    /// `<estimator>_<oracles>` → ms per hypergradient at r = 10 on the MLP n = 1000.
    pub hypergradient_r10_ms: BTreeMap<String, f64>,
    /// How the figures were obtained.
    pub notes: Vec<String>,
    /// The JAX twin's run (`just perf-jax`), absent unless one was measured on this machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jax: Option<JaxRun>,
}

/// What the twin runs on, as it reports it at start-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TwinVersions {
    /// `jax.__version__`.
    pub jax: String,
    /// `jaxlib.__version__`.
    pub jaxlib: String,
    /// `numpy.__version__`.
    pub numpy: String,
    /// `platform.python_version()`.
    pub python: String,
    /// `jax.devices()`.
    pub devices: Vec<String>,
    /// Whether 64-bit floats were enabled (never: the cases are f32).
    pub x64: bool,
}

/// How the JAX figures of the `engine` section were measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JaxRun {
    /// The command that measured them.
    pub command: String,
    /// The twin's source, relative to the workspace root.
    pub twin: String,
    /// `git rev-parse HEAD` of the driver's build, if available.
    pub git_commit: Option<String>,
    /// The twin's versions.
    pub versions: TwinVersions,
    /// ufom rounds and JAX rounds per case, alternated.
    pub rounds: usize,
    /// Timed calls per round (its median is the round's figure).
    pub reps: usize,
    /// Untimed calls before each round's timed ones, on both sides.
    pub warm_up: usize,
    /// The largest relative difference for which a ratio is reported.
    pub tolerance: f64,
    /// ufom's process settings in this run.
    pub process: crate::process::ProcessSettings,
    /// Case and oracles that got no ratio, and why.
    pub refused: Vec<String>,
    /// How the figures were obtained.
    pub notes: Vec<String>,
}

/// FLOPs of the large products of one MLP gradient (X W1 and A W2 forward; dW2, dA, dW1
/// backward — none with respect to the data) and of one HVP by the R-operator (adds X V1, the
/// R-products of the small layer and Xᵀ R{dH}), for n rows, d → h → c.
pub fn mlp_flops(n: usize, d: usize, h: usize, c: usize) -> (f64, f64) {
    let (n, d, h, c) = (n as f64, d as f64, h as f64, c as f64);
    (
        4.0 * n * d * h + 6.0 * n * h * c,
        6.0 * n * d * h + 12.0 * n * h * c,
    )
}
