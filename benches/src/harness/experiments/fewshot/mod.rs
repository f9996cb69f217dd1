//! `omniglot` and `cifar100`: 1-shot m-way few-shot classification, Table 2 of the paper
//! (REFERENCE §6). MAML on the 4-block conv net of the authors' code
//! ([`hypergrad::problems::ConvNet`]): V(θ,T) = θ, L_in = CE on the m support images, L_out =
//! CE on the m query images, r = 10 inner SGD steps of α = 0.005, meta-batch 5, outer SGD step
//! 0.1 with the meta-gradient clipped entry-wise to [−0.1, 0.1]. Methods: memory-efficient
//! exact, FOM, UFOM (q = 0.1, 0.2), adaptive UFOM and Reptile, all under the function calls of
//! N memory-efficient-exact meta-iterations. Evaluation: the same for every method (see
//! [`train::Setup::evaluate`]).
//!
//! Option: `UFOM_FEWSHOT_BACKWARD_CLIP=c` switches exact/UFOM/adaptive to the authors'
//! per-backward-step clipping of (b1, b2) to [−c, c] (REFERENCE §7; biased, off by default).

mod report;
pub mod train;

use super::{Availability, Context, Experiment, Findings, Plan, Prepared};
use crate::harness::record::{BudgetNote, MethodReport, RunRecord, Scale};
use anyhow::{anyhow, bail, Context as _, Result};
use candle_core::{DType, Device};
use hypergrad::estimators::{AdaptiveConfig, AdaptiveUfom, Fom, RecomputeExact, Ufom};
use hypergrad::problems::{ConvNet, Maml};
use hypergrad::{Autodiff, Estimator};
use serde::Serialize;
use serde_json::json;
use train::{ReptileConfig, Setup};
use ufom_datasets::{
    cifar100_split, locate, omniglot_split, Cifar100, Dataset, FewShotSplit, Omniglot, TaskSampler,
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

/// The methods, in report order.
pub const METHODS: [&str; 6] = [
    "exact",
    "fom",
    "ufom_q0.1",
    "ufom_q0.2",
    "adaptive",
    "reptile",
];
const ALPHA: f64 = 0.005;
/// Env var of the authors' per-backward-step clipping option.
pub const BACKWARD_CLIP_ENV: &str = "UFOM_FEWSHOT_BACKWARD_CLIP";

#[derive(Clone, Debug, Serialize)]
struct Sizes {
    ways: Vec<usize>,
    filters: usize,
    r: usize,
    meta_batch: usize,
    exact_iters: u64,
    seeds: u64,
    eval_points: u64,
    curve_tasks: usize,
    test_tasks: usize,
    reptile_eval_tasks: usize,
}

fn sizes(bench: Bench, scale: Scale) -> (Sizes, String) {
    let all_ways = match bench {
        Bench::Omniglot => vec![20, 30, 40, 50],
        Bench::Cifar100 => vec![20, 30],
    };
    match scale {
        Scale::Smoke => (
            Sizes { ways: if bench == Bench::Omniglot { vec![20] } else { all_ways }, filters: 4, r: 3, meta_batch: 2, exact_iters: 1, seeds: 1, eval_points: 1, curve_tasks: 1, test_tasks: 3, reptile_eval_tasks: 1 },
            "smoke: 4 filters, r = 3, meta-batch 2, budget of 1 exact meta-iteration (20 calls), 3 meta-test tasks (Reptile's own evaluation on 1), 1 seed (Omniglot 20-way only)".into(),
        ),
        Scale::Default => (
            Sizes { ways: vec![20, 30], filters: 8, r: 10, meta_batch: 5, exact_iters: 6, seeds: 1, eval_points: 3, curve_tasks: 10, test_tasks: 50, reptile_eval_tasks: 20 },
            format!("default (2-core CPU): {}8 filters (paper 64), budget of 6 exact meta-iterations = 1980 calls (paper 200,000 Omniglot / 40,000 CIFAR-100), 50 meta-test tasks (curve points on 10; Reptile's own evaluation on 20), 1 seed; r = 10, α = 0.005, meta-batch 5 and outer SGD 0.1 as in the paper. A gradient of the conv net costs tens of ms and an HVP ~0.1 s on this CPU, so larger budgets or all m do not fit in minutes", if bench == Bench::Omniglot { "m ∈ {20, 30} only (paper also 40, 50), " } else { "" }),
        ),
        Scale::Paper => {
            let iters = if bench == Bench::Omniglot { 200_000 } else { 40_000 };
            (
                Sizes { ways: all_ways, filters: 64, r: 10, meta_batch: 5, exact_iters: iters, seeds: 1, eval_points: 20, curve_tasks: 100, test_tasks: 1000, reptile_eval_tasks: 1000 },
                format!("paper: 64 filters, r = 10, meta-batch 5, budget of {iters} exact meta-iterations, 1000 meta-test tasks (GPU)"),
            )
        }
    }
}

fn backward_clip() -> Result<Option<f64>> {
    match std::env::var(BACKWARD_CLIP_ENV) {
        Ok(v) if !v.is_empty() => {
            let c: f64 = v
                .parse()
                .with_context(|| format!("{BACKWARD_CLIP_ENV}={v} is not a number"))?;
            if !(c > 0.0 && c.is_finite()) {
                bail!("{BACKWARD_CLIP_ENV}={v} needs a positive bound");
            }
            Ok(Some(c))
        }
        _ => Ok(None),
    }
}

impl Experiment for FewShot {
    fn name(&self) -> &'static str {
        match self.0 {
            Bench::Omniglot => "omniglot",
            Bench::Cifar100 => "cifar100",
        }
    }

    fn availability(&self, ctx: &Context) -> Availability {
        match locate(self.0.dataset(), ctx.data_dir.as_deref()) {
            Ok(_) => Availability::Ready,
            Err(e) => Availability::Missing(format!("real {} data is missing, so this experiment is skipped (the rest of the bench runs): {e}", self.0.dataset().name())),
        }
    }

    fn prepare(&self, ctx: &Context) -> Result<Box<dyn Prepared>> {
        let (sizes, note) = sizes(self.0, ctx.scale);
        let dtype = DType::F32;
        let (split, wide) = match self.0 {
            Bench::Omniglot => {
                let om = Omniglot::load(ctx.data_dir.as_deref()).context("loading Omniglot")?;
                (omniglot_split(&om, 0)?, None)
            }
            Bench::Cifar100 => {
                let c = Cifar100::load(ctx.data_dir.as_deref()).context("loading CIFAR-100")?;
                let split = cifar100_split(&c, 0)?;
                // 30-way needs ≥ 30 meta-test classes; the 80/20 split has 20. Move the last
                // (randomly ordered) meta-train classes over: a 70/30 split for m = 30.
                let need = sizes.ways.iter().copied().max().unwrap_or(0);
                let wide = (need > split.test_classes.len()).then(|| widen(&split, need));
                (split, wide)
            }
        };
        let reptile = ReptileConfig::default();
        let clip = backward_clip()?;
        let per_task = sizes.r as u64 + 1 + (sizes.r * (sizes.r - 1) / 2) as u64 + sizes.r as u64;
        let budget_calls = sizes.exact_iters * sizes.meta_batch as u64 * per_task;
        let plan = Plan {
            title: format!("Table 2: 1-shot few-shot classification on {}", if self.0 == Bench::Omniglot { "Omniglot" } else { "CIFAR-100" }),
            scale_note: note,
            config: json!({
                "sizes": sizes, "alpha": ALPHA, "outer": {"sgd_step": 0.1, "entrywise_clip": 0.1, "clipped_methods": "all MAML methods (exact, FOM, UFOM, adaptive)"},
                "network": "4 x [conv 3x3 stride 2 TF-same (no bias) -> transductive batch norm (eps 1e-3, learnable scale/shift) -> ReLU] -> dense; Glorot-uniform init",
                "filters": sizes.filters, "dtype": "f32", "shots": 1, "queries_per_class": 1,
                "backward_clip": clip, "adaptive": AdaptiveConfig { backward_clip: clip, ..AdaptiveConfig::default() },
                "reptile": reptile, "reptile_calls": "one function call per inner Adam gradient",
                "evaluation": "every method: r SGD steps of alpha from theta on the m support images of a meta-test task, accuracy on its m query images; mean and 95% interval (1.96 s / sqrt n) over the fixed meta-test tasks; Reptile also with its own evaluation (Adam, 50 steps, batch 10, fresh state)",
                "data_split_seed": 0, "eval_task_seed": train::EVAL_SEED,
                "cifar_30way_split": wide.as_ref().map(|_| "70/30 classes (the 80/20 split has only 20 meta-test classes)"),
            }),
            seeds: (0..sizes.seeds).collect(),
            methods: sizes.ways.iter().flat_map(|m| METHODS.iter().map(move |k| format!("{k}@{m}"))).collect(),
            budget: BudgetNote {
                calls: budget_calls,
                description: format!("calls of {} memory-efficient-exact meta-iterations ({} tasks × {per_task} calls each; {budget_calls} calls)", sizes.exact_iters, sizes.meta_batch),
            },
            dtype,
        };
        let sampler = TaskSampler::new(split, ctx.device.clone(), dtype);
        let wide = wide.map(|s| TaskSampler::new(s, ctx.device.clone(), dtype));
        Ok(Box::new(Ready {
            bench: self.0,
            plan,
            sizes,
            sampler,
            wide,
            reptile,
            clip,
            device: ctx.device.clone(),
        }))
    }
}

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
    plan: Plan,
    sizes: Sizes,
    sampler: TaskSampler,
    wide: Option<TaskSampler>,
    reptile: ReptileConfig,
    clip: Option<f64>,
    device: Device,
}

