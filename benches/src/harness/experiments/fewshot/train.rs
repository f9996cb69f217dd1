//! Training cells of the few-shot experiments: MAML meta-batches with an engine estimator,
//! Reptile (Nichol et al. 2018, the openai/supervised-reptile loop), and the common meta-test
//! evaluation. Every gradient goes through the engine's [`Counted`] oracles, so Reptile's
//! inner gradients are function calls exactly like the estimators' ones.

use crate::harness::experiments::cell::Metrics;
use crate::harness::record::{CallCount, CurvePoint, RunRecord, RunStatus};
use anyhow::Result;
use candle_core::{DType, Device, Tensor};
use hypergrad::optim::{AdamConfig, OuterConfig, OuterOptimizer, StepSchedule};
use hypergrad::problems::{ConvNet, Maml, MamlTask};
use hypergrad::{Autodiff, Counted, Estimator, Oracles, ParamList};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::time::Instant;
use ufom_datasets::{Split, TaskSampler};

/// Seed of the fixed meta-test tasks (the same tasks for every method and seed).
pub const EVAL_SEED: u64 = 1_000_000;

/// Reptile's published 1-shot 20-way Omniglot settings (openai/supervised-reptile README:
/// `--shots 1 --classes 20 --inner-batch 20 --inner-iters 10 --meta-step 1 --meta-batch 5
/// --meta-iters 200000 --eval-batch 10 --eval-iters 50 --learning-rate 0.0005
/// --meta-step-final 0 --train-shots 10 --transductive`). Inner optimiser: Adam with β1 = 0.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ReptileConfig {
    /// Images per class of a training task.
    pub train_shots: usize,
    /// Mini-batch of an inner step.
    pub inner_batch: usize,
    /// Inner Adam steps per task (each one function call).
    pub inner_iters: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// ε at the start; decays linearly to `meta_step_final` over the call budget.
    pub meta_step: f64,
    /// ε at the end.
    pub meta_step_final: f64,
    /// Mini-batch of Reptile's own evaluation.
    pub eval_batch: usize,
    /// Adam steps of Reptile's own evaluation.
    pub eval_iters: usize,
}

impl Default for ReptileConfig {
    fn default() -> Self {
        Self {
            train_shots: 10,
            inner_batch: 20,
            inner_iters: 10,
            learning_rate: 0.0005,
            meta_step: 1.0,
            meta_step_final: 0.0,
            eval_batch: 10,
            eval_iters: 50,
        }
    }
}

/// Everything a cell needs besides its method and seed.
pub struct Setup<'a> {
    /// Tasks from the split.
    pub sampler: &'a TaskSampler,
    /// The network (its `classes` is m).
    pub net: ConvNet,
    /// Inner steps r.
    pub r: usize,
    /// Inner step α.
    pub alpha: f64,
    /// Tasks per meta-update.
    pub meta_batch: usize,
    /// Function calls per cell.
    pub budget_calls: u64,
    /// Curve evaluations besides the start and the end.
    pub eval_points: u64,
    /// Meta-test tasks of a curve evaluation.
    pub curve_tasks: usize,
    /// Meta-test tasks of the final evaluation.
    pub test_tasks: usize,
    /// Meta-test tasks of Reptile's own evaluation (50 Adam steps each).
    pub reptile_eval_tasks: usize,
    /// Training dtype.
    pub dtype: DType,
    /// Training device.
    pub device: Device,
    /// Reptile's settings.
    pub reptile: ReptileConfig,
}

