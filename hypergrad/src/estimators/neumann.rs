//! Neumann-series implicit differentiation, the hypergradient of stocBiO (Ji, Yang & Liang
//! 2021, eq. 6–7; REFERENCE §8): at the last inner iterate φ_r, with H = ∂²L_in/∂φ² there,
//!
//!   v_Q = η Σ_{q=0}^{Q} (I − ηH)^q g,  g = ∂L_out/∂φ,     (H⁻¹ ≈ η Σ (I − ηH)^q)
//!   G = ∂L_out/∂θ − (∂²L_in/∂θ∂φ)ᵀ v_Q.
//!
//! Loop: p_0 = g; for q = 0..Q: one HVP at p_q gives both H p_q (for p_{q+1} = p_q − η H p_q)
//! and the mixed product, summed into the correction. r + 1 gradient calls, Q + 1 HVP calls;
//! two φ-sized vectors held (φ_r and p_q). η defaults to the last inner step size α_r; the
//! series converges when 0 < η < 2/λ_max(H) at rate (1 − ηλ_min(H))^Q.
//!
//! stocBiO draws a fresh mini-batch for each Hessian product; the oracles here see one task's
//! whole data, so every product uses the task (the estimator's randomness is the task's). Like
//! AID it ignores φ_0 = V(θ), so on MAML it returns ∂L_out/∂θ only.

use super::inner_loop::rollout;
use super::{Estimate, Estimator};
use crate::error::{invalid, Result};
use crate::oracles::{Counted, Oracles};
use crate::params::ParamList;
use rand::RngCore;

/// The Neumann-series hypergradient with Q + 1 terms and step η.
#[derive(Clone, Copy, Debug)]
pub struct Neumann {
    terms: usize,
    eta: Option<f64>,
}

impl Neumann {
    /// Q ≥ 0 products; η > 0 if given (`None`: the last inner step size).
    pub fn new(terms: usize, eta: Option<f64>) -> Result<Self> {
        if let Some(eta) = eta {
            if !crate::error::is_positive(eta) {
                return Err(invalid("eta", eta, "the Neumann step needs eta > 0"));
            }
        }
        Ok(Self { terms, eta })
    }
}

impl<O: Oracles> Estimator<O> for Neumann {
    /// Nothing carries over between estimates: each task of a meta-batch gets a copy.
    fn for_task(&self) -> Option<Box<dyn Estimator<O> + Send>> {
        Some(Box::new(*self))
    }

    fn name(&self) -> String {
        format!("neumann(Q={})", self.terms)
    }

    fn compute(
        &mut self,
        o: &Counted<O>,
        theta: &ParamList,
        task: &O::Task,
        _rng: &mut dyn RngCore,
    ) -> Result<Estimate> {
        let alphas = o.step_sizes();
        let eta = match (self.eta, alphas.last()) {
            (Some(eta), _) | (None, Some(&eta)) => eta,
            (None, None) => return Err(invalid("eta", "none", "no inner step size to default to")),
        };
        let phi_r = rollout(o, theta, task, alphas.len())?;
        let (b1, mut p) = o.outer_grads(theta, &phi_r, task)?;
        let mut mixed = b1.zeros_like()?;
        for q in 0..=self.terms {
            let (m_p, h_p) = o.inner_hvp(theta, &phi_r, task, &p)?;
            mixed = mixed.add(&m_p)?;
            if q < self.terms {
                p = p.axpy(-eta, &h_p)?;
            }
        }
        let grad = b1.axpy(-eta, &mixed)?;
        Ok(Estimate::new(grad, 2, phi_r.bytes()).with("eta", eta))
    }
}
