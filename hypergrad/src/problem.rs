//! The approximate bi-level problem (ABLO, REFERENCE §1): what a user implements.
//!
//! A problem supplies the start point V(θ, T), the inner and outer losses and the inner step
//! sizes α_1..α_r, all as differentiable candle expressions. The engine derives every oracle
//! the estimators need from these by autodiff ([`crate::oracles::Autodiff`]).

use crate::error::Result;
use crate::params::ParamList;
use candle_core::Tensor;
use rand::RngCore;

/// One ABLO problem: eq (2)–(4) of the paper.
pub trait BilevelProblem: Send + Sync {
    /// A task T drawn from p(T) (data, a target, an index...); shared with the threads of a
    /// parallel meta-batch.
    type Task: Send + Sync;

    /// The start point φ0 = V(θ, T); must stay differentiable in θ.
    fn start(&self, theta: &ParamList, task: &Self::Task) -> Result<ParamList>;

    /// Whether V depends on θ. When false the engine skips the (∂V/∂θ)ᵀv products.
    fn start_depends_on_theta(&self) -> bool {
        true
    }

    /// L_in(θ, φ, T), a scalar.
    fn inner_loss(&self, theta: &ParamList, phi: &ParamList, task: &Self::Task) -> Result<Tensor>;

    /// L_out(θ, φ, T), a scalar.
    fn outer_loss(&self, theta: &ParamList, phi: &ParamList, task: &Self::Task) -> Result<Tensor>;

    /// α_1..α_r; r is the length.
    fn step_sizes(&self) -> &[f64];
}

/// A borrowed problem is a problem (so `Autodiff::new(&problem)` works without a clone).
impl<P: BilevelProblem + ?Sized> BilevelProblem for &P {
    type Task = P::Task;

    fn start(&self, theta: &ParamList, task: &Self::Task) -> Result<ParamList> {
        (**self).start(theta, task)
    }
    fn start_depends_on_theta(&self) -> bool {
        (**self).start_depends_on_theta()
    }
    fn inner_loss(&self, theta: &ParamList, phi: &ParamList, task: &Self::Task) -> Result<Tensor> {
        (**self).inner_loss(theta, phi, task)
    }
    fn outer_loss(&self, theta: &ParamList, phi: &ParamList, task: &Self::Task) -> Result<Tensor> {
        (**self).outer_loss(theta, phi, task)
    }
    fn step_sizes(&self) -> &[f64] {
        (**self).step_sizes()
    }
}

/// The task distribution p(T) of a problem.
pub trait TaskDistribution: BilevelProblem {
    /// Draws T ~ p(T).
    fn sample_task(&self, rng: &mut dyn RngCore) -> Result<Self::Task>;

    /// For a finite Ω_T: every task with its probability (lets M^(r) be computed exactly).
    fn enumerate_tasks(&self) -> Option<Vec<(f64, Self::Task)>> {
        None
    }
}
