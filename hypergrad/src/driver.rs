//! The one outer loop (Algorithm 1) every method runs in: sample T, estimate the hypergradient,
//! step θ; stop at an iteration or function-call budget, or when the run diverges.
//! Logging and progress are [`Observer`]s; the driver itself prints nothing.

use crate::error::Result;
use crate::estimators::{Estimate, Estimator};
use crate::optim::OuterOptimizer;
use crate::oracles::{Calls, Counted, Oracles};
use crate::params::ParamList;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// When to stop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// Outer iterations at most.
    pub max_iters: Option<u64>,
    /// Function calls (gradient + HVP) at most: the run stops before the first iteration that
    /// starts with this many spent.
    pub max_calls: Option<u64>,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Termination {
    /// `max_iters` reached.
    MaxIters,
    /// `max_calls` reached.
    CallBudget,
    /// A hypergradient or θ became NaN or infinite.
    Diverged,
    /// An observer asked to stop.
    Stopped,
}

/// What an observer sees after each outer step.
pub struct StepRecord<'a> {
    /// Iteration k (1-based).
    pub k: u64,
    /// θ_k after the step.
    pub theta: &'a ParamList,
    /// The estimate used for the step.
    pub estimate: &'a Estimate,
    /// Calls spent since the run started.
    pub calls: Calls,
    /// Wall time since the run started.
    pub elapsed: Duration,
}

/// Watches a run; return `Ok(false)` to stop it.
pub trait Observer {
    /// Called after every outer step.
    fn on_step(&mut self, _step: &StepRecord<'_>) -> Result<bool> {
        Ok(true)
    }
}

/// An observer that does nothing.
pub struct NoObserver;
impl Observer for NoObserver {}

/// The end state of a run.
#[derive(Clone, Debug)]
pub struct RunSummary {
    /// Final θ (the last finite one if the run diverged).
    pub theta: ParamList,
    /// Outer iterations done.
    pub iters: u64,
    /// Calls spent.
    pub calls: Calls,
    /// Why it ended.
    pub termination: Termination,
    /// Wall time.
    pub elapsed: Duration,
}

/// Runs Algorithm 1: θ_k = θ_{k−1} − step(G(θ_{k−1}, T_k)) with T_k drawn by `sample_task`.
#[allow(clippy::too_many_arguments)]
pub fn train<O: Oracles>(
    oracles: &Counted<O>,
    estimator: &mut dyn Estimator<O>,
    optimizer: &mut OuterOptimizer,
    theta0: ParamList,
    mut sample_task: impl FnMut(&mut dyn RngCore) -> Result<O::Task>,
    budget: Budget,
    rng: &mut dyn RngCore,
    observer: &mut dyn Observer,
) -> Result<RunSummary> {
    let start = Instant::now();
    let calls0 = oracles.calls();
    let mut theta = theta0;
    let mut k = 0;
    let termination = loop {
        let spent = oracles.calls() - calls0;
        if budget.max_iters.is_some_and(|m| k >= m) {
            break Termination::MaxIters;
        }
        if budget.max_calls.is_some_and(|m| spent.total() >= m) {
            break Termination::CallBudget;
        }
        let task = sample_task(rng)?;
        let estimate = estimator.estimate(oracles, &theta, &task, rng)?;
        let next = optimizer.step(&theta, &estimate.grad)?;
        // One scalar instead of copying θ to the host: ‖θ‖² is NaN/∞ iff θ is (or overflows).
        if !next.sq_norm()?.is_finite() {
            break Termination::Diverged;
        }
        theta = next;
        k += 1;
        let record = StepRecord {
            k,
            theta: &theta,
            estimate: &estimate,
            calls: oracles.calls() - calls0,
            elapsed: start.elapsed(),
        };
        if !observer.on_step(&record)? {
            break Termination::Stopped;
        }
    };
    Ok(RunSummary {
        theta,
        iters: k,
        calls: oracles.calls() - calls0,
        termination,
        elapsed: start.elapsed(),
    })
}
