//! `ufom report DIR`: re-render Markdown, SVG and the dashboard JSON from the experiment
//! reports' JSON alone — the JSON is the contract between running and reporting.

use anyhow::{bail, Context as _, Result};
use clap::Args;
use std::path::PathBuf;
use ufom_bench::harness::cluster;
use ufom_bench::harness::map::{render as map_render, MapReport, ReportKind, MAP_SCHEMA_VERSION};
use ufom_bench::harness::record::{ExperimentReport, SCHEMA_VERSION};
use ufom_bench::harness::report::{calibration, readme, write_all};
use ufom_bench::harness::runner;
use ufom_bench::harness::store::{read_json, write_atomic};
use ufom_datasets::DataConfig;

/// Arguments of `ufom report`.
#[derive(Args)]
pub struct ReportArgs {
    /// Folder holding `<experiment>.json` reports of one scale (e.g. `reports/`).
    dir: PathBuf,
    /// Also rewrite the generated result blocks of this README (between `<!-- BEGIN
    /// reports/<experiment>.json -->` and its END marker) from the reports.
    #[arg(long, value_name = "FILE")]
    readme: Option<PathBuf>,
    /// With --readme: write nothing, fail (exit 1) if the README's blocks differ from the
    /// reports.
    #[arg(long, requires = "readme")]
    check: bool,
    /// Run this build's analysis again on each experiment report's own run and simulation
    /// records (tables, figures, notes, claims; no cell or data is read) and rewrite the
    /// report JSON with it, recording the analysing code in `analysed_by`.
    #[arg(long, conflicts_with = "check")]
    reanalyse: bool,
}

/// Errors unless the JSON `value` read from `path` has `schema_version` = `want`.
fn check_version(
    path: &std::path::Path,
    value: &serde_json::Value,
    want: u32,
    what: &str,
    rerun: &str,
) -> Result<()> {
    let version = value.get("schema_version").and_then(|v| v.as_u64());
    if version != Some(u64::from(want)) {
        bail!(
            "{}: {what} schema version {} is not this build's {want}; rerun `{rerun}` to regenerate it",
            path.display(),
            version.map_or("missing".into(), |v| v.to_string())
        );
    }
    Ok(())
}

/// A plan folder's merge: every experiment whose cells are all finished gets its reports (the
/// same JSON a local run writes); the missing or failed cells are listed. No data is read: the
/// cells are found by their store's manifest, whatever code computed them (each run record
/// names its code).
fn merge_plan(dir: &std::path::Path, data: &DataConfig) -> Result<Vec<String>> {
    let (plan, _) = cluster::read_plan(dir)?;
    let code = ufom_bench::harness::env::build_code();
    let mut opts = cluster::options(&plan, dir, candle_core::Device::Cpu, data, &code);
    opts.merge_only = true;
    let outcome = runner::run(&opts)?;
    for f in &outcome.files {
        println!("wrote {}", f.display());
    }
    let mut problems = Vec::new();
    for (name, why) in outcome.failed() {
        let _ = name;
        problems.push(why.to_string());
    }
    for (name, why) in outcome.skipped() {
        problems.push(format!("{name} skipped: {why}"));
    }
    Ok(problems)
}

/// Runs the subcommand.
pub fn run(a: &ReportArgs, config: &crate::config::Config) -> Result<()> {
    let merge_problems = if a.dir.join(cluster::PLAN_FILE).is_file() {
        merge_plan(&a.dir, &config.data)?
    } else {
        Vec::new()
    };
    let rendered = render(a);
    if !merge_problems.is_empty() {
        bail!(
            "{} is not complete: {}; `ufom slurm {}` writes an array over what is left",
            a.dir.display(),
            merge_problems.join("; "),
            a.dir.display()
        );
    }
    rendered
}

