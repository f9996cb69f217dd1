//! `hypercleaning`: Table 1 of the paper (REFERENCE §5). MNIST train → n_train train examples
//! (half of their labels redrawn) + n_val validation; θ weighs each training example through
//! σ(θ_i); an MLP 784 → hidden → 10 is trained by r inner GD steps (α = 1) with the last step
//! folded into L_out; θ follows Adam (lr 0.1). Every method spends the calls of N
//! memory-efficient-exact outer iterations.
//!
//! This file measures (plan, prepare, one cell) on the split of [`data`]; [`analysis`] turns
//! the method reports into Table 1, the figures, notes and claims.

mod analysis;
mod data;

use super::cell::{counted, train_estimator_cell, CellBudget, Checkpoint, Metrics, Progress};
use super::{
    exact_iterations_budget, locate_with_checksums, Availability, Context, Experiment, Findings,
    Plan, Prepared,
};
use crate::harness::methods::{MethodSpec, OuterSpec};
use crate::harness::record::{
    DataFile, ExperimentId, MethodReport, Metric, RunRecord, Scale, SimulationRecord,
};
use anyhow::{Context as _, Result};
use candle_core::{DType, Tensor};
use data::Data;
use hypergrad::estimators::{catalog, AdaptiveConfig, Consumer};
use hypergrad::nn::{accuracy, cross_entropy};
use hypergrad::optim::{AdamConfig, OuterConfig};
use hypergrad::oracles::rollout;
use hypergrad::problems::{MlpAnalytic, MlpConfig, MlpHypercleaning, MlpTask};
use hypergrad::{EstimatorSpec, Oracles, ParamList};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use ufom_datasets::{locate, Dataset, Mnist};

/// The Table 1 experiment.
pub struct Hypercleaning;

#[derive(Clone, Debug, Serialize)]
struct Sizes {
    n_train: usize,
    n_val: usize,
    hidden: usize,
    /// Inner updates in total (r − 1 run by the estimators + 1 folded into L_out).
    r: usize,
    exact_iters: u64,
    /// Not part of the recorded config (the report lists the seeds; `--seeds` overrides it).
    #[serde(skip)]
    seeds: u64,
    eval_points: u64,
    /// Inner GD step α on L_in (a mean over the training examples).
    alpha: f64,
    /// Outer Adam learning rate.
    outer_lr: f64,
}

fn sizes(scale: Scale) -> (Sizes, &'static str) {
    match scale {
        Scale::Smoke => (
            Sizes { n_train: 200, n_val: 200, hidden: 16, r: 5, exact_iters: 4, seeds: 1, eval_points: 2, alpha: 0.5, outer_lr: 0.3 },
            "smoke: 200 train / 200 validation examples, hidden 16, r = 5, budget of 4 exact iterations, 1 seed",
        ),
        Scale::Default => (
            Sizes { n_train: 1500, n_val: 1000, hidden: 32, r: 30, exact_iters: 40, seeds: 5, eval_points: 20, alpha: 0.5, outer_lr: 0.3 },
            "default (2-core CPU, ≈ 15 min for the 8 methods at 2 jobs): 1500 train / 1000 validation examples (paper 5000/5000), hidden 32 (paper 256), r = 30 (paper 100), α = 0.5 on the mean loss, outer Adam lr 0.3 (paper 0.1: our budget of 40 exact iterations is 1/12 of the paper's 500), 5 seeds. α = 1 makes the 30-step inner loop unstable: the exact hypergradient then raises the validation CE (measured: exact falls from 69 % to 45–67 % test accuracy) while α = 0.5 reaches ≈ 85 %",
        ),
        Scale::Paper => (
            Sizes { n_train: 5000, n_val: 5000, hidden: 256, r: 100, exact_iters: 500, seeds: 3, eval_points: 20, alpha: 1.0, outer_lr: 0.1 },
            "paper: 5000/5000 examples, hidden 256, r = 100, α = 1, outer Adam lr 0.1, budget of 500 exact iterations, 3 seeds",
        ),
    }
}

/// Table 1's methods: the paper's rows — exact (memory-efficient), FOM, UFOM q = 0.1 and
/// adaptive UFOM — then every other estimator of the catalog that runs in Table 1, at its
/// catalog setting, under the same call budget (not in the paper's table; today exact with
/// ⌈√r⌉ checkpoints, truncated back-propagation through the last 5 steps, AID with 10 CG steps
/// (warm start) and the Neumann series with Q = 10 (η = α)). Each with outer Adam (the scale's
/// learning rate).
fn methods(sizes: &Sizes) -> Vec<MethodSpec> {
    let adam = OuterSpec {
        optimizer: OuterConfig::Adam(AdamConfig {
            lr: sizes.outer_lr,
            ..AdamConfig::default()
        }),
        clip: None,
    };
    let paper = [
        EstimatorSpec::RecomputeExact {
            backward_clip: None,
        },
        EstimatorSpec::Fom,
        EstimatorSpec::Ufom {
            q: 0.1,
            backward_clip: None,
        },
        EstimatorSpec::Adaptive(AdaptiveConfig::default()),
    ];
    let paper_kinds: Vec<String> = paper.iter().map(EstimatorSpec::kind).collect();
    let others = catalog::runs_in(Consumer::Table1)
        .map(|e| e.setting)
        .filter(|s| !paper_kinds.contains(&s.kind()));
    paper
        .into_iter()
        .chain(others)
        .map(|e| MethodSpec::estimator(e, adam))
        .collect()
}

impl Experiment for Hypercleaning {
    fn id(&self) -> ExperimentId {
        ExperimentId::Hypercleaning
    }

