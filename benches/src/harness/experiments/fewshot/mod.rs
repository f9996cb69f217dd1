//! `omniglot` and `cifar100`: 1-shot m-way few-shot classification, Table 2 of the paper
//! (REFERENCE §6). MAML on the 4-block conv net of the authors' code
//! ([`hypergrad::problems::ConvNet`]): V(θ,T) = θ, L_in = CE on the m support images, L_out =
//! CE on the m query images, r = 10 inner SGD steps of α = 0.005, meta-batch 5, outer SGD step
//! 0.1 with the meta-gradient clipped entry-wise to [−0.1, 0.1]. Methods: memory-efficient
//! exact, FOM, UFOM (q = 0.1, 0.2), adaptive UFOM and Reptile, all under the function calls of
//! N memory-efficient-exact meta-iterations. Evaluation: the same for every method (see
//! [`train::Setup::evaluate`]).
//!
//! Option: `ufom bench --backward-clip C` switches exact/UFOM/adaptive to the authors'
//! per-backward-step clipping of (b1, b2) to [−C, C] (REFERENCE §7; biased, off by default);
//! the method labels then end in `_clipC`.
//!
//! This file plans and prepares the data; [`scale`] holds the methods and sizes, [`train`] runs
//! one cell, [`report`] (with [`published`]) turns the method reports into findings.

mod published;
mod report;
mod scale;
pub mod train;

use super::cell::Progress;
use super::{
    exact_iterations_budget, locate_with_checksums, Availability, Context, Experiment, Findings,
    Plan, Prepared,
};
pub use crate::harness::methods::ReptileConfig;
use crate::harness::methods::{Learner, MethodSpec};
use crate::harness::record::{DataFile, ExperimentId, MethodReport, RunRecord, SimulationRecord};
use anyhow::{anyhow, Context as _, Result};
use candle_core::{DType, Device};
use hypergrad::problems::ConvNet;
use scale::{inner_step, methods, sizes, Sizes, ALPHA};
use serde_json::json;
use train::Setup;
use ufom_datasets::{
    cifar100_split, locate, omniglot_split, Cifar100, Dataset, FewShotSplit, Omniglot, Split,
    TaskSampler,
};

/// Which benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bench {
    /// Omniglot, 28×28×1, m ∈ {20, 30, 40, 50}.
    Omniglot,
    /// CIFAR-100, 32×32×3, m ∈ {20, 30}.
    Cifar100,
}

impl Bench {
    fn dataset(self) -> Dataset {
        match self {
            Bench::Omniglot => Dataset::Omniglot,
            Bench::Cifar100 => Dataset::Cifar100,
        }
    }
}

/// The few-shot experiment of one benchmark.
pub struct FewShot(pub Bench);

/// The environment variable earlier versions read for `--backward-clip`; now refused, so a
/// setting that no longer takes effect is not silently ignored.
pub const OLD_BACKWARD_CLIP_ENV: &str = "UFOM_FEWSHOT_BACKWARD_CLIP";

impl Experiment for FewShot {
    fn id(&self) -> ExperimentId {
        match self.0 {
            Bench::Omniglot => ExperimentId::Omniglot,
            Bench::Cifar100 => ExperimentId::Cifar100,
        }
    }

    fn availability(&self, ctx: &Context) -> Availability {
        match locate(self.0.dataset(), &ctx.data) {
            Ok(_) => Availability::Ready,
            Err(e) => Availability::Missing(format!("real {} data is missing, so this experiment is skipped (the rest of the bench runs): {e}", self.0.dataset().name())),
        }
    }

    fn plan(&self, ctx: &Context) -> Result<Plan> {
        let (sizes, note) = sizes(self.0, ctx.scale);
        let clip = ctx.backward_clip;
        let wide = self.0 == Bench::Cifar100 && sizes.ways.iter().any(|&m| m > CIFAR_TEST_CLASSES);
        Ok(Plan {
            title: format!(
                "Table 2: 1-shot few-shot classification on {}",
                if self.0 == Bench::Omniglot {
                    "Omniglot"
                } else {
                    "CIFAR-100"
                }
            ),
            scale_note: note,
            config: json!({
                "sizes": sizes, "alpha": ALPHA, "alpha_applies_to": "the support CE summed over the m images (the authors' convention); on our mean CE the step is alpha * m", "outer": {"sgd_step": 0.1, "entrywise_clip": 0.1, "clipped_methods": "all MAML methods (exact, FOM, UFOM, adaptive)"},
                "network": "4 x [conv 3x3 stride 2 TF-same (no bias) -> transductive batch norm (eps 1e-3, learnable scale/shift) -> ReLU] -> dense; Glorot-uniform init",
                "filters": sizes.filters, "dtype": "f32", "shots": 1, "queries_per_class": 1,
                "oracles": train::ORACLES,
                "backward_clip": clip,
                "reptile_calls": "one function call per inner Adam gradient",
                "evaluation": "every method: r SGD steps of alpha from theta on the m support images of a meta-test task, accuracy on its m query images; mean and 95% interval (1.96 s / sqrt n) over the fixed meta-test tasks; Reptile also with its own evaluation (Adam, 50 steps, batch 10, fresh state)",
                "data_split_seed": 0, "eval_task_seed": train::EVAL_SEED,
                "cifar_30way_split": wide.then_some("70/30 classes (the 80/20 split has only 20 meta-test classes)"),
            }),
            seeds: (0..sizes.seeds).collect(),
            methods: methods(&sizes.ways, sizes.meta_batch, clip),
            budget: exact_iterations_budget(sizes.exact_iters, sizes.r, sizes.meta_batch),
            dtype: DType::F32,
            simulations: Vec::new(),
        })
    }

