//! The one outer loop: Algorithm 1's step with a meta-batch averages the estimates, the budget
//! fraction reaches custom steps, call counting is done once around the estimator, and the
//! counted oracles report every call.

mod common;

use common::*;
use hypergrad::driver::{train, Budget, EstimatorStep, NoObserver, OuterStep, Step};
use hypergrad::estimators::{Fom, Ufom};
use hypergrad::optim::{OuterConfig, OuterOptimizer, StepSchedule};
use hypergrad::problems::{Quadratic, QuadraticConfig};
use hypergrad::{Autodiff, Counted, Estimator, Oracles, ParamList, Result, TaskDistribution};
use rand::RngCore;
use std::cell::RefCell;
use std::rc::Rc;

fn sgd(step: f64) -> Result<OuterOptimizer> {
    OuterOptimizer::new(OuterConfig::Sgd(StepSchedule::Constant(step)), None)
}

#[test]
fn a_meta_batch_step_averages_the_tasks_estimates() -> Result<()> {
    let o = quadratic(QuadraticConfig::default())?;
    let p = o.inner().problem().clone();
    let theta = p.theta(&vec![0.3; p.config().s])?;
    // By hand: three tasks, each followed by the seed of its estimate's draws, from the run's
    // generator in the step's order.
    let mut r = rng(5);
    let mut est = Ufom::new(0.5)?;
    let mut sum: Option<ParamList> = None;
    for _ in 0..3 {
        let t = p.sample_task(&mut r)?;
        let mut own = rng(r.next_u64());
        let g = est.estimate(&o, &theta, &t, &mut own)?.grad;
        sum = Some(match sum {
            None => g,
            Some(s) => s.add(&g)?,
        });
    }
    let want = theta.axpy(-1.0, &sum.expect("three tasks").scale(1.0 / 3.0)?)?;
    let mut est = Ufom::new(0.5)?;
    let mut step = EstimatorStep::new(&mut est, sgd(1.0)?, |r| p.sample_task(r)).meta_batch(3);
    let got = step.step(&o, &theta, 0.0, &mut rng(5))?;
    assert_eq!(got.theta.to_vec()?, want.to_vec()?);
    assert_eq!(got.diagnostics.len(), 3, "one diagnostics map per task");
    assert!(got.diagnostics.iter().all(|d| d.get("q") == Some(&0.5)));
    // Control: one task per step is a different step.
    let mut est = Ufom::new(0.5)?;
    let mut one = EstimatorStep::new(&mut est, sgd(1.0)?, |r| p.sample_task(r));
    assert_ne!(
        one.step(&o, &theta, 0.0, &mut rng(5))?.theta.to_vec()?,
        want.to_vec()?
    );
    Ok(())
}

/// Records the budget fraction each step sees.
struct Recorder(Rc<RefCell<Vec<f64>>>);

impl OuterStep<Autodiff<Quadratic>> for Recorder {
    fn name(&self) -> String {
        "recorder".into()
    }
    fn step(
        &mut self,
        o: &Counted<Autodiff<Quadratic>>,
        theta: &ParamList,
        budget_fraction: f64,
        rng: &mut dyn RngCore,
    ) -> Result<Step> {
        self.0.borrow_mut().push(budget_fraction);
        let task = o.inner().problem().sample_task(rng)?;
        let g = Fom.estimate(o, theta, &task, rng)?.grad;
        Ok(Step {
            theta: theta.axpy(-0.01, &g)?,
            diagnostics: Vec::new(),
            peak_state_bytes: 0,
        })
    }
}

#[test]
fn custom_steps_see_the_budget_fraction_spent() -> Result<()> {
    let o = quadratic(QuadraticConfig::default())?;
    let p = o.inner().problem().clone();
    let per_step = (steps(&o) + 1) as u64; // FOM: r + 1 gradient calls
    let seen = Rc::new(RefCell::new(Vec::new()));
    let budget = Budget {
        max_iters: None,
        max_calls: Some(4 * per_step),
    };
    let run = train(
        &o,
        &mut Recorder(seen.clone()),
        p.theta(&vec![0.0; p.config().s])?,
        budget,
        &mut rng(1),
        &mut NoObserver,
    )?;
    assert_eq!(run.iters, 4);
    assert_eq!(*seen.borrow(), vec![0.0, 0.25, 0.5, 0.75]);
    Ok(())
}

#[test]
fn counted_oracles_report_every_call_to_the_hook() -> Result<()> {
    let p = Quadratic::new(
        QuadraticConfig::default(),
        candle_core::DType::F64,
        candle_core::Device::Cpu,
    )?;
    let theta = p.theta(&vec![0.1; p.config().s])?;
    let task = p.sample_task(&mut rng(2))?;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let o = Counted::new(Autodiff::new(p)?).on_call(move |c| {
        log.lock().expect("log").push(c.total());
    });
    let e = Fom.estimate(&o, &theta, &task, &mut rng(3))?;
    // Counted once, around the estimator: r + 1 gradient calls, each reported as it happens.
    let r1 = (o.step_sizes().len() + 1) as u64;
    assert_eq!(e.calls.total(), r1);
    let want: Vec<u64> = (1..=e.calls.total()).collect();
    assert_eq!(*seen.lock().expect("log"), want);
    // A fork counts its own calls from zero; the root and the hook see them too.
    let fork = o.fork();
    let e2 = Fom.estimate(&fork, &theta, &task, &mut rng(3))?;
    assert_eq!((e2.calls.total(), fork.calls().total()), (r1, r1));
    assert_eq!(o.calls().total(), 2 * r1);
    assert_eq!(seen.lock().expect("log").last(), Some(&(2 * r1)));
    Ok(())
}

