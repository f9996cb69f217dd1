//! Memory-efficient exact hypergradient: Algorithm 2 where every φ_{j−1} is recomputed from
//! φ0 = V(θ, T) instead of stored — Algorithm 4 with q = 1. O(p) memory, O(r²) time:
//! r + 1 + r(r−1)/2 gradient calls and r HVP calls (Proposition 1 at q = 1).

use super::inner_loop::{recompute_sweep, rollout, Backward};
use super::{Estimate, Estimator};
use crate::error::Result;
use crate::oracles::{Counted, Oracles};
use crate::params::ParamList;
use rand::RngCore;

/// Exact hypergradient with recomputed inner states; one inner state held at a time.
#[derive(Clone, Copy, Debug, Default)]
pub struct RecomputeExact {
    backward_clip: Option<f64>,
}

impl RecomputeExact {
    /// The exact estimator.
    pub fn new() -> Self {
        Self::default()
    }

    /// With `Some(c)`, the authors' variant: clip (b1, b2) entry-wise to [−c, c] after every
    /// backward step (REFERENCE §7). Makes the estimator biased; `None` keeps it exact.
    pub fn clipped(mut self, backward_clip: Option<f64>) -> Result<Self> {
        self.backward_clip = super::validated_clip(backward_clip)?;
        Ok(self)
    }
}

impl<O: Oracles> Estimator<O> for RecomputeExact {
    /// Nothing carries over between estimates: each task of a meta-batch gets a copy.
    fn for_task(&self) -> Option<Box<dyn Estimator<O> + Send>> {
        Some(Box::new(*self))
    }

    fn name(&self) -> String {
        "recompute_exact".into()
    }

    fn compute(
        &mut self,
        o: &Counted<O>,
        theta: &ParamList,
        task: &O::Task,
        _rng: &mut dyn RngCore,
    ) -> Result<Estimate> {
        let phi_r = rollout(o, theta, task, o.step_sizes().len())?;
        let state_bytes = phi_r.bytes();
        let bw = Backward::at_end(o, theta, task, &phi_r)?;
        drop(phi_r);
        let grad = recompute_sweep(o, theta, task, bw, self.backward_clip)?;
        Ok(Estimate::new(grad, 1, state_bytes))
    }
}
