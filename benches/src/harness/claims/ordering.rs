//! An ordering of methods by a metric, resolved only by paired tests: the methods sorted by
//! their mean, and each adjacent step tested as the claim "this one beats the next" over the
//! seeds both finished ([`Claim::check`]). Spreads of means against seed deviations or
//! intervals never decide it.

use super::{Better, Claim};
use crate::harness::record::{MethodReport, Metric, Verdict};

/// The ordering in words and whether every step of it is significant.
pub struct Ordering<'a> {
    /// `a 92.1 > b 90.3 (supported, p = 0.004) > c 90.1 (not resolved, p = 0.410)`.
    pub text: String,
    /// The methods, best first.
    pub ranked: Vec<&'a MethodReport>,
    /// Every adjacent step supported by its paired test.
    pub resolved: bool,
}

/// `methods` ordered best first by the mean of `metric` (higher or lower is better), each
/// step with its paired test; `digits` decimals for the means.
pub fn ordering<'a>(
    methods: &[&'a MethodReport],
    metric: Metric,
    better: Better,
    digits: usize,
) -> Ordering<'a> {
    let mut ranked: Vec<(&'a MethodReport, f64)> = methods
        .iter()
        .filter_map(|m| m.summary.get(&metric).map(|s| (*m, s.mean)))
        .collect();
    ranked.sort_by(|a, b| match better {
        Better::Higher => b.1.total_cmp(&a.1),
        Better::Lower => a.1.total_cmp(&b.1),
    });
    let mut text = String::new();
    let mut resolved = !ranked.is_empty();
    for (i, (m, mean)) in ranked.iter().enumerate() {
        if i > 0 {
            let (prev, _) = ranked[i - 1];
            let v =
                Claim::versus("", "", metric, &prev.spec, &m.spec, better).check_among(&[prev, *m]);
            resolved &= v.verdict == Verdict::Supported;
            let step = match (v.verdict, v.p_value) {
                (Verdict::InsufficientData, _) => format!("insufficient data, {} pair(s)", v.n),
                (verdict, Some(p)) if p >= 1e-3 => format!("{}, p = {p:.3}", verdict_word(verdict)),
                (verdict, Some(p)) => format!("{}, p = {p:.1e}", verdict_word(verdict)),
                (verdict, None) => verdict_word(verdict).to_string(),
            };
            text.push_str(&format!(" > {} {mean:.digits$} ({step})", m.method));
        } else {
            text.push_str(&format!("{} {mean:.digits$}", m.method));
        }
    }
    Ordering {
        text,
        ranked: ranked.iter().map(|(m, _)| *m).collect(),
        resolved,
    }
}

/// A verdict in words.
pub fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Supported => "supported",
        Verdict::Contradicted => "contradicted",
        Verdict::NotResolved => "not resolved",
        Verdict::InsufficientData => "insufficient data",
    }
}
