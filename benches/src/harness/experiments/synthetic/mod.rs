//! `synthetic`: Fig. 1 of the paper on the Theorem-2 counterexample (REFERENCE §4).
//!
//! - 1a–c: FOM vs UFOM (q = 0.1) and exact SGD, γ_k = 10/k, θ0 ~ U[−10, 30], every method under
//!   the same function-call budget, run by the engine's estimators (one cell per method × seed).
//! - 1d–f: D², V² over α; q* (eq. 21) against a grid search; convergence for q = 0, q*, 1 —
//!   two simulation cells of the plan, computed in [`simulate`] from the closed-form gradients.
//!
//! This file measures (plan, one cell); [`analysis`] turns the method reports into Fig. 1a–c's
//! findings and [`fig1def`] runs Fig. 1d–f's simulations and adds their findings.

mod analysis;
mod fig1def;
mod simulate;

use super::cell::{counted, train_estimator_cell, CellBudget, Checkpoint, Metrics, Progress};
use super::{exact_iterations_budget, Availability, Context, Experiment, Findings, Plan, Prepared};
use crate::harness::methods::{MethodSpec, OuterSpec};
use crate::harness::record::{
    DataFile, ExperimentId, MethodReport, Metric, RunRecord, Scale, SimulationRecord,
    SimulationSpec,
};
use anyhow::Result;
use hypergrad::optim::{OuterConfig, StepSchedule};
use hypergrad::problems::{Counterexample, CounterexampleConfig};
use hypergrad::{Autodiff, EstimatorSpec, TaskDistribution};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;

/// The Fig. 1 experiment.
pub struct Synthetic;

/// Sizes per scale.
#[derive(Clone, Debug, Serialize)]
struct Sizes {
    seeds: u64,
    exact_iters: u64,
    eval_points: u64,
    alphas: usize,
    theta_grid: usize,
    q_grid: usize,
    grid_runs: usize,
    grid_iters: usize,
    f_runs: usize,
    f_exact_iters: usize,
}

fn sizes(scale: Scale) -> (Sizes, &'static str) {
    match scale {
        Scale::Smoke => (
            Sizes { seeds: 2, exact_iters: 15, eval_points: 10, alphas: 3, theta_grid: 500, q_grid: 4, grid_runs: 20, grid_iters: 100, f_runs: 50, f_exact_iters: 100 },
            "smoke: 2 seeds, 15 exact iterations of budget, 3 α values, 20 grid-search runs per q, 50 runs in 1f",
        ),
        Scale::Default => (
            Sizes { seeds: 5, exact_iters: 1000, eval_points: 40, alphas: 10, theta_grid: 10_000, q_grid: 20, grid_runs: 1000, grid_iters: 100, f_runs: 1000, f_exact_iters: 100 },
            "default: 1d–f at the paper's sizes except 1000 (not 10,000) grid-search runs per q",
        ),
        Scale::Paper => (
            Sizes { seeds: 10, exact_iters: 3000, eval_points: 50, alphas: 10, theta_grid: 10_000, q_grid: 20, grid_runs: 10_000, grid_iters: 100, f_runs: 1000, f_exact_iters: 100 },
            "paper: the paper's sizes (10 seeds as in UFO-BLO)",
        ),
    }
}

/// The methods of Fig. 1c: FOM, UFOM (q = 0.1) and the memory-efficient exact estimator, each
/// with outer SGD γ_k = 10/k.
fn methods() -> Vec<MethodSpec> {
    let sgd = OuterSpec {
        optimizer: OuterConfig::Sgd(StepSchedule::InverseK(10.0)),
        clip: None,
    };
    [
        EstimatorSpec::Fom,
        EstimatorSpec::Ufom {
            q: 0.1,
            backward_clip: None,
        },
        EstimatorSpec::RecomputeExact {
            backward_clip: None,
        },
    ]
    .into_iter()
    .map(|e| MethodSpec::estimator(e, sgd))
    .collect()
}

