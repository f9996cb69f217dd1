//! FOM, the first-order method (Algorithm 3): run the inner loop, take b1 = ∂L_out/∂θ and
//! b2 = ∂L_out/∂φ at φ_r, return b1 + (∂V/∂θ)ᵀ b2. All Hessian terms are dropped.

use super::inner_loop::{rollout, Backward};
use super::{Estimate, Estimator};
use crate::error::Result;
use crate::oracles::{Counted, Oracles};
use crate::params::ParamList;
use rand::RngCore;

/// First-order method (Alg. 3): r + 1 gradient calls, no HVP, O(1) memory in r.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fom;

impl<O: Oracles> Estimator<O> for Fom {
    /// Nothing carries over between estimates: each task of a meta-batch gets a copy.
    fn for_task(&self) -> Option<Box<dyn Estimator<O> + Send>> {
        Some(Box::new(*self))
    }

    fn name(&self) -> String {
        "fom".into()
    }

    fn compute(
        &mut self,
        o: &Counted<O>,
        theta: &ParamList,
        task: &O::Task,
        _rng: &mut dyn RngCore,
    ) -> Result<Estimate> {
        let phi_r = rollout(o, theta, task, o.step_sizes().len())?;
        let bw = Backward::at_end(o, theta, task, &phi_r)?;
        let grad = bw.gradient(o, theta, task)?;
        Ok(Estimate::new(grad, 1, phi_r.bytes()))
    }
}
