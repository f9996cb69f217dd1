//! The one outer loop (Algorithm 1) every method runs in: take an outer step, check it, tell the
//! observers; stop at an iteration or function-call budget, or when the run diverges.
//!
//! What one outer step does is an [`OuterStep`]: [`EstimatorStep`] is Algorithm 1 itself
//! (sample tasks, average their hypergradient estimates, step θ with the outer optimiser); other
//! meta-learners (Reptile) implement the trait themselves. Logging, curves and progress are
//! [`Observer`]s; the driver itself prints nothing.

mod meta_batch;

use crate::error::Result;
use crate::estimators::{Diagnostics, Estimator};
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
    /// Function calls (gradient + HVP) at most: no kept iteration ends above it. An iteration's
    /// cost is known only once it ran (it is random for the randomised estimators), so the one
    /// that crosses the budget is computed and then discarded: θ stays at the last iteration
    /// within the budget, and the discarded calls are reported ([`RunSummary::discarded`]).
    pub max_calls: Option<u64>,
}

impl Budget {
    /// The fraction of the budget spent after `iters` iterations and `calls` calls, in [0, 1]
    /// (0 without a budget): schedules that decay over the run read it.
    fn fraction(&self, iters: u64, calls: u64) -> f64 {
        let frac = match (self.max_calls, self.max_iters) {
            (Some(m), _) => calls as f64 / m.max(1) as f64,
            (None, Some(m)) => iters as f64 / m.max(1) as f64,
            (None, None) => 0.0,
        };
        frac.clamp(0.0, 1.0)
    }
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

/// The result of one outer step.
#[derive(Clone, Debug)]
pub struct Step {
    /// θ_k.
    pub theta: ParamList,
    /// The diagnostics of every estimate the step used (one map per task).
    pub diagnostics: Vec<Diagnostics>,
    /// Bytes of inner states (and kept gradient graphs: `Estimate::peak_state_bytes`) held at
    /// once, at peak, during the step.
    pub peak_state_bytes: usize,
}

/// One outer iteration θ_{k−1} → θ_k.
pub trait OuterStep<O: Oracles> {
    /// A short name for logs.
    fn name(&self) -> String;

    /// Takes the step; `budget_fraction` ∈ [0, 1] is the share of the budget already spent.
    fn step(
        &mut self,
        oracles: &Counted<O>,
        theta: &ParamList,
        budget_fraction: f64,
        rng: &mut dyn RngCore,
    ) -> Result<Step>;
}

/// Algorithm 1's step: draw `tasks_per_step` tasks, average their hypergradient estimates (a
/// meta-batch; 1 = plain Algorithm 1) and step θ with the outer optimiser. A meta-batch's
/// estimates run in parallel on the current rayon pool, each with its own seed, and are summed
/// in task order ([`meta_batch`]): the result does not depend on the thread count.
pub struct EstimatorStep<'a, O: Oracles, F> {
    /// The hypergradient estimator.
    pub estimator: &'a mut dyn Estimator<O>,
    /// The outer optimiser.
    pub optimizer: OuterOptimizer,
    /// Draws a task T.
    pub sample_task: F,
    /// Tasks per step (≥ 1).
    pub tasks_per_step: usize,
}

impl<'a, O, F> EstimatorStep<'a, O, F>
where
    O: Oracles,
    F: FnMut(&mut dyn RngCore) -> Result<O::Task>,
{
    /// One task per step.
    pub fn new(
        estimator: &'a mut dyn Estimator<O>,
        optimizer: OuterOptimizer,
        sample_task: F,
    ) -> Self {
        Self {
            estimator,
            optimizer,
            sample_task,
            tasks_per_step: 1,
        }
    }

    /// `n` tasks per step, their estimates averaged.
    pub fn meta_batch(mut self, n: usize) -> Self {
        self.tasks_per_step = n.max(1);
        self
    }
}

