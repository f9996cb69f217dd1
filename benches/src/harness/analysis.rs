//! Analysis of finished runs: pure functions from run records to summaries, and the analysis
//! stage run again on a finished report ([`reanalyse`]).

use crate::harness::experiments::{registry, Context};
use crate::harness::methods::MethodSpec;
use crate::harness::record::{
    CodeIdentity, ExperimentReport, MethodReport, Metric, RunRecord, RunStatus, Stat,
};
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

/// The analysis stage run again on a finished report: its tables, figures, notes and claims
/// recomputed by this build's analysis from the report's own run and simulation records (no
/// cell, no data), and `analysed_by` set to `code`. Errors when the report lacks records the
/// analysis needs (e.g. a synthetic report older than its simulation cells).
pub fn reanalyse(report: &mut ExperimentReport, code: &CodeIdentity) -> anyhow::Result<()> {
    let exp = registry()
        .into_iter()
        .find(|e| e.id() == report.experiment)
        .ok_or_else(|| anyhow::anyhow!("no experiment {} in this build", report.experiment))?;
    let ctx = Context {
        scale: report.scale,
        data: ufom_datasets::DataConfig::default(),
        device: candle_core::Device::Cpu,
        backward_clip: None,
    };
    let f = exp
        .analyse(&ctx, &report.methods, &report.simulations)
        .map_err(|e| {
            e.context(format!(
                "re-analysing {}; rerun `ufom bench --experiment {}` to record what it lacks",
                report.experiment, report.experiment
            ))
        })?;
    report.tables = f.tables;
    report.figures = f.figures;
    report.notes = f.notes;
    report.claims = f.claims;
    report.analysed_by = Some(code.clone());
    Ok(())
}
