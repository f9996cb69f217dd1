//! Training cells of the few-shot experiments: MAML meta-batches with an engine estimator,
//! Reptile (Nichol et al. 2018, the openai/supervised-reptile loop) as its own outer step, and
//! the common meta-test evaluation. Both run in the engine's one outer loop; every gradient
//! goes through the engine's [`Counted`] oracles, so Reptile's inner gradients are function
//! calls exactly like the estimators' ones. (Over 300 lines: the cell, Reptile's step and the
//! two evaluations share `Setup` and its task sampling; split apart, Reptile and the cell
//! would import each other.)

use crate::harness::experiments::cell::{
    counted, train_cell, train_estimator_cell, CellBudget, Checkpoint, Metrics, Progress,
};
use crate::harness::methods::{Learner, MethodSpec, ReptileConfig};
use crate::harness::record::{Metric, RunRecord};
use anyhow::Result;
use candle_core::{DType, Device, Tensor};
use hypergrad::driver::{OuterStep, Step};
use hypergrad::optim::{AdamConfig, OuterConfig, OuterOptimizer};
use hypergrad::problems::{ConvNet, Maml, MamlAnalytic, MamlTask};
use hypergrad::stats;
use hypergrad::{Autodiff, Counted, Oracles, ParamList};
use rand::seq::SliceRandom;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use ufom_datasets::{Split, TaskSampler};

/// Seed of the fixed meta-test tasks (the same tasks for every method and seed).
pub const EVAL_SEED: u64 = 1_000_000;

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
    pub fn task(&self, split: Split, shots: usize, rng: &mut dyn RngCore) -> Result<MamlTask> {
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
    /// support images (gradients by `o`, not counted), accuracy on the m query images (batch
    /// norm on the query batch).
    pub fn evaluate<O: Oracles<Task = MamlTask>>(
        &self,
        problem: &Maml,
        o: &O,
        theta: &ParamList,
        n: usize,
    ) -> Result<Metrics> {
        let mut acc = Vec::with_capacity(n);
        let mut ce = 0.0;
        for i in 0..n {
            let task = self.task(
                Split::Test,
                1,
                &mut ChaCha8Rng::seed_from_u64(EVAL_SEED + i as u64),
            )?;
            let adapted = hypergrad::oracles::rollout(o, theta, &task, self.r)?;
            let (a, c) = problem.query_metrics(&adapted, &task)?;
            acc.push(100.0 * a);
            ce += c / n as f64;
        }
        Ok(accuracy_metrics(
            [Metric::TestAcc, Metric::TestAccCi95, Metric::TestAccTasks],
            &acc,
            Some(ce),
        ))
    }

    /// Reptile's own evaluation: `eval_iters` Adam steps (fresh state, β1 = 0) on mini-batches
    /// of `eval_batch` support images, then the query accuracy.
    fn evaluate_reptile_own<O: Oracles<Task = MamlTask>>(
        &self,
        problem: &Maml,
        o: &O,
        theta: &ParamList,
        n: usize,
    ) -> Result<Metrics> {
        let cfg = &self.reptile;
        let mut acc = Vec::with_capacity(n);
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
        Ok(accuracy_metrics(
            [
                Metric::TestAccReptileEval,
                Metric::TestAccReptileEvalCi95,
                Metric::TestAccReptileEvalTasks,
            ],
            &acc,
            None,
        ))
    }
}

