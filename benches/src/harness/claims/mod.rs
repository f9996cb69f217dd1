//! The paper's claims as tests. Each experiment lists the claims its runs can check ("adaptive
//! UFOM ≥ FOM on test accuracy at a matched call budget"); [`Claim::check`] turns the runs into
//! a verdict — supported, contradicted or not resolved — from a two-sided t-test at α = 0.05,
//! paired over seeds (the same seed gives both methods the same data, initialisation and task
//! draws), with the effect (mean difference in the claim's direction) and its 95 % interval.
//!
//! This file states claims; [`verdict`] tests them; [`ordering`] orders methods by paired tests.

mod ordering;
mod verdict;

use super::methods::MethodSpec;
use super::record::{ClaimVerdict, MethodReport, Metric};
pub use ordering::{ordering, verdict_word, Ordering};
pub use verdict::{z_verdict, SampleClaim, MIN_PAIRS};

/// Significance level of every claim test.
pub const ALPHA: f64 = 0.05;

/// Which way the claim goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    /// The subject's metric is higher (e.g. accuracy).
    Higher,
    /// The subject's metric is lower (e.g. loss, |∂M/∂θ|).
    Lower,
}

/// What the subject is compared with.
#[derive(Clone, Debug, PartialEq)]
pub enum Against {
    /// Another method of the same experiment, paired by seed.
    Method(MethodSpec),
    /// A fixed value (a one-sample test), with how the claim names it.
    Value(f64, String),
}

/// A claim: `subject` is `better` than `against` on `metric` (final value of each run).
#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    /// The claim in words.
    pub statement: String,
    /// Where the paper makes it (e.g. "Table 1", "Theorem 2").
    pub source: String,
    /// Final metric compared.
    pub metric: Metric,
    /// The method the claim is about (matched by its full spec, never by a typed name).
    pub subject: MethodSpec,
    /// What it is compared with.
    pub against: Against,
    /// Direction.
    pub better: Better,
}

impl Claim {
    /// `subject` beats `other` on `metric` in direction `better`.
    pub fn versus(
        statement: &str,
        source: &str,
        metric: Metric,
        subject: &MethodSpec,
        other: &MethodSpec,
        better: Better,
    ) -> Self {
        Self {
            statement: statement.into(),
            source: source.into(),
            metric,
            subject: subject.clone(),
            against: Against::Method(other.clone()),
            better,
        }
    }

    /// Whether `methods` holds every method the claim names (`--methods` may leave some out).
    pub fn applies(&self, methods: &[MethodReport]) -> bool {
        let has = |s: &MethodSpec| methods.iter().any(|m| m.spec == *s);
        has(&self.subject)
            && match &self.against {
                Against::Method(o) => has(o),
                Against::Value(..) => true,
            }
    }
}

