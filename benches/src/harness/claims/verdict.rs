//! From runs to a verdict: the t-test of a [`Claim`] over seeds ([`Claim::check`]: paired
//! against a method, one-sample against a value) and the z-test on two summarised samples
//! ([`z_verdict`]).

use super::{Against, Better, Claim, ALPHA};
use crate::harness::methods::MethodSpec;
use crate::harness::record::{ClaimVerdict, MethodReport, Metric, RunStatus, Verdict};
use hypergrad::stats::t_test;
use statrs::distribution::ContinuousCDF;

/// The fewest pairs (or values) a claim is tested on: below, "insufficient data".
pub const MIN_PAIRS: usize = 3;

impl Claim {
    /// The verdict from the runs in `methods`: a paired t-test over the seeds both methods
    /// finished (a one-sample test against a value), the pairs with a diverged run counted in
    /// [`ClaimVerdict::diverged`], and no test below [`MIN_PAIRS`].
    pub fn check(&self, methods: &[MethodReport]) -> ClaimVerdict {
        let refs: Vec<&MethodReport> = methods.iter().collect();
        self.check_among(&refs)
    }

    /// [`Self::check`] over borrowed reports (no copy of their runs).
    pub fn check_among(&self, methods: &[&MethodReport]) -> ClaimVerdict {
        // Per seed: the final value, `None` for a diverged run (or one without the metric).
        let finals = |spec: &MethodSpec| -> Vec<(u64, Option<f64>)> {
            methods
                .iter()
                .filter(|m| m.spec == *spec)
                .flat_map(|m| &m.runs)
                .map(|r| {
                    let v = (r.status == RunStatus::Finished)
                        .then(|| r.final_metrics.get(&self.metric).copied())
                        .flatten();
                    (r.seed, v)
                })
                .collect()
        };
        let sign = match self.better {
            Better::Higher => 1.0,
            Better::Lower => -1.0,
        };
        let subject = finals(&self.subject);
        let (test, pairs): (&str, Vec<Option<f64>>) = match &self.against {
            Against::Method(other) => {
                let other = finals(other);
                let d = subject
                    .iter()
                    .filter_map(|(seed, a)| {
                        let (_, b) = other.iter().find(|(s, _)| s == seed)?;
                        Some(a.zip(*b).map(|(a, b)| sign * (a - b)))
                    })
                    .collect();
                ("paired t-test over seeds, two-sided", d)
            }
            Against::Value(v, _) => (
                "one-sample t-test over seeds, two-sided",
                subject
                    .iter()
                    .map(|(_, a)| a.map(|a| sign * (a - v)))
                    .collect(),
            ),
        };
        let diffs: Vec<f64> = pairs.iter().flatten().copied().collect();
        let mut verdict = ClaimVerdict {
            statement: self.statement.clone(),
            source: self.source.clone(),
            metric: self.metric,
            test: format!("{test}, α = {ALPHA}"),
            n: diffs.len(),
            diverged: pairs.len() - diffs.len(),
            effect: None,
            ci95: None,
            effect_size_dz: None,
            p_value: None,
            verdict: Verdict::InsufficientData,
        };
        if diffs.len() < MIN_PAIRS {
            verdict.effect = (!diffs.is_empty()).then(|| hypergrad::stats::mean(&diffs));
            return verdict;
        }
        // Mean zero; None with a non-finite value. Identical differences (sd = 0) are a
        // deterministic effect: p = 0 unless the mean is 0 too.
        verdict.verdict = Verdict::NotResolved;
        let Some(t) = t_test(&diffs, 0.0, ALPHA) else {
            return verdict;
        };
        verdict.effect = Some(t.mean);
        verdict.ci95 = Some(t.ci);
        verdict.effect_size_dz = t.dz;
        verdict.p_value = Some(t.p_value);
        verdict.verdict = if t.p_value >= ALPHA {
            Verdict::NotResolved
        } else if t.mean > 0.0 {
            Verdict::Supported
        } else {
            Verdict::Contradicted
        };
        verdict
    }
}

/// A claim about two simulated samples (e.g. Fig. 1f's curves), tested by [`z_verdict`].
#[derive(Clone, Debug, PartialEq)]
pub struct SampleClaim {
    /// The claim in words.
    pub statement: String,
    /// Where the paper makes it.
    pub source: String,
    /// The metric compared.
    pub metric: Metric,
    /// Direction: the first sample is `better` than the second.
    pub better: Better,
}

/// A verdict from two independent samples summarised by mean and standard error (a two-sided
/// z-test; for simulations with many runs, e.g. Fig. 1f). `effect` = sign·(a − b).
pub fn z_verdict(claim: &SampleClaim, a: (f64, f64), b: (f64, f64), n: usize) -> ClaimVerdict {
    let sign = match claim.better {
        Better::Higher => 1.0,
        Better::Lower => -1.0,
    };
    let effect = sign * (a.0 - b.0);
    let se = (a.1 * a.1 + b.1 * b.1).sqrt();
    let normal = statrs::distribution::Normal::new(0.0, 1.0).ok();
    let (p, half) = match normal {
        Some(nd) if se > 0.0 && effect.is_finite() => (
            2.0 * (1.0 - nd.cdf((effect / se).abs())),
            nd.inverse_cdf(1.0 - ALPHA / 2.0) * se,
        ),
        _ => (f64::NAN, f64::NAN),
    };
    ClaimVerdict {
        statement: claim.statement.clone(),
        source: claim.source.clone(),
        metric: claim.metric,
        test: format!("two-sample z-test over {n} simulated runs each, two-sided, α = {ALPHA}"),
        n,
        diverged: 0,
        effect: Some(effect),
        ci95: Some([effect - half, effect + half]),
        effect_size_dz: None,
        p_value: p.is_finite().then_some(p),
        verdict: match p {
            p if p.is_nan() || p >= ALPHA => Verdict::NotResolved,
            _ if effect > 0.0 => Verdict::Supported,
            _ => Verdict::Contradicted,
        },
    }
}
