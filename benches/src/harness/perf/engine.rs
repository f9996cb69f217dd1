//! The `engine` section of `reports/perf.json`: the oracles on the four reference cases of the
//! fast-engine work (hypercleaning MLP n = 1000 and 5000, few-shot conv net with 8 and 64
//! filters), against the machine's measured matmul rate (the FLOP floor) and the figures of an
//! independent JAX twin measured on the project's reference machine.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Gradient vs HVP of one oracle implementation on one case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// A JAX twin's gradient measured in the same run, ms; absent until one is (a figure from
    /// another machine is never written here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jax_gradient_ms: Option<f64>,
    /// A JAX twin's HVP measured in the same run, ms; absent until one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jax_hvp_ms: Option<f64>,
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
