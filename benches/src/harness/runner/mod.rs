//! The runner: selects experiments and methods, plans them (no data), prepares them all (loads
//! and checks data) before any training, runs their (method, seed) cells with progress and
//! resume, and writes each experiment's reports as soon as it finishes. A failing experiment
//! does not stop the others; failures are collected for the caller ([`outcome`]). What runs is
//! selected in [`select`]; what an output folder holds is read in [`folder`].

mod folder;
mod outcome;
mod select;
pub use folder::*;
pub use outcome::*;
pub use select::{plan, Planned};

use crate::harness::analysis::aggregate;
use crate::harness::env;
use crate::harness::executor::{execute_cell, CellOutcome, Mode};
use crate::harness::experiments::cell::{Interrupted, Progress};
use crate::harness::experiments::{registry, Context, Experiment, Prepared};
use crate::harness::record::{ExperimentReport, RunStatus, SCHEMA_VERSION};
use crate::harness::report::write_all;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

/// What `ufom bench` was asked to do.
pub struct BenchOptions {
    /// Experiments by name; empty = every experiment whose data is available.
    pub experiments: Vec<String>,
    /// Methods by label or base label (`fom`, `ufom_q0.1@20`); empty = every method.
    pub methods: Vec<String>,
    /// Seeds 0..n instead of the scale's default.
    pub seeds: Option<u64>,
    /// Output directory.
    pub out: PathBuf,
    /// Skip finished cells found in `<out>/cells`.
    pub resume: bool,
    /// Merge only: build reports from finished cells, run none; an experiment with missing
    /// cells fails with [`MissingCells`] (what `ufom report` does for a cluster plan).
    pub merge_only: bool,
    /// Scale, device, data.
    pub ctx: Context,
}

/// An experiment prepared to run: its plan, itself (for the analysis), its data and cells, and
/// the seconds preparing took.
type Ready<'a> = (Planned, &'a dyn Experiment, Box<dyn Prepared>, f64);

/// Runs the selected experiments and writes every report.
pub fn run(opts: &BenchOptions) -> Result<BenchOutcome> {
    check_one_scale(&opts.out, opts.ctx.scale)?;
    let planned = plan(opts)?;
    let all = registry();
    let mut outcome = BenchOutcome::default();
    // Prepare every experiment first: data problems surface before any training.
    let mut ready: Vec<Ready> = Vec::new();
    for p in planned {
        let row = |ending| SummaryRow {
            experiment: p.name.to_string(),
            ending,
            cells_run: 0,
            cells_resumed: 0,
            diverged: 0,
            seconds: 0.0,
        };
        if let Some(why) = &p.missing {
            tracing::info!(experiment = p.name, "skipped: {why}");
            outcome.summary.push(row(Ending::Skipped(why.clone())));
            continue;
        }
        if p.plan.methods.is_empty() {
            outcome.summary.push(row(Ending::Skipped(
                "no method selected by --methods".into(),
            )));
            continue;
        }
        let Some(exp) = all.iter().find(|e| e.name() == p.name) else {
            continue;
        };
        let t0 = Instant::now();
        match exp.prepare(&opts.ctx, &p.plan) {
            Ok(prepared) => ready.push((p, exp.as_ref(), prepared, t0.elapsed().as_secs_f64())),
            Err(e) => {
                let e = e.context(format!("preparing {}", p.name));
                tracing::error!("{e:#}");
                outcome.summary.push(row(Ending::Failed(format!("{e:#}"))));
            }
        }
    }
    for (p, exp, prepared, prep_s) in ready {
        if crate::harness::interrupt::requested() {
            break;
        }
        let t0 = Instant::now();
        let mut row = SummaryRow {
            experiment: p.name.to_string(),
            ending: Ending::Done,
            cells_run: 0,
            cells_resumed: 0,
            diverged: 0,
            seconds: 0.0,
        };
        match run_experiment(&p, exp, prepared.as_ref(), opts, &mut row) {
            Ok(report) => match write_reports(&report, &opts.out) {
                Ok(files) => outcome.files.extend(files),
                Err(e) => row.ending = Ending::Failed(format!("{e:#}")),
            },
            Err(e) if e.downcast_ref::<Interrupted>().is_some() => row.ending = Ending::Interrupted,
            Err(e) => {
                let e = e.context(p.name);
                tracing::error!("{e:#}");
                row.ending = Ending::Failed(format!("{e:#}"));
            }
        }
        row.seconds = prep_s + t0.elapsed().as_secs_f64();
        let stop = row.ending == Ending::Interrupted;
        outcome.summary.push(row);
        if stop {
            break;
        }
    }
    // Summary rows in registry order (skips and preparation failures were recorded first).
    let order = |name: &str| all.iter().position(|e| e.name() == name);
    outcome.summary.sort_by_key(|r| order(&r.experiment));
    Ok(outcome)
}

