//! The runner: selects experiments, runs their (method, seed) cells with progress and resume,
//! aggregates, and hands the records to the reporters.

use super::env;
use super::experiments::{registry, Availability, Context, Experiment};
use super::record::{
    ExperimentReport, MethodReport, RunRecord, RunStatus, Scale, Stat, SCHEMA_VERSION,
};
use super::report::write_all;
use super::store::{read_json, CellStore};
use anyhow::{Context as _, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What `ufom bench` was asked to do.
pub struct BenchOptions {
    /// Experiments by name; empty = every experiment whose data is available.
    pub experiments: Vec<String>,
    /// Output directory.
    pub out: PathBuf,
    /// Skip finished cells found in `<out>/cells`.
    pub resume: bool,
    /// Scale, device, data.
    pub ctx: Context,
}

/// What happened.
pub struct BenchOutcome {
    /// Experiments run.
    pub ran: Vec<String>,
    /// Experiments skipped, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// An unknown experiment name (a usage error).
#[derive(Debug, thiserror::Error)]
#[error("unknown experiment `{name}`; available: {available}")]
pub struct UnknownExperiment {
    /// The name given.
    pub name: String,
    /// Registered names.
    pub available: String,
}

/// An output directory that already holds reports of another scale (a usage error: one
/// folder, one scale, so tables and dashboards never mix them).
#[derive(Debug, thiserror::Error)]
#[error(
    "{out} already holds {found}-scale reports ({file}); write {wanted}-scale reports to another \
     folder, e.g. --out {suggest}"
)]
pub struct MixedScales {
    /// The output directory.
    pub out: String,
    /// A report of the other scale found there.
    pub file: String,
    /// Its scale.
    pub found: &'static str,
    /// The scale asked for.
    pub wanted: &'static str,
    /// A folder to use instead.
    pub suggest: String,
}

/// Fails with [`MixedScales`] if `out` holds an experiment report of a scale other than `scale`.
fn check_one_scale(out: &std::path::Path, scale: Scale) -> Result<()> {
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

/// Runs the selected experiments and writes every report.
pub fn run(opts: &BenchOptions) -> Result<BenchOutcome> {
    check_one_scale(&opts.out, opts.ctx.scale)?;
    let all = registry();
    let names: Vec<&str> = all.iter().map(|e| e.name()).collect();
    for n in &opts.experiments {
        if !names.contains(&n.as_str()) {
            return Err(UnknownExperiment {
                name: n.clone(),
                available: names.join(", "),
            }
            .into());
        }
    }
    let explicit = !opts.experiments.is_empty();
    let mut outcome = BenchOutcome {
        ran: Vec::new(),
        skipped: Vec::new(),
        files: Vec::new(),
    };
    let mut reports = Vec::new();
    for exp in all
        .iter()
        .filter(|e| !explicit || opts.experiments.iter().any(|n| n == e.name()))
    {
        if let Availability::Missing(why) = exp.availability(&opts.ctx) {
            tracing::info!(experiment = exp.name(), "skipped: {why}");
            outcome.skipped.push((exp.name().to_string(), why));
            continue;
        }
        reports.push(run_experiment(exp.as_ref(), opts)?);
        outcome.ran.push(exp.name().to_string());
    }
    // Reports of this scale already in the output directory join the dashboard and tables.
    for name in names
        .iter()
        .filter(|n| !outcome.ran.iter().any(|r| r == *n))
    {
        let path = opts.out.join(format!("{name}.json"));
        if let Ok(old) = read_json::<ExperimentReport>(&path) {
            if old.schema_version == SCHEMA_VERSION && old.scale == opts.ctx.scale {
                reports.push(old);
            }
        }
    }
    if !reports.is_empty() {
        outcome.files = write_all(&reports, &opts.out)?;
    }
    Ok(outcome)
}

/// A short stable hash of the plan's settings: cells are only reused for the same settings.
fn config_key(config: &serde_json::Value) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in config.to_string().bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

fn scale_name(s: Scale) -> &'static str {
    match s {
        Scale::Smoke => "smoke",
        Scale::Default => "default",
        Scale::Paper => "paper",
    }
}

