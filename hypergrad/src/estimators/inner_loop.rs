//! The pieces Algorithms 2–4 share: the inner GD rollout (eq. 2–3), the first-order terms at
//! φ_r, one step of the backward sweep, and the final (∂V/∂θ)ᵀ b2 term.

use crate::error::Result;
pub(crate) use crate::oracles::rollout;
use crate::oracles::{Kept, Oracles};
use crate::params::ParamList;

/// The backward vectors (b1, b2) of Algorithms 2–4.
pub(crate) struct Backward {
    pub b1: ParamList,
    pub b2: ParamList,
}

impl Backward {
    /// b1 = ∂L_out/∂θ, b2 = ∂L_out/∂φ at φ_r (one gradient call).
    pub fn at_end<O: Oracles>(
        o: &O,
        theta: &ParamList,
        task: &O::Task,
        phi_r: &ParamList,
    ) -> Result<Self> {
        let (b1, b2) = o.outer_grads(theta, phi_r, task)?;
        Ok(Self { b1, b2 })
    }

    /// One step j of the sweep, at φ_{j−1} (one HVP call):
    /// b1 −= α_j (∂²L_in/∂θ∂φ)ᵀ b2;  b2 −= α_j (∂²L_in/∂φ²)ᵀ b2.
    pub fn step_back<O: Oracles>(
        &mut self,
        o: &O,
        theta: &ParamList,
        task: &O::Task,
        phi_prev: &ParamList,
        alpha: f64,
    ) -> Result<()> {
        let (h_theta, h_phi) = o.inner_hvp(theta, phi_prev, task, &self.b2)?;
        self.apply(alpha, &h_theta, &h_phi)
    }

    /// [`Backward::step_back`] reusing what the forward pass kept at φ_{j−1} (one HVP call).
    pub fn step_back_kept<O: Oracles>(
        &mut self,
        o: &O,
        theta: &ParamList,
        task: &O::Task,
        (phi_prev, kept): (&ParamList, &Kept),
        alpha: f64,
    ) -> Result<()> {
        let (h_theta, h_phi) = o.inner_hvp_kept(theta, phi_prev, task, kept, &self.b2)?;
        self.apply(alpha, &h_theta, &h_phi)
    }

    fn apply(&mut self, alpha: f64, h_theta: &ParamList, h_phi: &ParamList) -> Result<()> {
        self.b1 = self.b1.axpy(-alpha, h_theta)?;
        self.b2 = self.b2.axpy(-alpha, h_phi)?;
        Ok(())
    }

    /// Clips b1 and b2 entry-wise to [−c, c]: the authors' code does this after every backward
    /// step (REFERENCE §7), which biases the "exact" gradient; off unless asked for.
    pub fn clip(&mut self, c: Option<f64>) -> Result<()> {
        if let Some(c) = c {
            self.b1 = self.b1.clamp_abs(c)?;
            self.b2 = self.b2.clamp_abs(c)?;
        }
        Ok(())
    }

    /// b1 + (∂V/∂θ)ᵀ b2: the gradient these vectors stand for.
    pub fn gradient<O: Oracles>(
        &self,
        o: &O,
        theta: &ParamList,
        task: &O::Task,
    ) -> Result<ParamList> {
        self.b1.add(&o.start_vjp(theta, task, &self.b2)?)
    }
}

/// The backward sweep of the memory-efficient exact estimator (inner loop of Alg. 4): for
/// j = r..1, φ_{j−1} is recomputed from φ0 by j − 1 inner steps, then one sweep step.
/// r(r−1)/2 gradient calls and r HVP calls; one inner state held at a time. `step_clip`
/// optionally clips (b1, b2) after every step (the authors' variant, biased).
pub(crate) fn recompute_sweep<O: Oracles>(
    o: &O,
    theta: &ParamList,
    task: &O::Task,
    mut bw: Backward,
    step_clip: Option<f64>,
) -> Result<ParamList> {
    let alphas = o.step_sizes();
    for j in (1..=alphas.len()).rev() {
        let phi_prev = rollout(o, theta, task, j - 1)?;
        bw.step_back(o, theta, task, &phi_prev, alphas[j - 1])?;
        bw.clip(step_clip)?;
    }
    bw.gradient(o, theta, task)
}