    fn availability(&self, ctx: &Context) -> Availability {
        match locate(Dataset::Mnist, &ctx.data) {
            Ok(_) => Availability::Ready,
            Err(e) => Availability::Missing(e.to_string()),
        }
    }

    fn plan(&self, ctx: &Context) -> Result<Plan> {
        let (sizes, note) = sizes(ctx.scale);
        let cfg = problem_config(&sizes, 0);
        Ok(Plan {
            title: "Table 1: data hypercleaning on MNIST".into(),
            scale_note: note.into(),
            config: json!({
                "sizes": sizes, "corruption": 0.5,
                "inner_steps_run_by_estimators": cfg.steps, "folded_last_step": cfg.fold_last_step,
                "dtype": "f32",
                "oracles": "analytic (MlpAnalytic: hand-derived gradient and R-operator HVP, tested against autodiff)",
                "loss": "L_in = mean_i σ(θ_i) CE_i (the paper sums; with the mean, α is per example-average loss: sizes.alpha)",
                "data_split_seed": 0,
            }),
            seeds: (0..sizes.seeds).collect(),
            methods: methods(&sizes),
            // The estimators run the r − 1 unfolded steps; the folded one is part of L_out.
            budget: exact_iterations_budget(sizes.exact_iters, cfg.steps, 1),
            dtype: DType::F32,
            simulations: Vec::new(),
        })
    }

    fn prepare(&self, ctx: &Context, plan: &Plan) -> Result<Box<dyn Prepared>> {
        let (sizes, _) = sizes(ctx.scale);
        let (located, files) = locate_with_checksums(Dataset::Mnist, ctx)?;
        let mnist = Mnist::from_located(located).context("loading MNIST")?;
        let data = Data::load(&mnist, &sizes, &ctx.device)?;
        Ok(Box::new(Ready {
            budget: CellBudget {
                calls: plan.budget.calls,
                eval_points: sizes.eval_points,
            },
            sizes,
            data,
            files,
        }))
    }

    fn analyse(
        &self,
        _ctx: &Context,
        methods: &[MethodReport],
        _simulations: &[SimulationRecord],
    ) -> Result<Findings> {
        Ok(analysis::findings(methods))
    }
}

/// The inner problem's settings: r − 1 GD steps run by the estimators, the r-th folded into
/// L_out; the MLP initialised from `seed`.
fn problem_config(sizes: &Sizes, seed: u64) -> MlpConfig {
    MlpConfig {
        hidden: sizes.hidden,
        steps: sizes.r - 1,
        alpha: sizes.alpha,
        fold_last_step: true,
        init_seed: seed,
        task_batch: None,
    }
}

struct Ready {
    budget: CellBudget,
    sizes: Sizes,
    data: Data,
    files: Vec<DataFile>,
}

impl Ready {
    fn problem(&self, seed: u64) -> Result<MlpHypercleaning> {
        let cfg = problem_config(&self.sizes, seed);
        Ok(MlpHypercleaning::new(self.data.mlp.clone(), cfg)?)
    }

    /// Train the inner problem with θ (uncounted), then the metrics of the resulting classifier.
    fn evaluate(&self, o: &MlpAnalytic, theta: &ParamList) -> Result<Metrics> {
        // r − 1 inner steps, then the step folded into L_out.
        let task = MlpTask::default();
        let phi = rollout(o, theta, &task, o.step_sizes().len())?;
        let phi = phi.axpy(-self.sizes.alpha, &o.inner_grad(theta, &phi, &task)?)?;
        let d = &self.data;
        let test_logits = MlpHypercleaning::logits(&phi, &d.test_x)?;
        let val_logits = MlpHypercleaning::logits(&phi, &d.mlp.val_x)?;
        let weights: Vec<f64> = hypergrad::nn::sigmoid(&theta.tensors()[0])?
            .to_dtype(DType::F64)?
            .to_vec1()?;
        let mean_where = |want: bool| {
            let v: Vec<f64> = weights
                .iter()
                .zip(&d.corrupted)
                .filter(|(_, &c)| c == want)
                .map(|(w, _)| *w)
                .collect();
            v.iter().sum::<f64>() / v.len().max(1) as f64
        };
        let scalar = |t: Tensor| -> Result<f64> { Ok(t.to_dtype(DType::F64)?.to_scalar::<f64>()?) };
        Ok(BTreeMap::from([
            (
                Metric::TrainAccClean,
                100.0
                    * accuracy(
                        &MlpHypercleaning::logits(&phi, &d.train_clean_x)?,
                        &d.train_clean_y,
                    )?,
            ),
            (Metric::TestAcc, 100.0 * accuracy(&test_logits, &d.test_y)?),
            (
                Metric::TestCe,
                scalar(cross_entropy(&test_logits, &d.test_y)?)?,
            ),
            (
                Metric::ValCe,
                scalar(cross_entropy(&val_logits, &d.mlp.val_y)?)?,
            ),
            (Metric::WeightClean, mean_where(false)),
            (Metric::WeightCorrupted, mean_where(true)),
        ]))
    }
}

impl Prepared for Ready {
    fn data(&self) -> &[DataFile] {
        &self.files
    }

    fn run_cell(&self, method: &MethodSpec, seed: u64, progress: &Progress) -> Result<RunRecord> {
        let problem = self.problem(seed)?;
        let theta0 = problem.theta_zero()?;
        let oracles = counted(MlpAnalytic::new(problem)?, progress);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut evaluate = |theta: &ParamList, _: Checkpoint| self.evaluate(oracles.inner(), theta);
        train_estimator_cell(
            method,
            seed,
            &oracles,
            theta0,
            |_| Ok(MlpTask::default()),
            &self.budget,
            &mut evaluate,
            &mut rng,
        )
    }
}
