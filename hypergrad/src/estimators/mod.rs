//! Hypergradient estimators, one per file, each reading like its algorithm box
//! (REFERENCE §2; Algorithms 2–4 and §4.5 of the paper).
//!
//! | estimator | algorithm | memory in r | gradient calls | HVP calls |
//! |---|---|---|---|---|
//! | [`Fom`] | Alg. 3 | O(1) | r + 1 | 0 |
//! | [`StoredExact`] | Alg. 2 | O(r), states and kept graphs | r + 1 | r |
//! | [`RecomputeExact`] | Alg. 4 with q = 1 | O(1) | r + 1 + r(r−1)/2 | r |
//! | [`Ufom`] | Alg. 4 (eq. 12–13) | O(1) | r + 1 + ξ·r(r−1)/2 | ξ·r |
//! | [`AdaptiveUfom`] | §4.5 (eq. 20–24) | O(1) | as UFOM with q = max(q*, q_min) | |
//! | [`Truncated`] | Alg. 2 over the last K steps (Shaban et al.) | O(K), states and kept graphs | r + 1 | K |
//! | [`Checkpointed`] | Alg. 2 with s checkpoints, schedule optimal for this cost model | O(s), s = ⌈√r⌉ | r + 1 + recomputation F(r, s) | r |
//! | [`AidCg`] | AID-BiO, ≤ N conjugate-gradient steps, relative-residual stop (Ji et al.) | O(1) | r + 1 | ≤ N (+1 warm) |
//! | [`Neumann`] | stocBiO's Neumann series, Q terms (Ji et al.) | O(1) | r + 1 | Q + 1 |
//! | [`Unrolled`] | autodiff through the inner loop (reference) | O(r) graph | | |
//!
//! ITD-BiO of the stocBiO paper (back-propagation through the inner iterations) is
//! [`StoredExact`]; its AID-BiO is [`AidCg`].

mod adaptive;
mod aid_cg;
pub mod catalog;
mod checkpoint_schedule;
mod checkpointed;
mod fom;
mod inner_loop;
mod neumann;
mod recompute_exact;
mod stored_exact;
mod truncated;
mod ufom;
mod unrolled;

pub use adaptive::{AdaptiveConfig, AdaptiveUfom};
pub use aid_cg::AidCg;
pub use catalog::{catalog, CatalogEntry, Consumer};
pub use checkpointed::Checkpointed;
pub use fom::Fom;
pub use neumann::Neumann;
pub use recompute_exact::RecomputeExact;
pub use stored_exact::StoredExact;
pub use truncated::Truncated;
pub use ufom::Ufom;
pub use unrolled::Unrolled;

