//! What an output folder holds: reports of one scale, the previous report of each experiment,
//! and the cell store of each (experiment, settings, data); writing a report into it.

use super::{BenchOptions, MixedScales, OutNotAFolder, Planned};
use crate::harness::experiments::{registry, Experiment, Plan, Prepared};
use crate::harness::methods::short_hash;
use crate::harness::record::CodeIdentity;
use crate::harness::record::{DataFile, ExperimentId, ExperimentReport, Scale, SCHEMA_VERSION};
use crate::harness::report::write_all;
use crate::harness::store::{read_json, CellStore, StoreManifest};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Fails with [`OutNotAFolder`] if `out` exists and is not a folder, and with [`MixedScales`] if
/// it holds an experiment report of a scale other than `scale`.
pub fn check_one_scale(out: &Path, scale: Scale) -> Result<()> {
    if out.exists() && !out.is_dir() {
        return Err(OutNotAFolder(out.display().to_string()).into());
    }
    let Ok(entries) = std::fs::read_dir(out) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        if let Ok(report) = read_json::<ExperimentReport>(&path) {
            if report.scale != scale {
                return Err(MixedScales {
                    out: out.display().to_string(),
                    file: path
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into(),
                    found: scale_name(report.scale),
                    wanted: scale_name(scale),
                    suggest: out.join(scale_name(scale)).display().to_string(),
                }
                .into());
            }
        }
    }
    Ok(())
}

/// The report of `experiment` at `scale` in `out`, if one of this schema is there.
pub fn previous_report(out: &Path, experiment: &str, scale: Scale) -> Option<ExperimentReport> {
    let old: ExperimentReport = read_json(&out.join(format!("{experiment}.json"))).ok()?;
    (old.schema_version == SCHEMA_VERSION && old.scale == scale).then_some(old)
}

/// The scale's name as the CLI spells it.
pub fn scale_name(s: Scale) -> &'static str {
    match s {
        Scale::Smoke => "smoke",
        Scale::Default => "default",
        Scale::Paper => "paper",
    }
}

/// The cell store of an experiment: keyed by the scale, the plan's settings and the data's
/// checksums, so cells are only reused for the same settings on the same data (and, checked
/// per cell, by the same code).
pub fn cell_store(
    out: &Path,
    experiment: ExperimentId,
    scale: Scale,
    plan: &Plan,
    data: &[DataFile],
    code: &CodeIdentity,
) -> CellStore {
    let digests: Vec<&str> = data.iter().map(|d| d.sha256.as_str()).collect();
    let key = short_hash(&format!("{}|{}", plan.config, digests.join(",")));
    let manifest = StoreManifest {
        experiment,
        scale,
        config: plan.config.clone(),
        data: data.to_vec(),
    };
    CellStore::new(
        out,
        &format!("{}-{}", scale_name(scale), &key[..8]),
        manifest,
        code.clone(),
    )
}

/// Writes `report` and re-renders the dashboard over it and the other reports of its scale
/// already in `out`.
pub(super) fn write_reports(report: &ExperimentReport, out: &Path) -> Result<Vec<PathBuf>> {
    let mut reports = vec![report.clone()];
    for exp in registry() {
        if exp.id() == report.experiment {
            continue;
        }
        if let Some(old) = previous_report(out, exp.name(), report.scale) {
            reports.push(old);
        }
    }
    // Only this report's own files are reported as written by this run, plus the dashboard.
    let files = write_all(&reports, out)?;
    Ok(files
        .into_iter()
        .filter(|f| {
            let name = f.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with(&format!("{}.", report.experiment))
                || name.starts_with(&format!("{}_", report.experiment))
                || name == crate::harness::report::BENCHER_FILE
        })
        .collect())
}

/// `p`'s data prepared by `exp` (read and checksummed, not trained) and the cell store a run
/// keys by it, in `opts.out` with `opts.code`: what a run, a cluster task and `--dry-run
/// --resume` all use.
pub fn prepare_with_store(
    exp: &dyn Experiment,
    p: &Planned,
    opts: &BenchOptions,
) -> Result<(Box<dyn Prepared>, CellStore)> {
    let prepared = exp.prepare(&opts.ctx, &p.plan)?;
    let store = cell_store(
        &opts.out,
        p.id,
        opts.ctx.scale,
        &p.plan,
        prepared.data(),
        &opts.code,
    );
    Ok((prepared, store))
}

/// The cell store a run of `p` would use now ([`prepare_with_store`]): what `--dry-run
/// --resume` counts.
pub fn current_store(p: &Planned, opts: &BenchOptions) -> Result<CellStore> {
    let exp = registry()
        .into_iter()
        .find(|e| e.id() == p.id)
        .ok_or_else(|| anyhow::anyhow!("no experiment {} in this build", p.name))?;
    Ok(prepare_with_store(exp.as_ref(), p, opts)?.1)
}
