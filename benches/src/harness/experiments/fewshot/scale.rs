//! What a few-shot run is: Table 2's methods for m-way tasks, the inner step, and each
//! benchmark's sizes per scale.

use super::{Bench, ReptileConfig};
use crate::harness::methods::{MethodSpec, OuterSpec};
use crate::harness::record::Scale;
use hypergrad::estimators::AdaptiveConfig;
use hypergrad::optim::{OuterConfig, StepSchedule};
use hypergrad::EstimatorSpec;
use serde::Serialize;

/// The paper's inner step α = 0.005, on the support loss *summed* over the m images as in the
/// authors' TF code (Reptile's, which minimises the vector of per-example losses, i.e. their
/// sum). Our L_in is the mean, so the step on it is α·m ([`inner_step`]). Measured: α = 0.005
/// on the mean leaves every method at chance after thousands of calls (adaptation on the
/// support set barely moves the predictions).
pub(super) const ALPHA: f64 = 0.005;

/// The inner step on our mean support CE for m-way 1-shot tasks: α·m.
pub(super) fn inner_step(ways: usize) -> f64 {
    ALPHA * ways as f64
}

/// Table 2's methods for m-way tasks, in report order: memory-efficient exact, FOM, UFOM
/// (q = 0.1, 0.2), adaptive UFOM — meta-batches of `meta_batch` tasks, outer SGD 0.1 with the
/// meta-gradient clipped entry-wise to [−0.1, 0.1] — and Reptile with its published settings.
/// `clip` is the authors' per-backward-step clipping (exact, UFOM and adaptive).
pub(super) fn methods(ways: &[usize], meta_batch: usize, clip: Option<f64>) -> Vec<MethodSpec> {
    let outer = OuterSpec {
        optimizer: OuterConfig::Sgd(StepSchedule::Constant(0.1)),
        clip: Some(0.1),
    };
    let estimators = [
        EstimatorSpec::RecomputeExact {
            backward_clip: clip,
        },
        EstimatorSpec::Fom,
        EstimatorSpec::Ufom {
            q: 0.1,
            backward_clip: clip,
        },
        EstimatorSpec::Ufom {
            q: 0.2,
            backward_clip: clip,
        },
        EstimatorSpec::Adaptive(AdaptiveConfig {
            backward_clip: clip,
            ..AdaptiveConfig::default()
        }),
    ];
    ways.iter()
        .flat_map(|&m| {
            estimators
                .iter()
                .map(move |e| MethodSpec::estimator(e.clone(), outer).meta_batch(meta_batch))
                .chain([MethodSpec::reptile(ReptileConfig::default()).meta_batch(meta_batch)])
                .map(move |spec| spec.ways(m))
        })
        .collect()
}

#[derive(Clone, Debug, Serialize)]
pub(super) struct Sizes {
    pub(super) ways: Vec<usize>,
    pub(super) filters: usize,
    pub(super) r: usize,
    pub(super) meta_batch: usize,
    pub(super) exact_iters: u64,
    /// Not part of the recorded config (the report lists the seeds; `--seeds` overrides it).
    #[serde(skip)]
    pub(super) seeds: u64,
    pub(super) eval_points: u64,
    pub(super) curve_tasks: usize,
    pub(super) test_tasks: usize,
    pub(super) reptile_eval_tasks: usize,
}

pub(super) fn sizes(bench: Bench, scale: Scale) -> (Sizes, String) {
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
            Sizes { ways: vec![5, 20, 30], filters: 16, r: 10, meta_batch: 5, exact_iters: 20, seeds: 3, eval_points: 20, curve_tasks: 5, test_tasks: 100, reptile_eval_tasks: 20 },
            format!("default (2-core CPU, ≈ 3 min for Omniglot with the analytic oracles and 2 jobs): m ∈ {{5, 20, 30}} (5-way as a sanity anchor; paper {}), 3 seeds (the fewest with which the paired claims get a verdict), 16 filters (paper 64), budget of 20 exact meta-iterations = 6600 calls (paper 200,000 Omniglot / 40,000 CIFAR-100), 100 meta-test tasks (curve points on 5; Reptile's own evaluation on 20); r = 10, α = 0.005 on the summed support loss, meta-batch 5 and outer SGD 0.1 with clipping as in the paper", if bench == Bench::Omniglot { "20–50" } else { "20, 30" }),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::experiments::exact_iterations_budget;

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
        // 200,000 iterations × 5 tasks × 66 calls.
        assert_eq!(
            exact_iterations_budget(200_000, 10, 5).calls,
            200_000 * 5 * 66
        );
        let labels: Vec<String> = methods(&[20], 5, None)
            .into_iter()
            .map(|m| m.label)
            .collect();
        assert_eq!(
            labels,
            [
                "recompute_exact@20",
                "fom@20",
                "ufom_q0.1@20",
                "ufom_q0.2@20",
                "adaptive@20",
                "reptile@20"
            ]
        );
        let clipped = methods(&[30], 5, Some(10.0));
        assert_eq!(clipped[0].label, "recompute_exact_clip10@30");
        assert_eq!(clipped[1].label, "fom@30");
    }
}