use crate::error::{invalid, Result};
use crate::oracles::{Calls, Counted, Oracles, UnrolledReference};
use crate::params::ParamList;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Per-estimate values that only some estimators have (ξ and q for UFOM, CG iterations,
/// truncation K...), by name. Observers record every key they see as a series.
pub type Diagnostics = BTreeMap<&'static str, f64>;

/// A hypergradient and what it cost.
#[derive(Clone, Debug)]
pub struct Estimate {
    /// The estimate of d/dθ L_out(θ, U^(r)(θ, T), T).
    pub grad: ParamList,
    /// Oracle calls spent on it: counted by [`Estimator::estimate`] around
    /// [`Estimator::compute`], never by an estimator itself.
    pub calls: Calls,
    /// Inner states φ_j (parameter vectors of the inner problem) held at once, at peak.
    pub peak_states: usize,
    /// Bytes held at peak by those states and by what the estimator keeps with them.
    /// [`StoredExact`] and [`Truncated`] keep each step's gradient for its HVP, so theirs is
    /// measured at their peak (the end of the forward pass) by
    /// [`crate::autodiff::held_bytes`] over the states and the kept points
    /// ([`crate::KeptPoint::held`]: for autodiff the gradient's graph — the intermediate
    /// results that depend on θ or φ — and its own copies of θ and φ); the other estimators
    /// keep no graph across oracle calls and report `peak_states` × bytes of one φ. Not
    /// counted anywhere: the task's data and constants computed from it alone, θ, the backward
    /// vectors (b1, b2), and the transient graph of a single oracle call (freed when the call
    /// returns). [`Unrolled`]'s is its states only: the graph of the r steps it builds inside
    /// the oracle is not measured, so its figure is a lower bound.
    pub peak_state_bytes: usize,
    /// Estimator-specific values (e.g. `xi`, `q` for UFOM).
    pub diagnostics: Diagnostics,
}

impl Estimate {
    /// An estimate holding `peak_states` inner states of `state_bytes` each, no diagnostics.
    pub fn new(grad: ParamList, peak_states: usize, state_bytes: usize) -> Self {
        Self {
            grad,
            calls: Calls::default(),
            peak_states,
            peak_state_bytes: peak_states * state_bytes,
            diagnostics: Diagnostics::new(),
        }
    }

    /// With `peak_state_bytes` measured (states plus what is kept with them) instead of
    /// `peak_states` × bytes of one state.
    pub fn with_peak_bytes(mut self, bytes: usize) -> Self {
        self.peak_state_bytes = bytes;
        self
    }

    /// With a diagnostic value added.
    pub fn with(mut self, key: &'static str, value: f64) -> Self {
        self.diagnostics.insert(key, value);
        self
    }

    /// Whether a randomised estimator drew its exact branch (diagnostic `xi`).
    pub fn exact_drawn(&self) -> Option<bool> {
        self.diagnostics.get("xi").map(|&x| x == 1.0)
    }
}

/// A hypergradient estimator over oracles `O`.
pub trait Estimator<O: Oracles> {
    /// A short name (`fom`, `stored_exact`, `ufom(q=0.1)`...).
    fn name(&self) -> String;

    /// The algorithm: one estimate of the hypergradient at θ for task T. `rng` draws ξ where
    /// needed. Leaves `calls` zero; call [`Estimator::estimate`], which counts them.
    fn compute(
        &mut self,
        oracles: &Counted<O>,
        theta: &ParamList,
        task: &O::Task,
        rng: &mut dyn RngCore,
    ) -> Result<Estimate>;

    /// A copy for one task of a parallel meta-batch ([`crate::driver::EstimatorStep`]); `None`
    /// (the default) when an estimate depends on earlier ones, as adaptive UFOM's running
    /// estimates do: such an estimator's tasks run one after another.
    fn for_task(&self) -> Option<Box<dyn Estimator<O> + Send>> {
        None
    }

    /// [`Estimator::compute`] with the oracle calls it made.
    fn estimate(
        &mut self,
        oracles: &Counted<O>,
        theta: &ParamList,
        task: &O::Task,
        rng: &mut dyn RngCore,
    ) -> Result<Estimate> {
        let before = oracles.calls();
        let mut e = self.compute(oracles, theta, task, rng)?;
        e.calls = oracles.calls() - before;
        Ok(e)
    }
}

/// `None`, or a positive finite bound of the authors' backward clipping.
fn validated_clip(c: Option<f64>) -> Result<Option<f64>> {
    match c {
        Some(c) if !crate::error::is_positive(c) => {
            Err(invalid("backward_clip", c, "needs a positive bound"))
        }
        c => Ok(c),
    }
}

/// The estimator registry: every estimator as a value (CLI arguments, experiment methods, report
/// names, resume keys). Adding an estimator = its own file + a variant here (its serde `kind`
/// is its CLI name; the compiler asks for its arms in [`EstimatorSpec::label`] and
/// [`EstimatorSpec::build`]) + one entry in [`catalog`] (its tests fail without it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EstimatorSpec {
    /// First-order method (Alg. 3).
    Fom,
    /// Exact, stored inner states (Alg. 2).
    StoredExact,
    /// Exact, recomputed inner states (Alg. 4 with q = 1).
    RecomputeExact {
        /// The authors' per-backward-step clipping (REFERENCE §7; biased); `None` = exact.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        backward_clip: Option<f64>,
    },
    /// UFOM with a fixed q (Alg. 4).
    Ufom {
        /// Probability of the exact branch.
        q: f64,
        /// The authors' per-backward-step clipping of the exact branch; `None` = unbiased.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        backward_clip: Option<f64>,
    },
    /// Adaptive UFOM (§4.5).
    Adaptive(AdaptiveConfig),
    /// Truncated back-propagation through the last `k` inner steps (biased for k < r).
    Truncated {
        /// Steps back-propagated through (≥ 1).
        k: usize,
    },
    /// Exact, with checkpointing: `slots` stored states (default ⌈√r⌉), placed where the
    /// backward sweep recomputes least.
    Checkpointed {
        /// Checkpoints (≥ 1); absent = ⌈√r⌉.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        slots: Option<usize>,
    },
    /// AID-BiO: implicit differentiation at φ_r with `cg_steps` conjugate-gradient steps.
    AidCg {
        /// CG steps N (≥ 1), one HVP each.
        cg_steps: usize,
        /// Start CG from the previous call's solution (AID-BiO's warm start).
        #[serde(default = "yes")]
        warm_start: bool,
        /// CG stops once ‖g − Hv‖/‖g‖ ≤ tol (≥ 0; 0: only at a zero residual); absent = 1e-6
        /// ([`AidCg::DEFAULT_TOL`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tol: Option<f64>,
    },
    /// stocBiO's Neumann-series implicit gradient with `terms` products.
    Neumann {
        /// Q: the series has Q + 1 terms (Q + 1 HVPs).
        terms: usize,
        /// Step η of the series; absent = the last inner step size.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        eta: Option<f64>,
    },
    /// Unrolled autodiff reference (needs [`UnrolledReference`] oracles).
    Unrolled,
}