/// "exact@20" → ("exact", 20).
pub fn parse_method(name: &str) -> Result<(&str, usize)> {
    let (m, w) = name
        .split_once('@')
        .ok_or_else(|| anyhow!("few-shot method `{name}` needs the form METHOD@WAYS"))?;
    Ok((m, w.parse().with_context(|| format!("ways in `{name}`"))?))
}

impl Ready {
    fn estimator(&self, method: &str) -> Result<Box<dyn Estimator<Autodiff<Maml>>>> {
        let ufom = |q: f64| -> Result<Box<dyn Estimator<Autodiff<Maml>>>> {
            let u = Ufom::new(q)?;
            Ok(Box::new(match self.clip {
                Some(c) => u.with_backward_clip(c)?,
                None => u,
            }))
        };
        Ok(match (method, self.clip) {
            ("exact", None) => Box::new(RecomputeExact),
            // With the authors' clipping the exact estimator is UFOM at q = 1 (same calls).
            ("exact", Some(_)) => ufom(1.0)?,
            ("fom", _) => Box::new(Fom),
            ("ufom_q0.1", _) => ufom(0.1)?,
            ("ufom_q0.2", _) => ufom(0.2)?,
            ("adaptive", clip) => Box::new(AdaptiveUfom::new(AdaptiveConfig {
                backward_clip: clip,
                ..AdaptiveConfig::default()
            })?),
            (other, _) => bail!("few-shot experiments have no method {other}"),
        })
    }
}