impl Experiment for Synthetic {
    fn id(&self) -> ExperimentId {
        ExperimentId::Synthetic
    }

    fn availability(&self, _ctx: &Context) -> Availability {
        Availability::Ready
    }

    fn plan(&self, ctx: &Context) -> Result<Plan> {
        let (sizes, note) = sizes(ctx.scale);
        let cfg = CounterexampleConfig::default();
        Ok(Plan {
            title: "Fig. 1: FOM stalls, UFOM converges (Theorem-2 counterexample)".into(),
            scale_note: note.into(),
            config: json!({
                "fig1abc": {"d": cfg.d, "r": cfg.r, "alpha": cfg.alpha, "a1": cfg.a1, "a2": cfg.a2,
                            "b2": cfg.b2()?, "A": cfg.cap_a()?, "gamma": "10/k", "theta0": "U[-10, 30]"},
                "fig1def": {"r": simulate::R, "a": [0.5, 1.5], "b": [0.0, 10.0], "A": 10.0,
                            "alpha_range": [1e-3, 5e-2], "fig1f_alpha": 0.01, "theta0": "U[-50, 50]"},
                "sizes": sizes,
            }),
            seeds: (0..sizes.seeds).collect(),
            methods: methods(),
            budget: exact_iterations_budget(sizes.exact_iters, cfg.r, 1),
            dtype: candle_core::DType::F64,
            simulations: fig1def::simulations(&sizes),
        })
    }

    fn prepare(&self, ctx: &Context, plan: &Plan) -> Result<Box<dyn Prepared>> {
        let (sizes, _) = sizes(ctx.scale);
        Ok(Box::new(Fig1Plan {
            budget: CellBudget {
                calls: plan.budget.calls,
                eval_points: sizes.eval_points,
            },
            sizes,
            cfg: CounterexampleConfig::default(),
            device: ctx.device.clone(),
        }))
    }

    fn analyse(
        &self,
        ctx: &Context,
        methods: &[MethodReport],
        simulations: &[SimulationRecord],
    ) -> Result<Findings> {
        let (sizes, _) = sizes(ctx.scale);
        let mut f = analysis::findings(&CounterexampleConfig::default(), methods)?;
        fig1def::findings(&sizes, simulations, &mut f)?;
        Ok(f)
    }
}

struct Fig1Plan {
    sizes: Sizes,
    budget: CellBudget,
    cfg: CounterexampleConfig,
    device: candle_core::Device,
}

impl Prepared for Fig1Plan {
    fn data(&self) -> &[DataFile] {
        &[]
    }

    fn run_simulation(&self, sim: &SimulationSpec) -> Result<BTreeMap<String, Vec<f64>>> {
        fig1def::run(&self.sizes, sim)
    }

    fn run_cell(&self, method: &MethodSpec, seed: u64, progress: &Progress) -> Result<RunRecord> {
        let problem = Counterexample::from_config(&self.cfg)?
            .on(candle_core::DType::F64, self.device.clone());
        let closed = problem.clone();
        let oracles = counted(Autodiff::new(problem)?, progress);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let theta0 = closed.theta(rng.random_range(-10.0..30.0))?;
        let mut evaluate = |theta: &hypergrad::ParamList, _: Checkpoint| -> Result<Metrics> {
            let x = theta.to_vec()?[0];
            Ok(BTreeMap::from([
                (Metric::Theta, x),
                (Metric::Objective, closed.objective(x)),
                (Metric::AbsGrad, closed.exact_gradient_closed_form(x).abs()),
            ]))
        };
        let sampler = oracles.inner().problem().clone();
        train_estimator_cell(
            method,
            seed,
            &oracles,
            theta0,
            |r| sampler.sample_task(r),
            &self.budget,
            &mut evaluate,
            &mut rng,
        )
    }
}