    fn prepare(&self, ctx: &Context, plan: &Plan) -> Result<Box<dyn Prepared>> {
        let (sizes, _) = sizes(self.0, ctx.scale);
        let dtype = plan.dtype;
        let (located, files) = locate_with_checksums(self.0.dataset(), ctx)?;
        let (split, wide) = match self.0 {
            Bench::Omniglot => {
                let om = Omniglot::from_located(located, &ctx.data.omniglot_options())
                    .context("loading Omniglot")?;
                (omniglot_split(&om, 0)?, None)
            }
            Bench::Cifar100 => {
                let c = Cifar100::from_located(located).context("loading CIFAR-100")?;
                let split = cifar100_split(&c, 0)?;
                // 30-way needs ≥ 30 meta-test classes; the 80/20 split has 20. Move the last
                // (randomly ordered) meta-train classes over: a 70/30 split for m = 30.
                let need = sizes.ways.iter().copied().max().unwrap_or(0);
                let wide = (need > split.test_classes.len()).then(|| widen(&split, need));
                (split, wide)
            }
        };
        let sampler = TaskSampler::new(split, ctx.device.clone(), dtype);
        let wide = wide.map(|s| TaskSampler::new(s, ctx.device.clone(), dtype));
        let ready = Ready {
            bench: self.0,
            sizes,
            budget_calls: plan.budget.calls,
            sampler,
            wide,
            files,
            device: ctx.device.clone(),
        };
        ready.check(plan)?;
        Ok(Box::new(ready))
    }

    fn analyse(
        &self,
        ctx: &Context,
        methods: &[MethodReport],
        _simulations: &[SimulationRecord],
    ) -> Result<Findings> {
        let (sizes, _) = sizes(self.0, ctx.scale);
        report::findings(self.0, &sizes.ways, sizes.test_tasks, methods)
    }
}

/// Meta-test classes of the CIFAR-100 few-shot split (80/20).
const CIFAR_TEST_CLASSES: usize = 20;

/// The split with meta-train classes moved to meta-test until there are `test` of them.
fn widen(split: &FewShotSplit, test: usize) -> FewShotSplit {
    let mut s = split.clone();
    while s.test_classes.len() < test {
        match s.train_classes.pop() {
            Some(c) => s.test_classes.push(c),
            None => break,
        }
    }
    s
}

struct Ready {
    bench: Bench,
    sizes: Sizes,
    budget_calls: u64,
    sampler: TaskSampler,
    wide: Option<TaskSampler>,
    files: Vec<DataFile>,
    device: Device,
}

impl Ready {
    /// The sampler for m-way tasks (the widened split where the plain one is too narrow).
    fn sampler(&self, ways: usize) -> &TaskSampler {
        match &self.wide {
            Some(w) if ways > self.sampler.split.test_classes.len() => w,
            _ => &self.sampler,
        }
    }

    /// Every task the plan's methods will draw can be drawn: checked before any training.
    fn check(&self, plan: &Plan) -> Result<()> {
        for m in &plan.methods {
            let ways = m
                .ways
                .ok_or_else(|| anyhow!("few-shot method {} has no m", m.label))?;
            let train_shots = match &m.learner {
                Learner::Reptile(cfg) => cfg.train_shots,
                Learner::Estimator(_) => 1,
            };
            let s = self.sampler(ways);
            s.check(Split::Train, ways, train_shots, 1)
                .and_then(|()| s.check(Split::Test, ways, 1, 1))
                .with_context(|| {
                    format!(
                        "{} data cannot serve {}",
                        self.bench.dataset().name(),
                        m.label
                    )
                })?;
        }
        Ok(())
    }
}

impl Prepared for Ready {
    fn data(&self) -> &[DataFile] {
        &self.files
    }

    fn run_cell(&self, method: &MethodSpec, seed: u64, progress: &Progress) -> Result<RunRecord> {
        let ways = method
            .ways
            .ok_or_else(|| anyhow!("few-shot method {} has no m", method.label))?;
        let net = match self.bench {
            Bench::Omniglot => ConvNet::omniglot(ways, self.sizes.filters),
            Bench::Cifar100 => ConvNet::cifar100(ways, self.sizes.filters),
        };
        let setup = Setup {
            sampler: self.sampler(ways),
            net,
            r: self.sizes.r,
            alpha: inner_step(ways),
            budget_calls: self.budget_calls,
            eval_points: self.sizes.eval_points,
            curve_tasks: self.sizes.curve_tasks,
            test_tasks: self.sizes.test_tasks,
            reptile_eval_tasks: self.sizes.reptile_eval_tasks,
            dtype: DType::F32,
            device: self.device.clone(),
            reptile: match &method.learner {
                Learner::Reptile(cfg) => cfg.clone(),
                Learner::Estimator(_) => ReptileConfig::default(),
            },
        };
        train::run_cell(&setup, method, seed, progress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ufom_datasets::ClassImages;

    #[test]
    fn widening_moves_meta_train_classes_to_meta_test() {
        let class = |i: usize| ClassImages {
            name: format!("c{i}"),
            images: vec![0; 4],
            count: 1,
        };
        let split = FewShotSplit {
            train_classes: (0..8).map(class).collect(),
            test_classes: (8..10).map(class).collect(),
            image_shape: [1, 2, 2],
        };
        let w = widen(&split, 5);
        assert_eq!((w.train_classes.len(), w.test_classes.len()), (5, 5));
        assert_eq!(w.test_classes[4].name, "c5");
    }
}
