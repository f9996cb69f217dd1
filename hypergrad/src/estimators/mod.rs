//! Hypergradient estimators, one per file, each reading like its algorithm box
//! (REFERENCE §2; Algorithms 2–4 and §4.5 of the paper).
//!
//! | estimator | algorithm | memory in r | gradient calls | HVP calls |
//! |---|---|---|---|---|
//! | [`Fom`] | Alg. 3 | O(1) | r + 1 | 0 |
//! | [`StoredExact`] | Alg. 2 | O(r) | r + 1 | r |
//! | [`RecomputeExact`] | Alg. 4 with q = 1 | O(1) | r + 1 + r(r−1)/2 | r |
//! | [`Ufom`] | Alg. 4 (eq. 12–13) | O(1) | r + 1 + ξ·r(r−1)/2 | ξ·r |
//! | [`AdaptiveUfom`] | §4.5 (eq. 20–24) | O(1) | as UFOM with q = max(q*, q_min) | |
//! | [`Unrolled`] | autodiff through the inner loop (reference) | O(r) graph | | |

mod adaptive;
mod fom;
mod inner_loop;
mod recompute_exact;
mod stored_exact;
mod ufom;
mod unrolled;

pub use adaptive::{AdaptiveConfig, AdaptiveUfom};
pub use fom::Fom;
pub use recompute_exact::RecomputeExact;
pub use stored_exact::StoredExact;
pub use ufom::Ufom;
pub use unrolled::Unrolled;

use crate::error::{invalid, Result};
use crate::oracles::{Calls, Counted, Oracles, UnrolledReference};
use crate::params::ParamList;
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// A hypergradient and what it cost.
#[derive(Clone, Debug)]
pub struct Estimate {
    /// The estimate of d/dθ L_out(θ, U^(r)(θ, T), T).
    pub grad: ParamList,
    /// Oracle calls spent on it.
    pub calls: Calls,
    /// For randomised estimators: whether the exact branch (ξ = 1) was drawn.
    pub exact_drawn: Option<bool>,
    /// For randomised estimators: the probability q the draw used.
    pub q: Option<f64>,
    /// Inner states φ_j (parameter vectors of the inner problem) held at once, at peak.
    pub peak_states: usize,
    /// Bytes of those states: `peak_states` × bytes of one φ.
    pub peak_state_bytes: usize,
}

impl Estimate {
    /// The estimate of a deterministic estimator holding `peak_states` states of `state_bytes`.
    pub fn deterministic(
        grad: ParamList,
        calls: Calls,
        peak_states: usize,
        state_bytes: usize,
    ) -> Self {
        Self {
            grad,
            calls,
            exact_drawn: None,
            q: None,
            peak_states,
            peak_state_bytes: peak_states * state_bytes,
        }
    }
}

/// A hypergradient estimator over oracles `O`.
pub trait Estimator<O: Oracles> {
    /// A short name (`fom`, `exact`, `ufom(q=0.1)`...).
    fn name(&self) -> String;

    /// One estimate of the hypergradient at θ for task T. `rng` draws ξ where needed.
    fn estimate(
        &mut self,
        oracles: &Counted<O>,
        theta: &ParamList,
        task: &O::Task,
        rng: &mut dyn RngCore,
    ) -> Result<Estimate>;
}

/// Which estimator, as a value (CLI arguments, experiment configs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EstimatorSpec {
    /// First-order method.
    Fom,
    /// Exact, stored inner states.
    Exact,
    /// Exact, recomputed inner states.
    Recompute,
    /// UFOM with a fixed q.
    Ufom {
        /// Probability of the exact branch.
        q: f64,
    },
    /// Adaptive UFOM.
    Adaptive(AdaptiveConfig),
    /// Unrolled autodiff reference.
    Unrolled,
}

impl EstimatorSpec {
    /// The names accepted by [`EstimatorSpec::parse`].
    pub const NAMES: [&'static str; 6] =
        ["fom", "exact", "recompute", "ufom", "adaptive", "unrolled"];

    /// From a name; `q` is required by `ufom` and ignored by the others.
    pub fn parse(name: &str, q: Option<f64>) -> Result<Self> {
        Ok(match name {
            "fom" => Self::Fom,
            "exact" => Self::Exact,
            "recompute" => Self::Recompute,
            "ufom" => {
                let q = q.ok_or_else(|| invalid("q", "none", "ufom needs --q in (0, 1]"))?;
                Ufom::new(q)?;
                Self::Ufom { q }
            }
            "adaptive" => Self::Adaptive(AdaptiveConfig::default()),
            "unrolled" => Self::Unrolled,
            other => {
                return Err(invalid(
                    "estimator",
                    other,
                    &format!("expected one of {}", Self::NAMES.join(", ")),
                ))
            }
        })
    }

    /// Builds the estimator.
    pub fn build<O: UnrolledReference + 'static>(&self) -> Result<Box<dyn Estimator<O>>> {
        Ok(match self {
            Self::Fom => Box::new(Fom),
            Self::Exact => Box::new(StoredExact),
            Self::Recompute => Box::new(RecomputeExact),
            Self::Ufom { q } => Box::new(Ufom::new(*q)?),
            Self::Adaptive(cfg) => Box::new(AdaptiveUfom::new(cfg.clone())?),
            Self::Unrolled => Box::new(Unrolled),
        })
    }
}