impl Setup<'_> {
    fn ways(&self) -> usize {
        self.net.classes
    }

    /// An m-way task with one-hot labels.
    pub fn task(&self, split: Split, shots: usize, rng: &mut ChaCha8Rng) -> Result<MamlTask> {
        let t = self.sampler.sample(split, self.ways(), shots, 1, rng)?;
        Ok(MamlTask {
            support_x: t.support_x.clone(),
            support_y: t.support_y_one_hot(self.dtype)?,
            query_x: t.query_x.clone(),
            query_y: t.query_y_one_hot(self.dtype)?,
        })
    }

    fn problem(&self) -> Result<Maml> {
        Ok(Maml::new(self.net.clone(), self.r, self.alpha)?)
    }

    /// Common evaluation: on `n` fixed meta-test tasks, r SGD steps of α from θ on the m
    /// support images, accuracy on the m query images (batch norm on the query batch).
    pub fn evaluate(&self, problem: &Maml, theta: &ParamList, n: usize) -> Result<Metrics> {
        let mut acc = Vec::with_capacity(n);
        let mut ce = 0.0;
        for i in 0..n {
            let task = self.task(
                Split::Test,
                1,
                &mut ChaCha8Rng::seed_from_u64(EVAL_SEED + i as u64),
            )?;
            let (a, c) = problem.query_metrics(&problem.adapt(theta, &task)?, &task)?;
            acc.push(100.0 * a);
            ce += c / n as f64;
        }
        Ok(accuracy_metrics("test_acc", &acc, Some(ce)))
    }

    /// Reptile's own evaluation: `eval_iters` Adam steps (fresh state, β1 = 0) on mini-batches
    /// of `eval_batch` support images, then the query accuracy.
    fn evaluate_reptile_own(&self, problem: &Maml, theta: &ParamList, n: usize) -> Result<Metrics> {
        let cfg = &self.reptile;
        let mut acc = Vec::with_capacity(n);
        let o = Autodiff::new(problem.clone())?;
        for i in 0..n {
            let mut rng = ChaCha8Rng::seed_from_u64(EVAL_SEED + i as u64);
            let task = self.task(Split::Test, 1, &mut rng)?;
            let mut adam = inner_adam(cfg.learning_rate)?;
            let mut batches = MiniBatches::new(task.support_x.dim(0)?, cfg.eval_batch);
            let mut phi = theta.clone();
            for _ in 0..cfg.eval_iters {
                let b = batches.next(&task, &mut rng)?;
                let g = o.inner_grad(theta, &phi, &b)?;
                phi = adam.step(&phi, &g)?;
            }
            acc.push(100.0 * problem.query_metrics(&phi, &task)?.0);
        }
        Ok(accuracy_metrics("test_acc_reptile_eval", &acc, None))
    }
}

/// `{key}` (mean, %), `{key}_ci95` (1.96·s/√n) and the task count.
fn accuracy_metrics(key: &str, acc: &[f64], ce: Option<f64>) -> Metrics {
    let n = acc.len().max(1) as f64;
    let mean = acc.iter().sum::<f64>() / n;
    let var = acc.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    let mut m = BTreeMap::from([
        (key.to_string(), mean),
        (format!("{key}_ci95"), 1.96 * var.sqrt() / n.sqrt()),
        (format!("{key}_tasks"), n),
    ]);
    if let Some(ce) = ce {
        m.insert("test_ce".into(), ce);
    }
    m
}

fn inner_adam(lr: f64) -> Result<OuterOptimizer> {
    Ok(OuterOptimizer::new(
        OuterConfig::Adam(AdamConfig {
            lr,
            beta1: 0.0,
            ..AdamConfig::default()
        }),
        None,
    )?)
}

/// Reptile's `_mini_batches` without replacement: a shuffled pass, reshuffled when exhausted.
struct MiniBatches {
    n: usize,
    size: usize,
    order: Vec<u32>,
}

impl MiniBatches {
    fn new(n: usize, size: usize) -> Self {
        Self {
            n,
            size: size.min(n).max(1),
            order: Vec::new(),
        }
    }

    fn next(&mut self, task: &MamlTask, rng: &mut ChaCha8Rng) -> Result<MamlTask> {
        if self.order.len() < self.size {
            let mut fresh: Vec<u32> = (0..self.n as u32).collect();
            fresh.shuffle(rng);
            self.order = fresh;
        }
        let idx: Vec<u32> = self.order.drain(..self.size).collect();
        let idx = Tensor::from_vec(idx, self.size, task.support_x.device())?;
        Ok(MamlTask {
            support_x: task.support_x.index_select(&idx, 0)?,
            support_y: task.support_y.index_select(&idx, 0)?,
            query_x: task.query_x.clone(),
            query_y: task.query_y.clone(),
        })
    }
}

/// One meta-iteration: θ → θ', the q values drawn on the way.
type MetaStep<'s> = dyn FnMut(
        &Counted<Autodiff<Maml>>,
        &ParamList,
        f64,
        &mut ChaCha8Rng,
    ) -> Result<(ParamList, Vec<f64>)>
    + 's;

