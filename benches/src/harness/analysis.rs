//! Analysis of finished runs: pure functions from run records to summaries.

use crate::harness::methods::MethodSpec;
use crate::harness::record::{MethodReport, Metric, RunRecord, RunStatus, Stat};
use std::collections::BTreeMap;

/// Mean ± std of the final metrics over the finished runs of a method.
pub fn aggregate(spec: MethodSpec, runs: Vec<RunRecord>) -> MethodReport {
    let finished: Vec<&RunRecord> = runs
        .iter()
        .filter(|r| r.status == RunStatus::Finished)
        .collect();
    let mut keys: Vec<Metric> = finished
        .iter()
        .flat_map(|r| r.final_metrics.keys().copied())
        .collect();
    keys.sort();
    keys.dedup();
    let summary: BTreeMap<Metric, Stat> = keys
        .into_iter()
        .filter_map(|k| {
            let v: Vec<f64> = finished
                .iter()
                .filter_map(|r| r.final_metrics.get(&k).copied())
                .collect();
            Stat::of(&v).map(|s| (k, s))
        })
        .collect();
    let spc: Vec<f64> = runs.iter().map(|r| r.seconds_per_call).collect();
    MethodReport {
        method: spec.label.clone(),
        spec,
        diverged: runs.len() - finished.len(),
        seconds_per_call: Stat::of(&spc).map_or(0.0, |s| s.mean),
        summary,
        runs,
    }
}
