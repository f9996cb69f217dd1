//! UFOM, the unbiased first-order method (Algorithm 4, eq. 12–13):
//! G = G_FO + (ξ/q)(G_exact − G_FO), ξ ~ Bernoulli(q). The FOM forward pass is always run;
//! with probability q the memory-efficient exact sweep is added. Unbiased, O(1) memory,
//! r + 1 + q·r(r−1)/2 gradient calls and q·r HVP calls in expectation (Proposition 1).

use super::inner_loop::{recompute_sweep, rollout, Backward};
use super::{Estimate, Estimator};
use crate::error::{invalid, Result};
use crate::oracles::{Counted, Oracles};
use crate::params::ParamList;
use rand::{Rng, RngCore};

/// UFOM with a fixed probability q ∈ (0, 1].
#[derive(Clone, Copy, Debug)]
pub struct Ufom {
    q: f64,
    backward_clip: Option<f64>,
}

impl Ufom {
    /// Errors unless 0 < q ≤ 1.
    pub fn new(q: f64) -> Result<Self> {
        if !(q > 0.0 && q <= 1.0) {
            return Err(invalid("q", q, "UFOM needs 0 < q <= 1"));
        }
        Ok(Self {
            q,
            backward_clip: None,
        })
    }

    /// With `Some(c)`, the authors' variant: clip (b1, b2) entry-wise to [−c, c] after every
    /// backward step of the exact branch (REFERENCE §7). Makes the estimator biased; `None`
    /// (the default) keeps it unbiased.
    pub fn clipped(mut self, backward_clip: Option<f64>) -> Result<Self> {
        self.backward_clip = super::validated_clip(backward_clip)?;
        Ok(self)
    }

    /// The probability of the exact branch.
    pub fn q(&self) -> f64 {
        self.q
    }
}

impl<O: Oracles> Estimator<O> for Ufom {
    /// Nothing carries over between estimates: each task of a meta-batch gets a copy.
    fn for_task(&self) -> Option<Box<dyn Estimator<O> + Send>> {
        Some(Box::new(*self))
    }

    fn name(&self) -> String {
        format!("ufom(q={})", crate::params::compact(self.q))
    }

    fn compute(
        &mut self,
        o: &Counted<O>,
        theta: &ParamList,
        task: &O::Task,
        rng: &mut dyn RngCore,
    ) -> Result<Estimate> {
        Ok(draw(o, theta, task, self.q, self.backward_clip, rng)?.estimate)
    }
}

/// One run of Algorithm 4, with the two gradients it combined when ξ = 1.
pub(crate) struct Draw {
    pub estimate: Estimate,
    /// (G_FO, G_exact) when the exact branch was drawn.
    pub both: Option<(ParamList, ParamList)>,
}

/// Algorithm 4 at probability `q` (validated by the caller), optionally clipping the sweep.
pub(crate) fn draw<O: Oracles>(
    o: &Counted<O>,
    theta: &ParamList,
    task: &O::Task,
    q: f64,
    backward_clip: Option<f64>,
    rng: &mut dyn RngCore,
) -> Result<Draw> {
    let phi_r = rollout(o, theta, task, o.step_sizes().len())?;
    let state_bytes = phi_r.bytes();
    let bw = Backward::at_end(o, theta, task, &phi_r)?;
    drop(phi_r);
    let g_fo = bw.gradient(o, theta, task)?;
    let xi = rng.random_bool(q);
    let (grad, both) = if xi {
        let g_exact = recompute_sweep(o, theta, task, bw, backward_clip)?;
        // b_FO + (1/q)(b_Exact − b_FO)
        let grad = g_fo.axpy(1.0 / q, &g_exact.sub(&g_fo)?)?;
        (grad, Some((g_fo, g_exact)))
    } else {
        (g_fo, None)
    };
    Ok(Draw {
        estimate: Estimate::new(grad, 1, state_bytes)
            .with("xi", if xi { 1.0 } else { 0.0 })
            .with("q", q),
        both,
    })
}