/// MAML with `estimator`: a meta-batch of tasks, their estimates averaged, then SGD step 0.1
/// with entry-wise clipping to [−0.1, 0.1].
pub fn train_maml(
    setup: &Setup,
    method: &str,
    estimator: &mut dyn Estimator<Autodiff<Maml>>,
    seed: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<RunRecord> {
    let mut opt = OuterOptimizer::new(OuterConfig::Sgd(StepSchedule::Constant(0.1)), Some(0.1))?;
    let mut step =
        |o: &Counted<Autodiff<Maml>>, theta: &ParamList, _frac: f64, rng: &mut ChaCha8Rng| {
            let (mut sum, mut qs) = (theta.zeros_like()?, Vec::new());
            for _ in 0..setup.meta_batch {
                let task = setup.task(Split::Train, 1, rng)?;
                let est = estimator.estimate(o, theta, &task, rng)?;
                qs.extend(est.q);
                sum = sum.add(&est.grad)?;
            }
            Ok((
                opt.step(theta, &sum.scale(1.0 / setup.meta_batch as f64)?)?,
                qs,
            ))
        };
    run_loop(setup, method, seed, &mut step, false, progress)
}

/// Reptile: per task, `inner_iters` Adam steps (state kept across tasks, as in the TF code) on
/// mini-batches of the task's `train_shots`·m images; θ ← θ + ε (mean φ̃ − θ), ε decaying
/// linearly from `meta_step` to `meta_step_final` over the call budget.
pub fn train_reptile(setup: &Setup, seed: u64, progress: &mut dyn FnMut(u64)) -> Result<RunRecord> {
    let cfg = setup.reptile.clone();
    let mut adam = inner_adam(cfg.learning_rate)?;
    let mut step =
        |o: &Counted<Autodiff<Maml>>, theta: &ParamList, frac: f64, rng: &mut ChaCha8Rng| {
            let eps = cfg.meta_step * (1.0 - frac) + cfg.meta_step_final * frac;
            let mut sum = theta.zeros_like()?;
            for _ in 0..setup.meta_batch {
                let task = setup.task(Split::Train, cfg.train_shots, rng)?;
                let mut batches = MiniBatches::new(task.support_x.dim(0)?, cfg.inner_batch);
                let mut phi = theta.clone();
                for _ in 0..cfg.inner_iters {
                    let b = batches.next(&task, rng)?;
                    phi = adam.step(&phi, &o.inner_grad(theta, &phi, &b)?)?;
                }
                sum = sum.add(&phi)?;
            }
            let mean = sum.scale(1.0 / setup.meta_batch as f64)?;
            Ok((theta.axpy(eps, &mean.sub(theta)?)?, Vec::new()))
        };
    run_loop(setup, "reptile", seed, &mut step, true, progress)
}

/// The budgeted loop shared by MAML and Reptile. `wall_s` of the curve and
/// `seconds_per_call` count training only (evaluations excluded), so calls and time compare.
fn run_loop(
    setup: &Setup,
    method: &str,
    seed: u64,
    step: &mut MetaStep,
    reptile_eval: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<RunRecord> {
    let start = Instant::now();
    let problem = setup.problem()?;
    let o = Counted::new(Autodiff::new(problem.clone())?);
    let mut theta = setup.net.init(seed, setup.dtype, &setup.device)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let every = (setup.budget_calls / setup.eval_points.max(1)).max(1);
    let (mut next, mut iters, mut train_s) = (every, 0u64, 0.0f64);
    let mut curve = vec![point(
        0,
        0,
        0.0,
        setup.evaluate(&problem, &theta, setup.curve_tasks)?,
    )];
    let (mut qs, mut status) = (Vec::new(), RunStatus::Finished);
    while o.calls().total() < setup.budget_calls {
        let t0 = Instant::now();
        let frac = o.calls().total() as f64 / setup.budget_calls as f64;
        let (next_theta, q) = step(&o, &theta, frac, &mut rng)?;
        train_s += t0.elapsed().as_secs_f64();
        if !next_theta.to_vec()?.iter().all(|x| x.is_finite()) {
            status = RunStatus::Diverged;
            break;
        }
        theta = next_theta;
        qs.extend(q);
        iters += 1;
        let calls = o.calls().total();
        progress(calls);
        if calls >= next && calls < setup.budget_calls {
            while next <= calls {
                next += every;
            }
            curve.push(point(
                iters,
                calls,
                train_s,
                setup.evaluate(&problem, &theta, setup.curve_tasks)?,
            ));
        }
    }
    let calls = o.calls();
    let mut final_metrics = setup.evaluate(&problem, &theta, setup.test_tasks)?;
    if reptile_eval {
        final_metrics.extend(setup.evaluate_reptile_own(
            &problem,
            &theta,
            setup.reptile_eval_tasks,
        )?);
    }
    if final_metrics.values().any(|v| !v.is_finite()) {
        status = RunStatus::Diverged;
    }
    curve.push(point(iters, calls.total(), train_s, final_metrics.clone()));
    let mut extra = BTreeMap::new();
    if !qs.is_empty() {
        extra.insert("q".to_string(), qs);
    }
    Ok(RunRecord {
        method: method.to_string(),
        seed,
        status,
        iterations: iters,
        calls: CallCount::from(calls),
        wall_s: start.elapsed().as_secs_f64(),
        seconds_per_call: train_s / calls.total().max(1) as f64,
        peak_state_bytes: theta.bytes(),
        final_metrics,
        curve,
        extra,
    })
}

fn point(iter: u64, calls: u64, wall_s: f64, metrics: Metrics) -> CurvePoint {
    CurvePoint {
        iter,
        calls,
        wall_s,
        metrics,
    }
}