fn yes() -> bool {
    true
}

impl EstimatorSpec {
    /// From a CLI name (the serde `kind`: `fom`, `stored_exact`, `recompute_exact`, `ufom`,
    /// `adaptive`, `truncated`, `checkpointed`, `aid_cg`, `neumann`, `unrolled`) and `--q`; see [`EstimatorSpec::parse_with`].
    pub fn parse(name: &str, q: Option<f64>) -> Result<Self> {
        let params = q.map(|q| ("q".to_string(), q.into())).into_iter().collect();
        Self::parse_with(name, params)
    }

    /// From a name and settings (`q` = 0.1, `k` = 5, ...), through serde, so every registered
    /// variant parses without code of its own and an unknown name lists them all. Settings a
    /// variant does not have are refused; those it has but are not given take their serde
    /// defaults (e.g. the paper's adaptive settings).
    pub fn parse_with(name: &str, params: Vec<(String, serde_json::Value)>) -> Result<Self> {
        if matches!(name, "exact" | "recompute") {
            return Err(invalid(
                "estimator",
                name,
                "ambiguous: say stored_exact (Alg. 2) or recompute_exact (Alg. 4, q = 1)",
            ));
        }
        let mut fields = serde_json::Map::new();
        fields.insert("kind".into(), name.into());
        for (k, v) in &params {
            if let Some(first) = fields.insert(k.clone(), v.clone()) {
                return Err(invalid(
                    "estimator setting",
                    k,
                    &format!("given twice ({k}={first} and {k}={v}); give it once"),
                ));
            }
        }
        let spec: Self = serde_json::from_value(fields.into()).map_err(|e| {
            let text = e.to_string();
            let hint = match text.split('`').nth(1) {
                Some("q") if text.starts_with("missing field") => {
                    "needs its setting `q` (--q Q or --param q=Q)".to_string()
                }
                Some(field) if text.starts_with("missing field") => {
                    format!("needs its setting `{field}` (--param {field}=VALUE)")
                }
                _ => text,
            };
            invalid("estimator", name, &hint)
        })?;
        let known = serde_json::to_value(&spec).unwrap_or_default();
        if let Some((key, _)) = params.iter().find(|(k, _)| known.get(k).is_none()) {
            return Err(invalid(
                "estimator setting",
                key,
                &format!(
                    "{name} has no setting `{key}` (`--q` is UFOM's probability; adaptive chooses its own q)"
                ),
            ));
        }
        spec.validate()?;
        Ok(spec)
    }

