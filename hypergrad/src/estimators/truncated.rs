//! Truncated back-propagation (Shaban et al., AISTATS 2019; REFERENCE §8): run the r inner
//! steps, keep only the last K states φ_{r−K}..φ_{r−1}, and sweep Algorithm 2's backward pass
//! over those K steps: for j = r..r−K+1, b1 −= α_j (∂²L_in/∂θ∂φ)ᵀ b2 and
//! b2 −= α_j (∂²L_in/∂φ²)ᵀ b2 at φ_{j−1}. With K = r this is [`super::StoredExact`] and the
//! result is b1 + (∂V/∂θ)ᵀ b2; with K < r the path through φ_0..φ_{r−K} (and V) is cut and the
//! estimate is b1 alone — biased (the bias is measured in `hypergrad/tests/truncated.rs`).
//! r + 1 gradient calls, K HVP calls, K + 1 inner states and K kept graphs at peak (both in
//! `peak_state_bytes`, measured at the end of the forward pass).

use super::inner_loop::Backward;
use super::{Estimate, Estimator};
use crate::error::{invalid, Result};
use crate::oracles::{Counted, Kept, Oracles};
use crate::params::ParamList;
use rand::RngCore;

/// Back-propagation through the last `k` inner steps only.
#[derive(Clone, Copy, Debug)]
pub struct Truncated {
    k: usize,
}

impl Truncated {
    /// Errors unless K ≥ 1 (K = 0 would be ∂L_out/∂θ alone; use FOM for a first-order method).
    pub fn new(k: usize) -> Result<Self> {
        if k == 0 {
            return Err(invalid(
                "k",
                k,
                "truncated back-propagation needs K >= 1 steps",
            ));
        }
        Ok(Self { k })
    }

    /// The number of steps back-propagated through.
    pub fn k(&self) -> usize {
        self.k
    }
}

impl<O: Oracles> Estimator<O> for Truncated {
    /// Nothing carries over between estimates: each task of a meta-batch gets a copy.
    fn for_task(&self) -> Option<Box<dyn Estimator<O> + Send>> {
        Some(Box::new(*self))
    }

    fn name(&self) -> String {
        format!("truncated(k={})", self.k)
    }

    fn compute(
        &mut self,
        o: &Counted<O>,
        theta: &ParamList,
        task: &O::Task,
        _rng: &mut dyn RngCore,
    ) -> Result<Estimate> {
        let alphas = o.step_sizes();
        let r = alphas.len();
        let k = self.k.min(r);
        // Forward: φ_0..φ_{r−1}; the last K states are kept with what their gradient built.
        let mut kept: Vec<(ParamList, Kept)> = Vec::with_capacity(k);
        let mut phi = o.start(theta, task)?;
        for (j, &alpha) in alphas.iter().enumerate() {
            let next = if j >= r - k {
                let (grad, graph) = o.inner_grad_kept(theta, &phi, task)?;
                let next = phi.axpy(-alpha, &grad)?;
                kept.push((phi, graph));
                next
            } else {
                phi.axpy(-alpha, &o.inner_grad(theta, &phi, task)?)?
            };
            phi = next;
        }
        let state_bytes = phi.bytes();
        let peak_bytes = super::stored_exact::kept_bytes(&kept, &phi);
        let mut bw = Backward::at_end(o, theta, task, &phi)?;
        // Backward over j = r..r−K+1 at the kept φ_{j−1}.
        for ((phi_prev, graph), &alpha) in kept.iter().zip(&alphas[r - k..]).rev() {
            bw.step_back_kept(o, theta, task, (phi_prev, graph), alpha)?;
        }
        let grad = if k == r {
            bw.gradient(o, theta, task)?
        } else {
            bw.b1
        };
        Ok(Estimate::new(grad, k + 1, state_bytes)
            .with_peak_bytes(peak_bytes)
            .with("k", k as f64))
    }
}
