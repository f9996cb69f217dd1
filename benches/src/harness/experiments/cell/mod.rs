//! One (method, seed) training cell: the engine's one outer loop ([`hypergrad::driver::train`])
//! under a function-call budget, with metrics evaluated at evenly spaced call checkpoints.
//! Shared by every training experiment, whatever takes the outer step. The curves of finished
//! cells are aggregated for figures in [`curves`].

mod curves;

pub use curves::{mean_curve, mean_curve_against, CurveX};

use crate::harness::interrupt;
use crate::harness::methods::MethodSpec;
use crate::harness::record::{CallCount, CurvePoint, Metric, RunRecord, RunStatus};
use anyhow::{anyhow, Result};
use hypergrad::driver::{
    train, Budget, EstimatorStep, Observer, OuterStep, StepRecord, Termination,
};
use hypergrad::{Counted, Oracles, ParamList};
use rand::RngCore;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Metric values.
pub type Metrics = BTreeMap<Metric, f64>;

/// Receives the calls a cell has spent so far, after every oracle call.
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// `oracles`, counted, reporting every call to `progress`.
pub fn counted<O: Oracles>(oracles: O, progress: &Progress) -> Counted<O> {
    let p = progress.clone();
    Counted::new(oracles).on_call(move |c| p(c.total()))
}

/// Which evaluation: along the curve, or the final one (experiments may evaluate the final
/// point more thoroughly, e.g. on more test tasks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checkpoint {
    /// A point of the training curve (including the start).
    Curve,
    /// The end of the run.
    Final,
}

/// Budget and logging of a cell.
pub struct CellBudget {
    /// Function calls (gradient + HVP) to spend.
    pub calls: u64,
    /// Metric evaluations along the way (besides the start and the end).
    pub eval_points: u64,
}

/// The cell was interrupted (Ctrl-C); nothing of it was saved.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

/// How metrics are evaluated at a checkpoint.
pub type Evaluate<'a> = dyn FnMut(&ParamList, Checkpoint) -> Result<Metrics> + 'a;

struct CurveObserver<'a, 'e> {
    evaluate: &'a mut Evaluate<'e>,
    budget_calls: u64,
    every: u64,
    next: u64,
    curve: Vec<CurvePoint>,
    extra: BTreeMap<String, Vec<f64>>,
    peak_state_bytes: usize,
    failure: Option<anyhow::Error>,
    non_finite: bool,
    interrupted: bool,
}

impl CurveObserver<'_, '_> {
    /// Evaluates θ; false if that failed or gave a non-finite metric.
    fn record(
        &mut self,
        at: Checkpoint,
        iter: u64,
        calls: u64,
        wall_s: f64,
        theta: &ParamList,
    ) -> bool {
        match (self.evaluate)(theta, at) {
            Ok(mut metrics) => {
                // JSON has no NaN: a non-finite value is dropped from the point and the run is
                // marked diverged (records stay readable for --resume).
                let before = metrics.len();
                metrics.retain(|_, v| v.is_finite());
                self.non_finite |= metrics.len() < before;
                // Progress of a long cell (`ufom -v`): a run stopped mid-cell still shows how
                // far it got.
                tracing::info!(
                    iter,
                    calls,
                    budget = self.budget_calls,
                    train_s = wall_s,
                    metrics = ?metrics,
                    "evaluated"
                );
                self.curve.push(CurvePoint {
                    iter,
                    calls,
                    wall_s,
                    metrics,
                });
                !self.non_finite
            }
            Err(e) => {
                self.failure = Some(e);
                false
            }
        }
    }
}

impl Observer for CurveObserver<'_, '_> {
    fn on_step(&mut self, s: &StepRecord<'_>) -> hypergrad::Result<bool> {
        for d in &s.step.diagnostics {
            for (k, v) in d {
                self.extra.entry(k.to_string()).or_default().push(*v);
            }
        }
        self.peak_state_bytes = self.peak_state_bytes.max(s.step.peak_state_bytes);
        if interrupt::requested() {
            self.interrupted = true;
            return Ok(false);
        }
        let calls = s.calls.total();
        // Points strictly inside the budget; the end of the run is the final evaluation.
        if calls >= self.next && calls < self.budget_calls {
            while self.next <= calls {
                self.next += self.every;
            }
            let wall_s = s.train_time.as_secs_f64();
            return Ok(self.record(Checkpoint::Curve, s.k, calls, wall_s, s.theta));
        }
        Ok(true)
    }
}

