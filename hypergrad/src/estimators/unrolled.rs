//! The slow reference: candle back-propagates through the whole graph of the r inner steps
//! (ITD / "unrolled" differentiation). Tests compare every other estimator against it.
//! It is slow by design: with candle every inner step's backward pass walks the graph of all
//! earlier steps, so its time grows ~r² (measured in `reports/perf.json`).

use super::{Estimate, Estimator};
use crate::error::Result;
use crate::oracles::{Counted, Oracles, UnrolledReference};
use crate::params::ParamList;
use rand::RngCore;

/// Autodiff through the unrolled inner loop; holds the graph of all r steps. Its
/// `peak_state_bytes` counts the r + 1 states only: the graph lives inside the oracle call and
/// is not measured, so the figure is a lower bound.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unrolled;

impl<O: UnrolledReference> Estimator<O> for Unrolled {
    /// Nothing carries over between estimates: each task of a meta-batch gets a copy.
    fn for_task(&self) -> Option<Box<dyn Estimator<O> + Send>> {
        Some(Box::new(*self))
    }

    fn name(&self) -> String {
        "unrolled".into()
    }

    fn compute(
        &mut self,
        o: &Counted<O>,
        theta: &ParamList,
        task: &O::Task,
        _rng: &mut dyn RngCore,
    ) -> Result<Estimate> {
        let grad = o.unrolled_gradient(theta, task)?;
        let state_bytes = o.start(theta, task)?.bytes();
        let peak_states = o.step_sizes().len() + 1;
        Ok(Estimate::new(grad, peak_states, state_bytes))
    }
}