/// Re-renders the folder's reports (and the README's blocks).
fn render(a: &ReportArgs) -> Result<()> {
    let entries = std::fs::read_dir(&a.dir)
        .with_context(|| format!("reading the report folder {}", a.dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let mut reports: Vec<ExperimentReport> = Vec::new();
    let mut map: Option<MapReport> = None;
    for path in &paths {
        // A file that is not JSON at all is damaged (e.g. truncated): never skipped in silence.
        // Other JSON files (dashboard, perf, verify) are not experiment reports: skipped.
        let value = read_json::<serde_json::Value>(path).with_context(|| {
            format!(
                "{} is damaged; restore it (git checkout) or rerun what wrote it",
                path.display()
            )
        })?;
        let kind = value
            .get("kind")
            .and_then(|k| serde_json::from_value::<ReportKind>(k.clone()).ok());
        if kind == Some(ReportKind::EstimatorMap) {
            check_version(path, &value, MAP_SCHEMA_VERSION, "map", "ufom map")?;
            map = Some(read_json(path)?);
            continue;
        }
        // The other files a report or plan folder holds (dashboard, perf, verify, the plan).
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if ["bencher.json", "verify.json", "plan.json"].contains(&name.as_ref())
            || name.starts_with("perf")
        {
            continue;
        }
        match (value.get("experiment"), value.get("methods")) {
            (Some(_), Some(_)) => {}
            // Half a report is a damaged one, never another kind of file.
            (Some(_), None) | (None, Some(_)) => bail!(
                "{} is damaged: an experiment report missing its `{}`; restore it (git checkout) or rerun `ufom bench`",
                path.display(),
                if value.get("experiment").is_none() { "experiment" } else { "methods" }
            ),
            // Any other JSON file is not a report: said, then left alone.
            (None, None) => {
                eprintln!("skipped {}: not an experiment report or map", path.display());
                continue;
            }
        }
        check_version(path, &value, SCHEMA_VERSION, "report", "ufom bench")?;
        let mut report: ExperimentReport = read_json(path)?;
        if a.reanalyse {
            ufom_bench::harness::analysis::reanalyse(
                &mut report,
                &ufom_bench::harness::env::build_code(),
            )
            .with_context(|| path.display().to_string())?;
        }
        if let Some(first) = reports.first() {
            if first.scale != report.scale {
                bail!(
                    "{} holds reports of two scales ({} and {}); keep one scale per folder",
                    a.dir.display(),
                    first.experiment,
                    report.experiment
                );
            }
        }
        reports.push(report);
    }
    if reports.is_empty() && map.is_none() {
        bail!(
            "no experiment report (<experiment>.json) or map.json in {}",
            a.dir.display()
        );
    }
    if let Some(readme) = &a.readme {
        let text = std::fs::read_to_string(readme)
            .with_context(|| format!("reading {}", readme.display()))?;
        let verify = std::fs::read_to_string(a.dir.join("verify.json")).ok();
        let perf = std::fs::read_to_string(a.dir.join("perf.json")).ok();
        let updated = readme::update_with(&text, |name| match (name, &map) {
            ("map", Some(m)) => Some(map_render::readme_block(m)),
            ("verify", _) => verify
                .as_deref()
                .and_then(|v| calibration::calibration_block(v).ok()),
            ("perf", _) => perf
                .as_deref()
                .and_then(|p| ufom_bench::harness::report::perf_block::perf_block(p).ok()),
            _ => reports
                .iter()
                .find(|r| r.experiment.name() == name)
                .map(readme::render_block),
        })
        .with_context(|| format!("updating {}", readme.display()))?;
        if a.check {
            if updated != text {
                bail!(
                    "{}: the generated blocks ({}) differ from the reports in {}; run `ufom report {} --readme {}`",
                    readme.display(),
                    readme::blocks_in(&text).join(", "),
                    a.dir.display(),
                    a.dir.display(),
                    readme.display()
                );
            }
            println!("{}: generated blocks match the reports", readme.display());
            return Ok(());
        }
        write_atomic(readme, updated.as_bytes())?;
        println!("wrote {}", readme.display());
    }
    if !reports.is_empty() {
        for f in write_all(&reports, &a.dir)? {
            println!("wrote {}", f.display());
        }
    }
    if let Some(m) = &map {
        for f in map_render::write_views(m, &a.dir)? {
            println!("wrote {}", f.display());
        }
    }
    Ok(())
}