/// Trains θ from `theta0`, one `step` per outer iteration, until `budget.calls` are spent (or
/// it diverges), evaluating at the start, every `calls / eval_points` calls and at the end.
/// Curve times and `seconds_per_call` count the steps only, not the evaluations.
#[allow(clippy::too_many_arguments)]
pub fn train_cell<O: Oracles>(
    method: &MethodSpec,
    seed: u64,
    oracles: &Counted<O>,
    step: &mut dyn OuterStep<O>,
    theta0: ParamList,
    budget: &CellBudget,
    evaluate: &mut Evaluate<'_>,
    rng: &mut dyn RngCore,
) -> Result<RunRecord> {
    let start = Instant::now();
    let calls0 = oracles.calls();
    let every = (budget.calls / budget.eval_points.max(1)).max(1);
    let mut obs = CurveObserver {
        evaluate,
        budget_calls: budget.calls,
        every,
        next: every,
        curve: Vec::new(),
        extra: BTreeMap::new(),
        peak_state_bytes: 0,
        failure: None,
        non_finite: false,
        interrupted: false,
    };
    obs.record(Checkpoint::Curve, 0, 0, 0.0, &theta0);
    let limits = Budget {
        max_iters: None,
        max_calls: Some(budget.calls),
    };
    let summary = train(oracles, step, theta0, limits, rng, &mut obs)?;
    if let Some(e) = obs.failure.take() {
        return Err(e);
    }
    if obs.interrupted {
        return Err(Interrupted.into());
    }
    let calls = summary.calls;
    debug_assert_eq!(oracles.calls() - calls0, calls + summary.discarded);
    let train_s = summary.train_time.as_secs_f64();
    if !obs.non_finite && summary.termination != Termination::Diverged {
        obs.record(
            Checkpoint::Final,
            summary.iters,
            calls.total(),
            train_s,
            &summary.theta,
        );
        if let Some(e) = obs.failure.take() {
            return Err(e);
        }
    }
    let diverged = obs.non_finite || summary.termination == Termination::Diverged;
    // A diagnostic that never changed over the run (e.g. fixed UFOM's q) is not a series: its
    // value is in the method's spec. Keeping it would only repeat one number per step.
    obs.extra.retain(|_, v| v.windows(2).any(|w| w[0] != w[1]));
    let final_metrics = obs
        .curve
        .last()
        .map(|p| p.metrics.clone())
        .unwrap_or_default();
    Ok(RunRecord {
        method: method.label.clone(),
        seed,
        status: if diverged {
            RunStatus::Diverged
        } else {
            RunStatus::Finished
        },
        iterations: summary.iters,
        calls: CallCount::from(calls),
        discarded_calls: Some(summary.discarded.total()),
        wall_s: start.elapsed().as_secs_f64(),
        // The discarded iteration's time is in train_s: its calls count here too.
        seconds_per_call: train_s / (calls + summary.discarded).total().max(1) as f64,
        peak_state_bytes: obs.peak_state_bytes,
        final_metrics,
        curve: obs.curve,
        extra: obs.extra,
        code: None,
    })
}

/// Trains an estimator method: Algorithm 1 with the method's estimator, outer optimiser and
/// meta-batch, tasks drawn by `sample_task`.
#[allow(clippy::too_many_arguments)]
pub fn train_estimator_cell<O: Oracles + 'static>(
    method: &MethodSpec,
    seed: u64,
    oracles: &Counted<O>,
    theta0: ParamList,
    sample_task: impl FnMut(&mut dyn RngCore) -> hypergrad::Result<O::Task>,
    budget: &CellBudget,
    evaluate: &mut Evaluate<'_>,
    rng: &mut dyn RngCore,
) -> Result<RunRecord> {
    let spec = method
        .estimator_spec()
        .ok_or_else(|| anyhow!("{} is not an estimator method", method.label))?;
    let outer = method
        .outer
        .ok_or_else(|| anyhow!("{} has no outer optimiser", method.label))?;
    let mut estimator = spec.build::<O>()?;
    let mut step = EstimatorStep::new(estimator.as_mut(), outer.build()?, sample_task)
        .meta_batch(method.tasks_per_step);
    train_cell(
        method, seed, oracles, &mut step, theta0, budget, evaluate, rng,
    )
}