impl<O, F> OuterStep<O> for EstimatorStep<'_, O, F>
where
    O: Oracles,
    F: FnMut(&mut dyn RngCore) -> Result<O::Task>,
{
    fn name(&self) -> String {
        self.estimator.name()
    }

    fn step(
        &mut self,
        oracles: &Counted<O>,
        theta: &ParamList,
        _budget_fraction: f64,
        rng: &mut dyn RngCore,
    ) -> Result<Step> {
        let estimates = if self.tasks_per_step == 1 {
            // One task: its estimate draws from the run's generator directly.
            let task = (self.sample_task)(rng)?;
            vec![self.estimator.estimate(oracles, theta, &task, rng)?]
        } else {
            // A meta-batch: tasks and their seeds drawn in order, the estimates in parallel.
            let mut tasks = Vec::with_capacity(self.tasks_per_step);
            for _ in 0..self.tasks_per_step {
                let task = (self.sample_task)(rng)?;
                tasks.push((task, rng.next_u64()));
            }
            meta_batch::estimate_all(&mut *self.estimator, oracles, theta, tasks)?
        };
        let mut sum: Option<ParamList> = None;
        let (mut diagnostics, mut peak) = (Vec::with_capacity(self.tasks_per_step), 0);
        // Summed in task order, whatever order the estimates finished in.
        for e in estimates {
            peak = peak.max(e.peak_state_bytes);
            diagnostics.push(e.diagnostics);
            sum = Some(match sum {
                None => e.grad,
                Some(s) => s.add(&e.grad)?,
            });
        }
        let grad = match sum {
            Some(s) if self.tasks_per_step > 1 => s.scale(1.0 / self.tasks_per_step as f64)?,
            Some(s) => s,
            None => theta.zeros_like()?,
        };
        Ok(Step {
            theta: self.optimizer.step(theta, &grad)?,
            diagnostics,
            peak_state_bytes: peak,
        })
    }
}

/// What an observer sees after each outer step.
pub struct StepRecord<'a> {
    /// Iteration k (1-based).
    pub k: u64,
    /// θ_k after the step.
    pub theta: &'a ParamList,
    /// What the step reported.
    pub step: &'a Step,
    /// Calls spent since the run started.
    pub calls: Calls,
    /// Time spent in the steps since the run started (observers' own time excluded, so calls
    /// and time compare across methods whatever the observers evaluate).
    pub train_time: Duration,
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
    /// Calls spent by the kept iterations (at most `max_calls`).
    pub calls: Calls,
    /// Calls spent by the iteration discarded for crossing `max_calls` (zero when none was).
    pub discarded: Calls,
    /// Why it ended.
    pub termination: Termination,
    /// Time spent in the steps (observers excluded).
    pub train_time: Duration,
}

/// Runs Algorithm 1: θ_k = `step`(θ_{k−1}) until `budget` is spent, θ stops being finite or an
/// observer stops the run.
pub fn train<O: Oracles>(
    oracles: &Counted<O>,
    step: &mut dyn OuterStep<O>,
    theta0: ParamList,
    budget: Budget,
    rng: &mut dyn RngCore,
    observer: &mut dyn Observer,
) -> Result<RunSummary> {
    let calls0 = oracles.calls();
    let mut train_time = Duration::ZERO;
    let mut theta = theta0;
    let mut k = 0;
    let mut discarded = Calls::default();
    let termination = loop {
        let spent = oracles.calls() - calls0;
        if budget.max_iters.is_some_and(|m| k >= m) {
            break Termination::MaxIters;
        }
        if budget.max_calls.is_some_and(|m| spent.total() >= m) {
            break Termination::CallBudget;
        }
        let t0 = Instant::now();
        let next = step.step(oracles, &theta, budget.fraction(k, spent.total()), rng)?;
        let after = oracles.calls() - calls0;
        if budget.max_calls.is_some_and(|m| after.total() > m) {
            train_time += t0.elapsed();
            discarded = after - spent;
            break Termination::CallBudget;
        }
        // One scalar instead of copying θ to the host: ‖θ‖² is NaN/∞ iff θ is (or overflows).
        let finite = next.theta.sq_norm()?.is_finite();
        train_time += t0.elapsed();
        if !finite {
            break Termination::Diverged;
        }
        k += 1;
        let record = StepRecord {
            k,
            theta: &next.theta,
            step: &next,
            calls: oracles.calls() - calls0,
            train_time,
        };
        let go_on = observer.on_step(&record)?;
        theta = next.theta;
        if !go_on {
            break Termination::Stopped;
        }
    };
    Ok(RunSummary {
        theta,
        iters: k,
        calls: oracles.calls() - calls0 - discarded,
        discarded,
        termination,
        train_time,
    })
}