impl Prepared for Ready {
    fn plan(&self) -> &Plan {
        &self.plan
    }

    fn run_cell(
        &self,
        method: &str,
        seed: u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<RunRecord> {
        let (base, ways) = parse_method(method)?;
        let sampler = match &self.wide {
            Some(w) if ways > self.sampler.split.test_classes.len() => w,
            _ => &self.sampler,
        };
        let net = match self.bench {
            Bench::Omniglot => ConvNet::omniglot(ways, self.sizes.filters),
            Bench::Cifar100 => ConvNet::cifar100(ways, self.sizes.filters),
        };
        let setup = Setup {
            sampler,
            net,
            r: self.sizes.r,
            alpha: ALPHA,
            meta_batch: self.sizes.meta_batch,
            budget_calls: self.plan.budget.calls,
            eval_points: self.sizes.eval_points,
            curve_tasks: self.sizes.curve_tasks,
            test_tasks: self.sizes.test_tasks,
            reptile_eval_tasks: self.sizes.reptile_eval_tasks,
            dtype: self.plan.dtype,
            device: self.device.clone(),
            reptile: self.reptile.clone(),
        };
        let mut record = if base == "reptile" {
            train::train_reptile(&setup, seed, progress)?
        } else {
            let mut est = self.estimator(base)?;
            train::train_maml(&setup, base, est.as_mut(), seed, progress)?
        };
        record.method = method.to_string();
        Ok(record)
    }

    fn finish(&self, methods: &[MethodReport]) -> Result<Findings> {
        report::findings(self.bench, &self.sizes.ways, self.sizes.test_tasks, methods)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ufom_datasets::ClassImages;

    #[test]
    fn budgets_are_the_calls_of_exact_meta_iterations() {
        // Paper: 200,000 (Omniglot) / 40,000 (CIFAR-100) exact meta-iterations of 5 tasks, each
        // r + 1 + r(r−1)/2 gradients and r HVPs with r = 10 (66 calls).
        let (s, _) = sizes(Bench::Omniglot, Scale::Paper);
        assert_eq!(
            (s.r, s.meta_batch, s.exact_iters, s.filters),
            (10, 5, 200_000, 64)
        );
        assert_eq!(s.ways, vec![20, 30, 40, 50]);
        let (s, _) = sizes(Bench::Cifar100, Scale::Paper);
        assert_eq!((s.exact_iters, s.ways.clone()), (40_000, vec![20, 30]));
        assert_eq!(parse_method("ufom_q0.1@30").unwrap(), ("ufom_q0.1", 30));
        assert!(parse_method("exact").is_err());
    }

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