    /// Checks the settings by building the estimator once (any oracles).
    pub fn validate(&self) -> Result<()> {
        match self {
            Self::Unrolled => Ok(()),
            _ => self
                .build::<crate::oracles::Autodiff<crate::problems::Quadratic>>()
                .map(drop),
        }
    }

    /// The serde `kind`, which is also the CLI name (`fom`, `ufom`, `aid_cg`, ...).
    pub fn kind(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("kind")?.as_str().map(String::from))
            .unwrap_or_default()
    }

    /// Whether an estimate draws random numbers (its catalog entry's `randomised`).
    pub fn is_randomised(&self) -> bool {
        catalog::entry_of(self).is_some_and(|e| e.randomised)
    }

    /// The report name: the variant and its settings (`recompute_exact`, `ufom_q0.1`,
    /// `ufom_q0.1_clip10`).
    pub fn label(&self) -> String {
        let clip = |c: &Option<f64>| {
            c.map(|c| format!("_clip{}", crate::params::compact(c)))
                .unwrap_or_default()
        };
        match self {
            Self::Fom => "fom".into(),
            Self::StoredExact => "stored_exact".into(),
            Self::RecomputeExact { backward_clip } => {
                format!("recompute_exact{}", clip(backward_clip))
            }
            Self::Ufom { q, backward_clip } => {
                format!(
                    "ufom_q{}{}",
                    crate::params::compact(*q),
                    clip(backward_clip)
                )
            }
            Self::Adaptive(cfg) => format!("adaptive{}", clip(&cfg.backward_clip)),
            Self::Truncated { k } => format!("truncated_k{k}"),
            Self::Checkpointed { slots: None } => "checkpointed".into(),
            Self::Checkpointed { slots: Some(s) } => format!("checkpointed_s{s}"),
            Self::AidCg {
                cg_steps,
                warm_start,
                tol,
            } => format!(
                "aid_cg_n{cg_steps}{}{}",
                if *warm_start { "" } else { "_cold" },
                // The default is left out, so labels from before the setting stay the same.
                tol.filter(|&t| t != AidCg::DEFAULT_TOL)
                    .map(|t| format!("_tol{}", crate::params::compact(t)))
                    .unwrap_or_default()
            ),
            Self::Neumann { terms, eta } => format!(
                "neumann_q{terms}{}",
                eta.map(|e| format!("_eta{}", crate::params::compact(e)))
                    .unwrap_or_default()
            ),
            Self::Unrolled => "unrolled".into(),
        }
    }

    /// Builds the estimator over any oracles; [`EstimatorSpec::Unrolled`] needs
    /// [`EstimatorSpec::build_with_reference`].
    pub fn build<O: Oracles + 'static>(&self) -> Result<Box<dyn Estimator<O>>> {
        Ok(match self {
            Self::Fom => Box::new(Fom),
            Self::StoredExact => Box::new(StoredExact),
            Self::RecomputeExact { backward_clip } => {
                Box::new(RecomputeExact::new().clipped(*backward_clip)?)
            }
            Self::Ufom { q, backward_clip } => Box::new(Ufom::new(*q)?.clipped(*backward_clip)?),
            Self::Adaptive(cfg) => Box::new(AdaptiveUfom::new(cfg.clone())?),
            Self::Truncated { k } => Box::new(Truncated::new(*k)?),
            Self::Checkpointed { slots } => Box::new(Checkpointed::new(*slots)?),
            Self::AidCg {
                cg_steps,
                warm_start,
                tol,
            } => Box::new(
                AidCg::new(*cg_steps, *warm_start)?.with_tol(tol.unwrap_or(AidCg::DEFAULT_TOL))?,
            ),
            Self::Neumann { terms, eta } => Box::new(Neumann::new(*terms, *eta)?),
            Self::Unrolled => {
                return Err(invalid(
                    "estimator",
                    "unrolled",
                    "needs oracles with an unrolled reference (build_with_reference)",
                ))
            }
        })
    }

    /// Builds any estimator, the unrolled reference included.
    pub fn build_with_reference<O: UnrolledReference + 'static>(
        &self,
    ) -> Result<Box<dyn Estimator<O>>> {
        match self {
            Self::Unrolled => Ok(Box::new(Unrolled)),
            other => other.build(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_kind_parses_and_round_trips() {
        for (name, q, label) in [
            ("fom", None, "fom"),
            ("stored_exact", None, "stored_exact"),
            ("recompute_exact", None, "recompute_exact"),
            ("ufom", Some(0.25), "ufom_q0.25"),
            ("adaptive", None, "adaptive"),
            ("unrolled", None, "unrolled"),
            ("checkpointed", None, "checkpointed"),
        ] {
            let spec = EstimatorSpec::parse(name, q).expect(name);
            assert_eq!(spec.label(), label);
            let json = serde_json::to_string(&spec).expect("serialise");
            assert_eq!(
                serde_json::from_str::<EstimatorSpec>(&json).ok(),
                Some(spec)
            );
        }
        assert_eq!(
            EstimatorSpec::parse("adaptive", None).ok(),
            Some(EstimatorSpec::Adaptive(AdaptiveConfig::default()))
        );
    }

    #[test]
    fn bad_names_and_settings_are_named() {
        let err = |name, q| EstimatorSpec::parse(name, q).unwrap_err().to_string();
        let unknown = err("sgd", None);
        assert!(
            unknown.contains("sgd") && unknown.contains("recompute_exact"),
            "{unknown}"
        );
        assert!(err("exact", None).contains("ambiguous"));
        assert!(err("ufom", None).contains("--q"));
        assert!(err("fom", Some(0.5)).contains("no setting `q`"));
        let truncated = EstimatorSpec::parse_with("truncated", vec![("k".into(), 3.into())]);
        assert_eq!(truncated.ok(), Some(EstimatorSpec::Truncated { k: 3 }));
        assert!(err("truncated", None).contains("`k`"));
        let with = |name, key: &str, v: serde_json::Value| {
            EstimatorSpec::parse_with(name, vec![(key.into(), v)])
        };
        let aid = with("aid_cg", "cg_steps", 10.into()).expect("aid");
        assert_eq!(aid.label(), "aid_cg_n10");
        assert_eq!(
            with("neumann", "terms", 5.into()).map(|s| s.label()).ok(),
            Some("neumann_q5".into())
        );
        assert_eq!(
            with("checkpointed", "slots", 3.into())
                .map(|s| s.label())
                .ok(),
            Some("checkpointed_s3".into())
        );
        assert!(with("checkpointed", "slots", 0.into()).is_err());
        assert!(with("aid_cg", "cg_steps", 0.into()).is_err());
        assert!(with("neumann", "eta", (-1.0).into()).is_err());
        assert!(err("neumann", None).contains("`terms`"));
        let zero = EstimatorSpec::parse_with("truncated", vec![("k".into(), 0.into())]);
        assert!(zero.is_err());
        assert!(err("ufom", Some(1.5)).contains("0 < q <= 1"));
        let clip = EstimatorSpec::Ufom {
            q: 0.1,
            backward_clip: Some(-1.0),
        };
        assert!(clip.validate().is_err());
    }
}
