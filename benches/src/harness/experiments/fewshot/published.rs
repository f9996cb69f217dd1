//! The published few-shot numbers: the paper's (ICML 2021) Table 2 and UFO-BLO's Table 2, and
//! the lookup of a method report's published value.

use super::Bench;
use crate::harness::methods::{Learner, MethodSpec};
use crate::harness::record::MethodReport;
use hypergrad::EstimatorSpec;

/// The name the published tables give this method (they report exact = memory-efficient
/// exact, Reptile, FOM, UFOM at q = 0.1 / 0.2 and adaptive UFOM), if any.
pub(super) fn paper_name(spec: &MethodSpec) -> Option<&'static str> {
    Some(match &spec.learner {
        Learner::Reptile(_) => "reptile",
        Learner::Estimator(e) => match e {
            EstimatorSpec::RecomputeExact { .. } => "exact",
            EstimatorSpec::Fom => "fom",
            EstimatorSpec::Ufom { q, .. } if *q == 0.1 => "ufom_q0.1",
            EstimatorSpec::Ufom { q, .. } if *q == 0.2 => "ufom_q0.2",
            EstimatorSpec::Adaptive(_) => "adaptive",
            _ => return None,
        },
    })
}

/// The published value for method `base` at m = `ways`.
pub(super) fn published_value(
    methods: &[MethodReport],
    bench: Bench,
    base: &str,
    ways: usize,
    published: Published,
) -> Option<f64> {
    let spec = &methods.iter().find(|m| m.spec.base_label() == base)?.spec;
    published(bench, paper_name(spec)?, ways)
}

/// Paper (ICML 2021) Table 2, budget-matched: test accuracy %.
pub(super) fn icml(bench: Bench, method: &str, ways: usize) -> Option<f64> {
    let row = match (bench, ways) {
        (Bench::Cifar100, 20) => [19.9, 18.5, 21.3, 22.1],
        (Bench::Cifar100, 30) => [13.8, 11.0, 12.6, 14.7],
        (Bench::Omniglot, 30) => [91.6, 83.1, 89.3, 92.0],
        (Bench::Omniglot, 40) => [87.5, 78.2, 84.88, 89.1],
        _ => return None,
    };
    let i = ["exact", "reptile", "fom", "adaptive"]
        .iter()
        .position(|m| *m == method)?;
    Some(row[i])
}

/// UFO-BLO Table 2 (Omniglot, fixed q, no budget matching): test accuracy %.
pub(super) fn ufo_blo(bench: Bench, method: &str, ways: usize) -> Option<f64> {
    if bench != Bench::Omniglot {
        return None;
    }
    let row = match method {
        "exact" => [95.8, 90.8, 89.0, 87.9],
        "reptile" => [89.4, 85.4, 82.5, 79.5],
        "fom" => [89.4, 81.1, 71.6, 64.4],
        "ufom_q0.1" => [88.0, 84.6, 83.8, 81.6],
        "ufom_q0.2" => [92.2, 88.7, 88.3, 87.5],
        _ => return None,
    };
    let i = [20, 30, 40, 50].iter().position(|w| *w == ways)?;
    Some(row[i])
}

pub(super) type Published = fn(Bench, &str, usize) -> Option<f64>;
