//! `bencher.json`: every method of every experiment in Bencher Metric Format (BMF),
//! `{ "<experiment>/<method>": { "<measure>": { "value", "lower_value", "upper_value" } } }`,
//! for `bencher run --adapter json --file bencher.json`.
//!
//! Measures: one per summary metric (value = mean, bounds = mean ∓ std), `function_calls`
//! (calls per run over seeds) and `seconds_per_call`. Only finite numbers are written; a
//! measure whose mean is not finite is left out, and so is a bound that is not finite.

use super::super::record::{ExperimentReport, Stat};
use super::super::store::write_json;
use super::Reporter;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// File name the [`BencherReporter`] writes under the output folder.
pub const BENCHER_FILE: &str = "bencher.json";

/// Writes `bencher.json` for all reports together.
#[derive(Clone, Copy, Debug, Default)]
pub struct BencherReporter;

impl Reporter for BencherReporter {
    fn name(&self) -> &'static str {
        "bencher"
    }

    fn write(&self, reports: &[ExperimentReport], out_dir: &Path) -> Result<Vec<PathBuf>> {
        let path = out_dir.join(BENCHER_FILE);
        write_json(&path, &bencher_metrics(reports))?;
        Ok(vec![path])
    }
}

/// One metric: the mean over seeds, and mean ∓ std as bounds when finite (fields in the order
/// the file has always listed them).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BencherMetric {
    /// Mean − std.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower_value: Option<f64>,
    /// Mean + std.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper_value: Option<f64>,
    /// Mean over seeds.
    pub value: f64,
}

/// `bencher.json`: benchmark name (`<experiment>/<method>`) → measure (a summary metric,
/// `function_calls` or `seconds_per_call`) → metric. See
/// <https://bencher.dev/docs/reference/bencher-metric-format>.
pub type BencherFile = BTreeMap<String, BTreeMap<String, BencherMetric>>;

/// The BMF document of `reports` (what [`BencherReporter`] writes). Keys are sorted, so the
/// output is deterministic; a later report with the same `<experiment>/<method>` replaces an
/// earlier one.
pub fn bencher_metrics(reports: &[ExperimentReport]) -> BencherFile {
    let mut benchmarks = BencherFile::new();
    for report in reports {
        for method in &report.methods {
            let mut measures = BTreeMap::new();
            for (metric, stat) in &method.summary {
                if let Some(m) = metric_of(stat.mean, Some(stat.std)) {
                    measures.insert(metric.name().to_string(), m);
                }
            }
            let calls: Vec<f64> = method.runs.iter().map(|r| r.calls.total as f64).collect();
            if let Some(s) = Stat::of(&calls) {
                if let Some(m) = metric_of(s.mean, Some(s.std)) {
                    measures.insert("function_calls".into(), m);
                }
            }
            let per_call: Vec<f64> = method.runs.iter().map(|r| r.seconds_per_call).collect();
            let spread = Stat::of(&per_call).map(|s| s.std);
            let value = if method.seconds_per_call.is_finite() {
                Some(method.seconds_per_call)
            } else {
                Stat::of(&per_call).map(|s| s.mean)
            };
            if let Some(m) = value.and_then(|v| metric_of(v, spread)) {
                measures.insert("seconds_per_call".into(), m);
            }
            if measures.is_empty() {
                continue;
            }
            let name = format!("{}/{}", report.experiment, method.method);
            benchmarks.insert(name, measures);
        }
    }
    benchmarks
}

/// The metric of `mean` ∓ `std`, finite parts only (`None` for a non-finite mean).
fn metric_of(mean: f64, std: Option<f64>) -> Option<BencherMetric> {
    if !mean.is_finite() {
        return None;
    }
    let bounds = std
        .filter(|s| s.is_finite())
        .map(f64::abs)
        .map(|std| (mean - std, mean + std))
        .filter(|(lo, hi)| lo.is_finite() && hi.is_finite());
    Some(BencherMetric {
        lower_value: bounds.map(|b| b.0),
        upper_value: bounds.map(|b| b.1),
        value: mean,
    })
}