/// Writes `report` and re-renders the dashboard over it and the other reports of its scale
/// already in `out`.
fn write_reports(report: &ExperimentReport, out: &Path) -> Result<Vec<PathBuf>> {
    let mut reports = vec![report.clone()];
    for exp in registry() {
        if exp.name() == report.experiment {
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

fn run_experiment(
    p: &Planned,
    exp: &dyn Experiment,
    prepared: &dyn Prepared,
    opts: &BenchOptions,
    row: &mut SummaryRow,
) -> Result<ExperimentReport> {
    let plan = &p.plan;
    let store = cell_store(&opts.out, p.name, opts.ctx.scale, plan, prepared.data());
    let cells = p.cells() as u64;
    let bar = ProgressBar::with_draw_target(
        Some(cells * plan.budget.calls),
        ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {percent}% {msg} ({elapsed}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(p.name.to_string());
    let mode = if opts.merge_only {
        Mode::MergeOnly
    } else if opts.resume {
        Mode::Resume
    } else {
        Mode::Fresh
    };
    let mut methods = Vec::new();
    let mut done_calls = 0u64;
    let mut missing = Vec::new();
    let result = (|| -> Result<()> {
        for method in &plan.methods {
            let mut runs = Vec::new();
            for &seed in &plan.seeds {
                bar.set_message(format!("{} seed {seed}", method.label));
                let (b, base, budget) = (bar.clone(), done_calls, plan.budget.calls);
                let progress: Progress = Rc::new(move |c| b.set_position(base + c.min(budget)));
                let record = match execute_cell(prepared, &store, method, seed, mode, &progress)? {
                    CellOutcome::Resumed(r) => {
                        tracing::info!(experiment = p.name, method = %method.label, seed, "resumed finished cell");
                        row.cells_resumed += 1;
                        r
                    }
                    CellOutcome::Missing(failure) => {
                        let failure = failure
                            .map(|e| format!(": failed: {e}"))
                            .unwrap_or_default();
                        missing.push(format!("{} seed {seed}{failure}", method.label));
                        continue;
                    }
                    CellOutcome::Ran(r, seconds) => {
                        tracing::info!(experiment = p.name, method = %method.label, seed, seconds, "finished cell");
                        row.cells_run += 1;
                        r
                    }
                };
                if record.status == RunStatus::Diverged {
                    row.diverged += 1;
                    tracing::warn!(
                        experiment = p.name,
                        method = %method.label,
                        seed,
                        "run diverged; recorded as such"
                    );
                }
                done_calls += plan.budget.calls;
                bar.set_position(done_calls);
                runs.push(record);
            }
            methods.push(aggregate(method.clone(), runs));
        }
        Ok(())
    })();
    bar.finish_and_clear();
    result?;
    if !missing.is_empty() {
        return Err(MissingCells { cells: missing }.into());
    }
    let findings = exp.analyse(&opts.ctx, &methods)?;
    Ok(ExperimentReport {
        schema_version: SCHEMA_VERSION,
        experiment: p.name.to_string(),
        title: plan.title.clone(),
        scale: opts.ctx.scale,
        scale_note: plan.scale_note.clone(),
        config: plan.config.clone(),
        seeds: plan.seeds.clone(),
        budget: plan.budget.clone(),
        data: prepared.data().to_vec(),
        environment: env::capture(&opts.ctx.device, plan.dtype),
        methods,
        tables: findings.tables,
        figures: findings.figures,
        notes: findings.notes,
        claims: findings.claims,
    })
}
