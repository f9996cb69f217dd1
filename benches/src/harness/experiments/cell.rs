//! One (method, seed) training cell: the engine's outer loop under a function-call budget, with
//! metrics evaluated at evenly spaced call checkpoints. Shared by every training experiment.

use crate::harness::record::{CallCount, CurvePoint, RunRecord, RunStatus};
use anyhow::Result;
use hypergrad::driver::{train, Budget, Observer, StepRecord, Termination};
use hypergrad::optim::OuterOptimizer;
use hypergrad::{Counted, Estimator, Oracles, ParamList};
use rand::RngCore;
use std::collections::BTreeMap;
use std::time::Instant;

/// Metric values by name.
pub type Metrics = BTreeMap<String, f64>;

/// Budget and logging of a cell.
pub struct CellBudget {
    /// Function calls (gradient + HVP) to spend.
    pub calls: u64,
    /// Metric evaluations along the way (besides the start and the end).
    pub eval_points: u64,
}

struct CurveObserver<'a> {
    evaluate: &'a mut dyn FnMut(&ParamList) -> Result<Metrics>,
    progress: &'a mut dyn FnMut(u64),
    every: u64,
    next: u64,
    curve: Vec<CurvePoint>,
    q: Vec<f64>,
    peak_state_bytes: usize,
    failure: Option<anyhow::Error>,
    non_finite: bool,
    last_iter: u64,
}

impl CurveObserver<'_> {
    fn record(&mut self, iter: u64, calls: u64, wall_s: f64, theta: &ParamList) -> bool {
        match (self.evaluate)(theta) {
            Ok(mut metrics) => {
                // JSON has no NaN: a non-finite value is dropped from the point and the run is
                // marked diverged (records stay readable for --resume).
                let before = metrics.len();
                metrics.retain(|_, v| v.is_finite());
                self.non_finite |= metrics.len() < before;
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

impl Observer for CurveObserver<'_> {
    fn on_step(&mut self, s: &StepRecord<'_>) -> hypergrad::Result<bool> {
        self.last_iter = s.k;
        self.q.extend(s.estimate.q);
        self.peak_state_bytes = self.peak_state_bytes.max(s.estimate.peak_state_bytes);
        let calls = s.calls.total();
        (self.progress)(calls);
        if calls >= self.next {
            while self.next <= calls {
                self.next += self.every;
            }
            return Ok(self.record(s.k, calls, s.elapsed.as_secs_f64(), s.theta));
        }
        Ok(true)
    }
}

/// Trains θ from `theta0` with `estimator` until `budget.calls` are spent (or it diverges),
/// evaluating `evaluate` at the start, every `calls / eval_points` calls and at the end.
#[allow(clippy::too_many_arguments)]
pub fn train_cell<O: Oracles>(
    method: &str,
    seed: u64,
    oracles: &Counted<O>,
    estimator: &mut dyn Estimator<O>,
    optimizer: &mut OuterOptimizer,
    theta0: ParamList,
    sample_task: impl FnMut(&mut dyn RngCore) -> hypergrad::Result<O::Task>,
    budget: &CellBudget,
    evaluate: &mut dyn FnMut(&ParamList) -> Result<Metrics>,
    progress: &mut dyn FnMut(u64),
    rng: &mut dyn RngCore,
) -> Result<RunRecord> {
    let start = Instant::now();
    let calls0 = oracles.calls();
    let every = (budget.calls / budget.eval_points.max(1)).max(1);
    let mut obs = CurveObserver {
        evaluate,
        progress,
        every,
        next: every,
        curve: Vec::new(),
        q: Vec::new(),
        peak_state_bytes: 0,
        failure: None,
        non_finite: false,
        last_iter: 0,
    };
    obs.record(0, 0, 0.0, &theta0);
    let limits = Budget {
        max_iters: None,
        max_calls: Some(budget.calls),
    };
    let summary = train(
        oracles,
        estimator,
        optimizer,
        theta0,
        sample_task,
        limits,
        rng,
        &mut obs,
    )?;
    if let Some(e) = obs.failure.take() {
        return Err(e);
    }
    let calls = oracles.calls() - calls0;
    let diverged = obs.non_finite || summary.termination == Termination::Diverged;
    if !diverged && obs.curve.last().is_some_and(|p| p.calls < calls.total()) {
        obs.record(
            summary.iters,
            calls.total(),
            start.elapsed().as_secs_f64(),
            &summary.theta,
        );
    }
    let wall_s = start.elapsed().as_secs_f64();
    let mut extra = BTreeMap::new();
    if !obs.q.is_empty() {
        extra.insert("q".to_string(), obs.q);
    }
    let final_metrics = obs
        .curve
        .last()
        .map(|p| p.metrics.clone())
        .unwrap_or_default();
    Ok(RunRecord {
        method: method.to_string(),
        seed,
        status: if diverged || obs.non_finite {
            RunStatus::Diverged
        } else {
            RunStatus::Finished
        },
        iterations: summary.iters.max(obs.last_iter),
        calls: CallCount::from(calls),
        wall_s,
        seconds_per_call: wall_s / calls.total().max(1) as f64,
        peak_state_bytes: obs.peak_state_bytes,
        final_metrics,
        curve: obs.curve,
        extra,
    })
}

/// The mean ± std over runs of `metric` along the curves, aligned by checkpoint index (the
/// checkpoints sit at the same call counts in every run), against mean calls.
pub fn mean_curve(label: &str, runs: &[RunRecord], metric: &str) -> crate::harness::record::Series {
    let curves: Vec<Vec<(f64, f64)>> = runs
        .iter()
        .map(|r| {
            r.curve
                .iter()
                .filter_map(|p| p.metrics.get(metric).map(|v| (p.calls as f64, *v)))
                .collect()
        })
        .collect();
    let len = curves.iter().map(Vec::len).min().unwrap_or(0);
    let (mut x, mut y, mut err) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..len {
        let xs: Vec<f64> = curves.iter().map(|c| c[i].0).collect();
        let ys: Vec<f64> = curves.iter().map(|c| c[i].1).collect();
        if let (Some(sx), Some(sy)) = (
            crate::harness::record::Stat::of(&xs),
            crate::harness::record::Stat::of(&ys),
        ) {
            x.push(sx.mean);
            y.push(sy.mean);
            err.push(sy.std);
        }
    }
    crate::harness::record::Series {
        label: label.to_string(),
        x,
        y,
        y_err: Some(err),
    }
}