fn run_experiment(exp: &dyn Experiment, opts: &BenchOptions) -> Result<ExperimentReport> {
    let prepared = exp
        .prepare(&opts.ctx)
        .with_context(|| format!("preparing {}", exp.name()))?;
    let plan = prepared.plan().clone();
    let key = format!(
        "{}-{}",
        scale_name(opts.ctx.scale),
        &config_key(&plan.config)[..8]
    );
    let store = CellStore::new(&opts.out, exp.name(), &key);
    let cells = (plan.methods.len() * plan.seeds.len()) as u64;
    let bar = ProgressBar::with_draw_target(
        Some(cells * plan.budget.calls),
        ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {percent}% {msg} ({elapsed}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(exp.name().to_string());
    let mut methods = Vec::new();
    let mut done_calls = 0u64;
    for method in &plan.methods {
        let mut runs = Vec::new();
        for &seed in &plan.seeds {
            bar.set_message(format!("{method} seed {seed}"));
            let cached = if opts.resume {
                store.load(method, seed)
            } else {
                None
            };
            let record = match cached {
                Some(r) => {
                    tracing::info!(
                        experiment = exp.name(),
                        method,
                        seed,
                        "resumed finished cell"
                    );
                    r
                }
                None => {
                    let base = done_calls;
                    let mut progress = |c: u64| bar.set_position(base + c.min(plan.budget.calls));
                    let r = prepared
                        .run_cell(method, seed, &mut progress)
                        .with_context(|| format!("{} / {method} / seed {seed}", exp.name()))?;
                    store.save(&r)?;
                    r
                }
            };
            if record.status == RunStatus::Diverged {
                tracing::warn!(
                    experiment = exp.name(),
                    method,
                    seed,
                    "run diverged; recorded as such"
                );
            }
            done_calls += plan.budget.calls;
            bar.set_position(done_calls);
            runs.push(record);
        }
        methods.push(aggregate(method, runs));
    }
    bar.finish_and_clear();
    let findings = prepared.finish(&methods)?;
    Ok(ExperimentReport {
        schema_version: SCHEMA_VERSION,
        experiment: exp.name().to_string(),
        title: plan.title,
        scale: opts.ctx.scale,
        scale_note: plan.scale_note,
        config: plan.config,
        seeds: plan.seeds,
        budget: plan.budget,
        environment: env::capture(&opts.ctx.device, plan.dtype),
        methods,
        tables: findings.tables,
        figures: findings.figures,
        notes: findings.notes,
    })
}

/// Mean ± std of the final metrics over the finished runs of a method.
pub fn aggregate(method: &str, runs: Vec<RunRecord>) -> MethodReport {
    let finished: Vec<&RunRecord> = runs
        .iter()
        .filter(|r| r.status == RunStatus::Finished)
        .collect();
    let mut keys: Vec<&String> = finished
        .iter()
        .flat_map(|r| r.final_metrics.keys())
        .collect();
    keys.sort();
    keys.dedup();
    let summary: BTreeMap<String, Stat> = keys
        .into_iter()
        .filter_map(|k| {
            let v: Vec<f64> = finished
                .iter()
                .filter_map(|r| r.final_metrics.get(k).copied())
                .collect();
            Stat::of(&v).map(|s| (k.clone(), s))
        })
        .collect();
    let spc: Vec<f64> = runs.iter().map(|r| r.seconds_per_call).collect();
    MethodReport {
        method: method.to_string(),
        diverged: runs.len() - finished.len(),
        seconds_per_call: Stat::of(&spc).map_or(0.0, |s| s.mean),
        summary,
        runs,
    }
}