/// Matched budgets, exactly: no run ends above its call budget. The iteration that would cross
/// it is discarded (θ is the one after the last iteration within the budget) and its calls are
/// reported; a budget that iterations fill exactly discards nothing (the control).
#[test]
fn no_run_ends_above_its_call_budget() -> Result<()> {
    let o = quadratic(QuadraticConfig::default())?;
    let p = o.inner().problem().clone();
    let theta0 = p.theta(&vec![0.2; p.config().s])?;
    let per_step = (steps(&o) + 1) as u64; // FOM: r + 1 gradient calls
    let run_fom = |calls: u64| -> Result<_> {
        let mut est = Fom;
        let mut step = EstimatorStep::new(&mut est, sgd(0.1)?, |r| p.sample_task(r));
        let budget = Budget {
            max_iters: None,
            max_calls: Some(calls),
        };
        train(
            &o,
            &mut step,
            theta0.clone(),
            budget,
            &mut rng(4),
            &mut NoObserver,
        )
    };
    // 4.5 iterations of budget: 4 kept, the fifth computed and discarded.
    let half = run_fom(4 * per_step + per_step / 2)?;
    assert_eq!(half.iters, 4);
    assert_eq!(half.calls.total(), 4 * per_step);
    assert_eq!(half.discarded.total(), per_step);
    // θ is the same as that of a run whose budget is exactly those four iterations.
    let exact = run_fom(4 * per_step)?;
    assert_eq!(exact.discarded.total(), 0, "an exact fit discards nothing");
    assert_eq!(half.theta.to_vec()?, exact.theta.to_vec()?);
    // Randomised costs (UFOM, q = 0.3): over many seeds and budgets, never above the budget.
    let mut discarding = 0;
    for seed in 0..30u64 {
        let budget = 200 + 7 * seed;
        let mut est = Ufom::new(0.3)?;
        let mut step = EstimatorStep::new(&mut est, sgd(0.1)?, |r| p.sample_task(r));
        let limits = Budget {
            max_iters: None,
            max_calls: Some(budget),
        };
        let run = train(
            &o,
            &mut step,
            theta0.clone(),
            limits,
            &mut rng(seed),
            &mut NoObserver,
        )?;
        assert!(
            run.calls.total() <= budget,
            "seed {seed}: {} > {budget}",
            run.calls.total()
        );
        assert!(run.calls.total() + run.discarded.total() > budget || run.discarded.total() == 0);
        discarding += usize::from(run.discarded.total() > 0);
    }
    assert!(
        discarding > 0,
        "no run crossed its budget: the check was not exercised"
    );
    Ok(())
}

/// A meta-batch's estimates run in parallel and are summed in task order: the step is the same,
/// bit for bit, on one thread and on four. The control shows the comparison is sharp enough to
/// see a change of summation order.
#[test]
fn a_parallel_meta_batch_is_bitwise_the_serial_one() -> Result<()> {
    let o = quadratic(QuadraticConfig::default())?;
    let p = o.inner().problem().clone();
    let theta = p.theta(&vec![0.3; p.config().s])?;
    let step_on = |threads: usize| -> Result<Vec<f64>> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| {
            let mut est = Ufom::new(0.3)?;
            let mut step =
                EstimatorStep::new(&mut est, sgd(1.0)?, |r| p.sample_task(r)).meta_batch(7);
            let mut r = rng(11);
            let mut theta = theta.clone();
            for _ in 0..3 {
                theta = step.step(&o, &theta, 0.0, &mut r)?.theta;
            }
            theta.to_vec()
        })
    };
    let one = step_on(1)?;
    assert_eq!(one, step_on(4)?);
    // Control: the same seven estimates summed in reverse order differ in some bit.
    let mut r = rng(11);
    let mut grads = Vec::new();
    for _ in 0..7 {
        let t = p.sample_task(&mut r)?;
        let mut own = rng(r.next_u64());
        grads.push(Ufom::new(0.3)?.estimate(&o, &theta, &t, &mut own)?.grad);
    }
    let sum = |gs: Vec<&ParamList>| -> Result<Vec<f64>> {
        let mut s = gs[0].clone();
        for g in &gs[1..] {
            s = s.add(g)?;
        }
        s.to_vec()
    };
    let (fwd, rev) = (
        sum(grads.iter().collect())?,
        sum(grads.iter().rev().collect())?,
    );
    assert_ne!(fwd, rev, "reversing the sum should change some bit");
    Ok(())
}
