//! Adaptive UFOM (§4.5, eq. 20–24): UFOM whose q is re-chosen before every draw as
//! q = max(q*, q_min), q* the optimum of eq. (19) for running estimates of D² and V².
//!
//! When the exact branch is drawn (ξ = 1), the exponential moving averages
//! D²_sm ← β D²_sm + (1−β)‖b_FO − b_Exact‖² (eq. 23) and V²_sm ← β V²_sm + (1−β)‖b_Exact‖²
//! (eq. 24) are updated; the bias-corrected estimates (eq. 22) are D̄² = s·D²_sm/(1−β^k_upd) and
//! V̄² = V²_sm/(1−β^k_upd), with s = 0.1 in the variant the paper found best. Before the first
//! exact draw q = q_min, as in the authors' code.

use super::ufom::draw;
use super::{Estimate, Estimator};
use crate::error::{invalid, Result};
use crate::oracles::{Counted, Oracles};
use crate::params::ParamList;
use crate::theory::{qstar, CostModel};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// Settings of adaptive UFOM; the defaults are the paper's (q_min 0.05, β 0.99, D²/10,
/// C1 = C2 = 1, ε = 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct AdaptiveConfig {
    /// Lower bound on q, so that exact draws keep happening.
    pub q_min: f64,
    /// EMA smoothing constant β ∈ (0, 1).
    pub beta: f64,
    /// Factor on the D² estimate (0.1 = "divided by 10", 1 = eq. 22 as printed).
    pub d2_scale: f64,
    /// Costs C1, C2 and ε of eq. (19)–(21).
    pub cost: CostModel,
    /// The authors' per-backward-step clipping of (b1, b2) (REFERENCE §7); `None` = unbiased.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backward_clip: Option<f64>,
}

impl Default for AdaptiveConfig {
    fn default() -> Self {
        Self {
            q_min: 0.05,
            beta: 0.99,
            d2_scale: 0.1,
            cost: CostModel::default(),
            backward_clip: None,
        }
    }
}

/// Adaptive UFOM with its running D², V² estimates.
#[derive(Clone, Debug)]
pub struct AdaptiveUfom {
    cfg: AdaptiveConfig,
    d2_sm: f64,
    v2_sm: f64,
    updates: u32,
}

impl AdaptiveUfom {
    /// Validates the settings.
    pub fn new(cfg: AdaptiveConfig) -> Result<Self> {
        if !(cfg.q_min > 0.0 && cfg.q_min <= 1.0) {
            return Err(invalid("q_min", cfg.q_min, "needs 0 < q_min <= 1"));
        }
        if !(cfg.beta > 0.0 && cfg.beta < 1.0) {
            return Err(invalid("beta", cfg.beta, "needs 0 < beta < 1"));
        }
        if !(cfg.d2_scale > 0.0 && cfg.d2_scale.is_finite()) {
            return Err(invalid("d2_scale", cfg.d2_scale, "needs a positive factor"));
        }
        super::validated_clip(cfg.backward_clip)?;
        cfg.cost.validate()?;
        Ok(Self {
            cfg,
            d2_sm: 0.0,
            v2_sm: 0.0,
            updates: 0,
        })
    }

    /// Bias-corrected (D̄², V̄²) of eq. (22), once at least one exact draw happened.
    pub fn estimates(&self) -> Option<(f64, f64)> {
        if self.updates == 0 {
            return None;
        }
        let correction = 1.0 - self.cfg.beta.powi(self.updates as i32);
        Some((
            self.cfg.d2_scale * self.d2_sm / correction,
            self.v2_sm / correction,
        ))
    }

    /// The q the next draw will use for an inner loop of length r.
    pub fn next_q(&self, r: usize) -> f64 {
        match self.estimates() {
            None => self.cfg.q_min,
            Some((d2, v2)) => qstar(d2, v2, r, &self.cfg.cost)
                .map(|s| s.q)
                .unwrap_or(1.0)
                .max(self.cfg.q_min),
        }
    }

    fn update(&mut self, g_fo: &ParamList, g_exact: &ParamList) -> Result<()> {
        let b = self.cfg.beta;
        self.d2_sm = b * self.d2_sm + (1.0 - b) * g_fo.sub(g_exact)?.sq_norm()?;
        self.v2_sm = b * self.v2_sm + (1.0 - b) * g_exact.sq_norm()?;
        self.updates += 1;
        Ok(())
    }
}

impl<O: Oracles> Estimator<O> for AdaptiveUfom {
    fn name(&self) -> String {
        "adaptive".into()
    }

    fn compute(
        &mut self,
        o: &Counted<O>,
        theta: &ParamList,
        task: &O::Task,
        rng: &mut dyn RngCore,
    ) -> Result<Estimate> {
        let q = self.next_q(o.step_sizes().len());
        let d = draw(o, theta, task, q, self.cfg.backward_clip, rng)?;
        if let Some((g_fo, g_exact)) = &d.both {
            self.update(g_fo, g_exact)?;
        }
        Ok(d.estimate)
    }
}
