//! Exact hypergradient with stored inner states (Algorithm 2): keep φ_0..φ_{r−1} from the
//! forward loop, then sweep backwards from b1 = ∂L_out/∂θ, b2 = ∂L_out/∂φ at φ_r:
//! for j = r..1, b1 −= α_j (∂²L_in/∂θ∂φ)ᵀ b2 and b2 −= α_j (∂²L_in/∂φ²)ᵀ b2 at φ_{j−1};
//! return b1 + (∂V/∂θ)ᵀ b2. Memory O(r·p).
//!
//! Each forward step keeps what its gradient call built ([`Oracles::inner_grad_kept`]: for
//! autodiff, the graph of ∂L_in/∂φ at φ_{j−1}), so the backward sweep's HVP at φ_{j−1} reuses
//! it instead of recomputing the forward and first backward pass. Same values, bitwise; the
//! graphs are O(r) memory like the states themselves, and `peak_state_bytes` measures both
//! ([`crate::autodiff::held_bytes`] at the end of the forward pass, the peak).

use super::inner_loop::Backward;
use super::{Estimate, Estimator};
use crate::autodiff::held_bytes;
use crate::error::Result;
use crate::oracles::{Counted, Kept, Oracles};
use crate::params::ParamList;
use rand::RngCore;

/// Exact back-propagation through the inner loop with stored states (Alg. 2):
/// r + 1 gradient calls, r HVP calls, r + 1 inner states and r kept graphs held at peak.
#[derive(Clone, Copy, Debug, Default)]
pub struct StoredExact;

impl<O: Oracles> Estimator<O> for StoredExact {
    /// Nothing carries over between estimates: each task of a meta-batch gets a copy.
    fn for_task(&self) -> Option<Box<dyn Estimator<O> + Send>> {
        Some(Box::new(*self))
    }

    fn name(&self) -> String {
        "stored_exact".into()
    }

    fn compute(
        &mut self,
        o: &Counted<O>,
        theta: &ParamList,
        task: &O::Task,
        _rng: &mut dyn RngCore,
    ) -> Result<Estimate> {
        let alphas = o.step_sizes();
        // Forward: φ_0..φ_{r−1} stored, φ_r the running state.
        let mut states = Vec::with_capacity(alphas.len());
        let mut phi = o.start(theta, task)?;
        for &alpha in alphas {
            let (grad, kept) = o.inner_grad_kept(theta, &phi, task)?;
            let next = phi.axpy(-alpha, &grad)?;
            states.push((phi, kept));
            phi = next;
        }
        let peak_states = states.len() + 1;
        let state_bytes = phi.bytes();
        let peak_bytes = kept_bytes(&states, &phi);
        let mut bw = Backward::at_end(o, theta, task, &phi)?;
        // Backward: j = r..1 at the stored φ_{j−1}.
        for ((phi_prev, kept), &alpha) in states.iter().zip(alphas).rev() {
            bw.step_back_kept(o, theta, task, (phi_prev, kept), alpha)?;
        }
        let grad = bw.gradient(o, theta, task)?;
        Ok(Estimate::new(grad, peak_states, state_bytes).with_peak_bytes(peak_bytes))
    }
}

/// Bytes held by the kept states with what their gradients keep, and the running state
/// ([`crate::autodiff::held_bytes`]).
pub(crate) fn kept_bytes(kept: &[(ParamList, Kept)], running: &ParamList) -> usize {
    let mut roots = running.tensors().to_vec();
    for (phi, point) in kept {
        roots.extend(phi.tensors().iter().cloned());
        roots.extend(point.held());
    }
    held_bytes(&roots)
}