/// The verdicts of the claims that apply to `methods`.
pub fn check_all(claims: &[Claim], methods: &[MethodReport]) -> Vec<ClaimVerdict> {
    claims
        .iter()
        .filter(|c| c.applies(methods))
        .map(|c| c.check(methods))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::methods::{MethodSpec, OuterSpec};
    use crate::harness::record::{CallCount, RunRecord, RunStatus, Verdict};
    use hypergrad::optim::{OuterConfig, StepSchedule};
    use hypergrad::EstimatorSpec;
    use std::collections::BTreeMap;

    fn spec(label: &str) -> MethodSpec {
        let mut spec = MethodSpec::estimator(
            EstimatorSpec::Fom,
            OuterSpec {
                optimizer: OuterConfig::Sgd(StepSchedule::Constant(0.1)),
                clip: None,
            },
        );
        spec.label = label.into();
        spec
    }

    fn method(label: &str, values: &[f64]) -> MethodReport {
        let values: Vec<Option<f64>> = values.iter().copied().map(Some).collect();
        method_diverging(label, &values)
    }

    /// `None`: that seed's run diverged.
    fn method_diverging(label: &str, values: &[Option<f64>]) -> MethodReport {
        MethodReport {
            method: label.into(),
            spec: spec(label),
            runs: values
                .iter()
                .enumerate()
                .map(|(seed, v)| RunRecord {
                    method: label.into(),
                    seed: seed as u64,
                    status: match v {
                        Some(_) => RunStatus::Finished,
                        None => RunStatus::Diverged,
                    },
                    iterations: 1,
                    calls: CallCount::default(),
                    discarded_calls: None,
                    wall_s: 0.0,
                    seconds_per_call: 0.0,
                    peak_state_bytes: 0,
                    final_metrics: BTreeMap::from([(Metric::TestAcc, v.unwrap_or(f64::NAN))]),
                    curve: Vec::new(),
                    extra: BTreeMap::new(),
                    code: None,
                })
                .collect(),
            summary: BTreeMap::new(),
            diverged: 0,
            seconds_per_call: 0.0,
        }
    }

    fn claim(better: Better) -> Claim {
        Claim::versus(
            "a beats b",
            "Table 1",
            Metric::TestAcc,
            &spec("a"),
            &spec("b"),
            better,
        )
    }

    #[test]
    fn a_consistent_paired_gain_is_supported_and_its_reverse_contradicted() {
        // b is a plus seed noise; a is b + 2 ± 0.1: noise between seeds cancels in the pairs.
        let b = [70.0, 80.0, 60.0, 75.0, 65.0];
        let a: Vec<f64> = b
            .iter()
            .zip([2.1, 1.9, 2.0, 2.05, 1.95])
            .map(|(x, d)| x + d)
            .collect();
        let m = [method("a", &a), method("b", &b)];
        let v = claim(Better::Higher).check(&m);
        assert_eq!(v.verdict, Verdict::Supported, "{v:?}");
        assert_eq!(v.n, 5);
        let e = v.effect.unwrap();
        assert!((e - 2.0).abs() < 1e-9);
        let [lo, hi] = v.ci95.unwrap();
        assert!(lo > 1.8 && hi < 2.2, "{lo} {hi}");
        // The same data against the claim's direction is contradicted.
        assert_eq!(
            claim(Better::Lower).check(&m).verdict,
            Verdict::Contradicted
        );
    }

    #[test]
    fn noise_larger_than_the_effect_is_not_resolved() {
        // Negative control: differences of both signs around zero.
        let b = [70.0, 80.0, 60.0, 75.0, 65.0];
        let a: Vec<f64> = b
            .iter()
            .zip([3.0, -4.0, 2.0, -1.0, 0.5])
            .map(|(x, d)| x + d)
            .collect();
        let v = claim(Better::Higher).check(&[method("a", &a), method("b", &b)]);
        assert_eq!(v.verdict, Verdict::NotResolved, "{v:?}");
        assert!(v.p_value.unwrap() > ALPHA);
    }

    #[test]
    fn below_three_pairs_is_insufficient_data_without_a_p_value() {
        // One pair with any difference would give p = 0; two identical gains too.
        for n in [1, 2] {
            let v = claim(Better::Higher)
                .check(&[method("a", &vec![1.0; n]), method("b", &vec![0.0; n])]);
            assert_eq!(
                (v.verdict, v.n, v.p_value),
                (Verdict::InsufficientData, n, None)
            );
            assert_eq!(v.effect, Some(1.0));
        }
        // Control: three such pairs are tested (a deterministic gain: supported).
        let v = claim(Better::Higher).check(&[method("a", &[1.0; 3]), method("b", &[0.0; 3])]);
        assert_eq!((v.verdict, v.n), (Verdict::Supported, 3));
    }

    #[test]
    fn pairs_with_a_diverged_run_are_counted_never_dropped_in_silence() {
        // a diverges on its two worst seeds; the rest favour it.
        let a = [Some(72.0), None, Some(62.0), None, Some(67.0)];
        let b = [Some(70.0), Some(80.0), Some(60.0), Some(75.0), Some(65.0)];
        let v =
            claim(Better::Higher).check(&[method_diverging("a", &a), method_diverging("b", &b)]);
        assert_eq!((v.n, v.diverged), (3, 2), "{v:?}");
        // The other side's divergence is counted too; without any, none is.
        let v =
            claim(Better::Higher).check(&[method_diverging("b", &a), method_diverging("a", &b)]);
        assert_eq!(v.diverged, 2);
        let v = claim(Better::Higher).check(&[method("a", &[1.0; 4]), method("b", &[0.0; 4])]);
        assert_eq!(v.diverged, 0);
    }

    #[test]
    fn the_p_value_matches_a_textbook_paired_t_test() {
        // d = (1, 2, 3, 4): mean 2.5, sd 1.2910, t = 3.873 on 3 df, two-sided p = 0.03047.
        let m = [method("a", &[1.0, 2.0, 3.0, 4.0]), method("b", &[0.0; 4])];
        let v = claim(Better::Higher).check(&m);
        assert!((v.p_value.unwrap() - 0.030466).abs() < 1e-5, "{v:?}");
        assert!((v.effect_size_dz.unwrap() - 1.93649).abs() < 1e-4);
        // 95 % interval: 2.5 ± 3.182·0.6455.
        let [lo, hi] = v.ci95.unwrap();
        assert!(
            (lo - 0.4457).abs() < 1e-3 && (hi - 4.5543).abs() < 1e-3,
            "{lo} {hi}"
        );
    }

    #[test]
    fn one_sample_claims_compare_with_a_value() {
        let c = Claim {
            against: Against::Value(0.245, "√D".into()),
            ..claim(Better::Higher)
        };
        let above = c.check(&[method("a", &[0.35, 0.36, 0.33, 0.37, 0.34])]);
        assert_eq!(above.verdict, Verdict::Supported);
        let below = c.check(&[method("a", &[0.03, 0.01, 0.05, 0.02, 0.04])]);
        assert_eq!(below.verdict, Verdict::Contradicted);
    }
}