/// `[mean, ci95, tasks]`: the mean accuracy (%), the half-width 1.96·s/√n of its interval and
/// the task count.
fn accuracy_metrics([key, ci95, tasks]: [Metric; 3], acc: &[f64], ce: Option<f64>) -> Metrics {
    let n = acc.len().max(1) as f64;
    // No tasks (not reachable from the presets) keeps its old answer: −0 ± −0 over "1" task.
    let (mean, sd) = match acc {
        [] => (-0.0, -0.0),
        _ => (stats::mean(acc), stats::std_dev(acc)),
    };
    let mut m = BTreeMap::from([(key, mean), (ci95, 1.96 * sd / n.sqrt()), (tasks, n)]);
    if let Some(ce) = ce {
        m.insert(Metric::TestCe, ce);
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

    fn next(&mut self, task: &MamlTask, rng: &mut dyn RngCore) -> hypergrad::Result<MamlTask> {
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

/// Reptile's outer step: per task, `inner_iters` Adam steps (state kept across tasks, as in
/// the TF code) on mini-batches of the task's `train_shots`·m images; θ ← θ + ε (mean φ̃ − θ),
/// ε decaying linearly from `meta_step` to `meta_step_final` over the call budget.
struct ReptileStep<'s, 'a> {
    setup: &'s Setup<'a>,
    cfg: ReptileConfig,
    tasks: usize,
    adam: OuterOptimizer,
}

impl<O: Oracles<Task = MamlTask>> OuterStep<O> for ReptileStep<'_, '_> {
    fn name(&self) -> String {
        "reptile".into()
    }

    fn step(
        &mut self,
        o: &Counted<O>,
        theta: &ParamList,
        budget_fraction: f64,
        rng: &mut dyn RngCore,
    ) -> hypergrad::Result<Step> {
        let cfg = &self.cfg;
        let eps = cfg.meta_step * (1.0 - budget_fraction) + cfg.meta_step_final * budget_fraction;
        let mut sum = theta.zeros_like()?;
        for _ in 0..self.tasks {
            let task = self
                .setup
                .task(Split::Train, cfg.train_shots, rng)
                .map_err(task_error)?;
            let mut batches = MiniBatches::new(task.support_x.dim(0)?, cfg.inner_batch);
            let mut phi = theta.clone();
            for _ in 0..cfg.inner_iters {
                let b = batches.next(&task, rng)?;
                phi = self.adam.step(&phi, &o.inner_grad(theta, &phi, &b)?)?;
            }
            sum = sum.add(&phi)?;
        }
        let mean = sum.scale(1.0 / self.tasks as f64)?;
        Ok(Step {
            peak_state_bytes: theta.bytes(),
            theta: theta.axpy(eps, &mean.sub(theta)?)?,
            diagnostics: Vec::new(),
        })
    }
}

fn task_error(e: anyhow::Error) -> hypergrad::Error {
    hypergrad::Error::TaskSampling(e.into())
}

/// The oracles of the few-shot cells: the hand-derived [`MamlAnalytic`] on the CPU (tested
/// against autodiff in `hypergrad/tests/maml_analytic.rs`), candle's autodiff elsewhere.
pub const ORACLES: &str = "analytic on the CPU (MamlAnalytic: hand-derived gradient and R-operator HVP, tested against autodiff), autodiff on other devices";

/// Trains one cell: MAML with the method's estimator (meta-batches of 1-shot tasks, outer SGD
/// 0.1 with entry-wise clipping) or Reptile, through the one outer loop of the engine.
/// Curve points evaluate on `curve_tasks` meta-test tasks, the final point on `test_tasks`
/// (and Reptile's own evaluation for Reptile). Oracles: see [`ORACLES`].
pub fn run_cell(
    setup: &Setup,
    method: &MethodSpec,
    seed: u64,
    progress: &Progress,
) -> Result<RunRecord> {
    let problem = setup.problem()?;
    if setup.device.is_cpu() {
        run_with(setup, method, seed, progress, MamlAnalytic::new(problem)?)
    } else {
        run_with(setup, method, seed, progress, Autodiff::new(problem)?)
    }
}

fn run_with<O: Oracles<Task = MamlTask> + 'static>(
    setup: &Setup,
    method: &MethodSpec,
    seed: u64,
    progress: &Progress,
    oracles: O,
) -> Result<RunRecord> {
    let problem = setup.problem()?;
    let o = counted(oracles, progress);
    let theta0 = setup.net.init(seed, setup.dtype, &setup.device)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let reptile_eval = matches!(method.learner, Learner::Reptile(_));
    let mut evaluate = |theta: &ParamList, at: Checkpoint| -> Result<Metrics> {
        match at {
            Checkpoint::Curve => setup.evaluate(&problem, o.inner(), theta, setup.curve_tasks),
            Checkpoint::Final => {
                let mut m = setup.evaluate(&problem, o.inner(), theta, setup.test_tasks)?;
                if reptile_eval {
                    m.extend(setup.evaluate_reptile_own(
                        &problem,
                        o.inner(),
                        theta,
                        setup.reptile_eval_tasks,
                    )?);
                }
                Ok(m)
            }
        }
    };
    let budget = CellBudget {
        calls: setup.budget_calls,
        eval_points: setup.eval_points,
    };
    match &method.learner {
        Learner::Estimator(_) => train_estimator_cell(
            method,
            seed,
            &o,
            theta0,
            |rng| setup.task(Split::Train, 1, rng).map_err(task_error),
            &budget,
            &mut evaluate,
            &mut rng,
        ),
        Learner::Reptile(cfg) => {
            let mut step = ReptileStep {
                setup,
                cfg: cfg.clone(),
                tasks: method.tasks_per_step,
                adam: inner_adam(cfg.learning_rate)?,
            };
            train_cell(
                method,
                seed,
                &o,
                &mut step,
                theta0,
                &budget,
                &mut evaluate,
                &mut rng,
            )
        }
    }
}
