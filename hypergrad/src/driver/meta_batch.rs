//! The estimates of one meta-batch (Algorithm 1 with several tasks per step; the few-shot
//! experiments use 5), computed at once on the threads of the current rayon pool.
//!
//! Each task gets its own seed, drawn in order from the run's generator right after the task
//! itself, and its own call counter ([`Counted::fork`]); so each estimate depends only on θ,
//! its task and its seed, never on which thread ran it or when. The caller sums them in task
//! order: a meta-batch gives the same θ, bit for bit, on one thread or many.

use crate::error::Result;
use crate::estimators::{Estimate, Estimator};
use crate::oracles::{Counted, Oracles};
use crate::params::ParamList;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// One task of a meta-batch and the seed of its estimate's draws.
pub type SeededTask<T> = (T, u64);

/// The estimates of `tasks`, in their order: in parallel when `estimator` gives a copy per
/// task ([`Estimator::for_task`]), one after another otherwise (adaptive UFOM, whose running
/// estimates make each estimate depend on the ones before).
pub fn estimate_all<O: Oracles>(
    estimator: &mut dyn Estimator<O>,
    oracles: &Counted<O>,
    theta: &ParamList,
    tasks: Vec<SeededTask<O::Task>>,
) -> Result<Vec<Estimate>> {
    let one = |e: &mut dyn Estimator<O>, (task, seed): SeededTask<O::Task>| {
        let counted = oracles.fork();
        e.estimate(&counted, theta, &task, &mut ChaCha8Rng::seed_from_u64(seed))
    };
    let copies: Option<Vec<_>> = tasks.iter().map(|_| estimator.for_task()).collect();
    match copies {
        Some(copies) => copies
            .into_par_iter()
            .zip(tasks)
            .map(|(mut e, t)| one(e.as_mut(), t))
            .collect(),
        None => tasks.into_iter().map(|t| one(estimator, t)).collect(),
    }
}
