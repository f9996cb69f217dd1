//! From runs to a verdict: the t-test of a [`Claim`] over seeds ([`Claim::check`]: paired
//! against a method, one-sample against a value) and the z-test on two summarised samples
//! ([`z_verdict`]).

use super::{Against, Better, Claim, ALPHA};
use crate::harness::record::{ClaimVerdict, MethodReport, RunStatus, Verdict};
use hypergrad::stats::t_test;
use statrs::distribution::ContinuousCDF;

impl Claim {
    /// The verdict from the runs in `methods`.
    pub fn check(&self, methods: &[MethodReport]) -> ClaimVerdict {
        let finals = |label: &str| -> Vec<(u64, f64)> {
            methods
                .iter()
                .filter(|m| m.method == label)
                .flat_map(|m| &m.runs)
                .filter(|r| r.status == RunStatus::Finished)
                .filter_map(|r| r.final_metrics.get(&self.metric).map(|v| (r.seed, *v)))
                .collect()
        };
        let sign = match self.better {
            Better::Higher => 1.0,
            Better::Lower => -1.0,
        };
        let subject = finals(&self.subject);
        let (test, diffs): (String, Vec<f64>) = match &self.against {
            Against::Method(other) => {
                let other = finals(other);
                let d = subject
                    .iter()
                    .filter_map(|(seed, a)| {
                        other
                            .iter()
                            .find(|(s, _)| s == seed)
                            .map(|(_, b)| sign * (a - b))
                    })
                    .collect();
                ("paired t-test over seeds, two-sided".into(), d)
            }
            Against::Value(v, _) => (
                "one-sample t-test over seeds, two-sided".into(),
                subject.iter().map(|(_, a)| sign * (a - v)).collect(),
            ),
        };
        let mut verdict = ClaimVerdict {
            statement: self.statement.clone(),
            source: self.source.clone(),
            metric: self.metric,
            test: format!("{test}, α = {ALPHA}"),
            n: diffs.len(),
            effect: None,
            ci95: None,
            effect_size_dz: None,
            p_value: None,
            verdict: Verdict::NotResolved,
        };
        // Mean zero; None below two values or with a non-finite one. Identical differences
        // (sd = 0) are a deterministic effect: p = 0 unless the mean is 0 too.
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

/// A verdict from two independent samples summarised by mean and standard error (a two-sided
/// z-test; for simulations with many runs, e.g. Fig. 1f). `effect` = sign·(a − b).
pub fn z_verdict(claim: &Claim, a: (f64, f64), b: (f64, f64), n: usize) -> ClaimVerdict {
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
