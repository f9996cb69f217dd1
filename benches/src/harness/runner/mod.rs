//! The runner: selects experiments and methods, plans them (no data), prepares them all (loads
//! and checks data) before any training, runs their (method, seed) cells with progress and
//! resume, and writes each experiment's reports as soon as it finishes. A failing experiment
//! does not stop the others; failures are collected for the caller ([`outcome`]). What runs is
//! selected in [`select`]; what an output folder holds is read in [`folder`].

pub(crate) mod cells;
mod folder;
mod outcome;
mod select;
pub use folder::*;
pub use outcome::*;
pub use select::{plan, Planned};

use crate::harness::analysis::aggregate;
use crate::harness::env;
use crate::harness::executor::Mode;
use crate::harness::experiments::cell::Interrupted;
use crate::harness::experiments::{registry, Context, Experiment, Prepared};
use crate::harness::jobs::Jobs;
use crate::harness::record::{CodeIdentity, ExperimentId};
use crate::harness::record::{ExperimentReport, RunStatus, SCHEMA_VERSION};
use crate::harness::store::CellStore;
use anyhow::Result;
use cells::{Obtained, Work};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::PathBuf;
use std::time::Instant;

/// What `ufom bench` was asked to do.
pub struct BenchOptions {
    /// Experiments; empty = every experiment whose data is available.
    pub experiments: Vec<ExperimentId>,
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
    /// The code whose finished cells `--resume` reuses and whose identity new cells record
    /// ([`CodeIdentity::of_build`]; tests pass another to play a changed build).
    pub code: CodeIdentity,
    /// How many cells run at once, on how many threads ([`Jobs`]).
    pub jobs: Jobs,
}

/// An experiment ready to run: its plan, itself (for the analysis), its prepared data (none
/// for a merge, which reads finished cells only), its cell store, and the seconds preparing
/// took.
struct Ready<'a> {
    planned: Planned,
    exp: &'a dyn Experiment,
    prepared: Option<Box<dyn Prepared>>,
    store: Option<CellStore>,
    prep_s: f64,
}

/// Gets `p` ready: a merge finds its cell store by the store's manifest (no data read, so a
/// plan folder merges where the data is absent); a run prepares the data and keys the store
/// by its checksums.
fn get_ready<'a>(p: Planned, exp: &'a dyn Experiment, opts: &BenchOptions) -> Result<Ready<'a>> {
    let t0 = Instant::now();
    let (prepared, store) = if opts.merge_only {
        let store = CellStore::find(&opts.out, p.id, opts.ctx.scale, &p.plan.config, &opts.code)?;
        (None, store)
    } else {
        let (prepared, store) = prepare_with_store(exp, &p, opts)?;
        (Some(prepared), Some(store))
    };
    Ok(Ready {
        planned: p,
        exp,
        prepared,
        store,
        prep_s: t0.elapsed().as_secs_f64(),
    })
}

/// Runs the selected experiments and writes every report.
pub fn run(opts: &BenchOptions) -> Result<BenchOutcome> {
    check_one_scale(&opts.out, opts.ctx.scale)?;
    let planned = plan(opts)?;
    let all = registry();
    let mut outcome = BenchOutcome::default();
    // Prepare every experiment first: data problems surface before any training.
    let mut ready: Vec<Ready> = Vec::new();
    for p in planned {
        match &p.missing {
            // A merge needs no data: only the cells.
            Some(why) if !opts.merge_only => {
                tracing::info!(experiment = p.name, "skipped: {why}");
                outcome
                    .summary
                    .push(summary_row(p.name, Ending::Skipped(why.clone())));
                continue;
            }
            _ => {}
        }
        if p.plan.methods.is_empty() {
            outcome.summary.push(summary_row(
                p.name,
                Ending::Skipped("no method selected by --methods".into()),
            ));
            continue;
        }
        let Some(exp) = all.iter().find(|e| e.name() == p.name) else {
            continue;
        };
        let name = p.name;
        match get_ready(p, exp.as_ref(), opts) {
            Ok(r) => ready.push(r),
            Err(e) => {
                let e = e.context(format!("preparing {name}"));
                tracing::error!("{e:#}");
                outcome
                    .summary
                    .push(summary_row(name, Ending::Failed(format!("{e:#}"))));
            }
        }
    }
    for r in ready {
        if crate::harness::interrupt::requested() {
            break;
        }
        let t0 = Instant::now();
        let mut row = summary_row(r.planned.name, Ending::Done);
        match run_experiment(&r, opts, &mut row) {
            Ok(report) => match write_reports(&report, &opts.out) {
                Ok(files) => outcome.files.extend(files),
                Err(e) => row.ending = Ending::Failed(format!("{e:#}")),
            },
            Err(e) if e.downcast_ref::<Interrupted>().is_some() => row.ending = Ending::Interrupted,
            Err(e) => {
                let e = e.context(r.planned.name);
                tracing::error!("{e:#}");
                row.ending = Ending::Failed(format!("{e:#}"));
            }
        }
        row.seconds = r.prep_s + t0.elapsed().as_secs_f64();
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

fn run_experiment(
    ready: &Ready,
    opts: &BenchOptions,
    row: &mut SummaryRow,
) -> Result<ExperimentReport> {
    let p = &ready.planned;
    let plan = &p.plan;
    let prepared = ready.prepared.as_deref();
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
    let items = cells::work_items(plan);
    let obtained = match &ready.store {
        Some(store) => cells::Obtain {
            prepared,
            store,
            mode,
            budget: plan.budget.calls,
            jobs: opts.jobs,
            stop_on_error: true,
        }
        .all(&items, &bar),
        // A merge that found no store: no cell of these settings was saved.
        None => Ok(items.iter().map(|_| None).collect()),
    };
    bar.finish_and_clear();
    let obtained = obtained?;
    let (mut methods, mut simulations, mut missing) = (Vec::new(), Vec::new(), Vec::new());
    let mut runs = Vec::new();
    for (i, (item, got)) in items.iter().zip(obtained).enumerate() {
        let what = item.describe();
        let (Some(store), Some(got)) = (&ready.store, got) else {
            missing.push(what);
            continue;
        };
        match (got?, item) {
            (Obtained::Run(outcome), Work::Run(method, seed)) => {
                if let Some(record) = tally(outcome, &what, p.name, store, row, &mut missing) {
                    if record.status == RunStatus::Diverged {
                        row.diverged += 1;
                        tracing::warn!(
                            experiment = p.name,
                            method = %method.label,
                            seed,
                            "run diverged; recorded as such"
                        );
                    }
                    runs.push(record);
                }
                // The method's last seed: its report.
                if !matches!(items.get(i + 1), Some(Work::Run(m, _)) if m.label == method.label) {
                    methods.push(aggregate((*method).clone(), std::mem::take(&mut runs)));
                }
            }
            (Obtained::Simulation(outcome), _) => {
                if let Some(record) = tally(outcome, &what, p.name, store, row, &mut missing) {
                    simulations.push(record);
                }
            }
            (Obtained::Run(_), Work::Simulation(_)) => {
                anyhow::bail!("{what}: the executor returned a training run")
            }
        }
    }
    if !missing.is_empty() {
        return Err(MissingCells { cells: missing }.into());
    }
    let findings = ready.exp.analyse(&opts.ctx, &methods, &simulations)?;
    Ok(ExperimentReport {
        schema_version: SCHEMA_VERSION,
        experiment: ready.exp.id(),
        title: plan.title.clone(),
        scale: opts.ctx.scale,
        scale_note: plan.scale_note.clone(),
        config: plan.config.clone(),
        seeds: plan.seeds.clone(),
        budget: plan.budget.clone(),
        data: match (prepared, &ready.store) {
            (Some(prepared), _) => prepared.data().to_vec(),
            (None, Some(store)) => store.manifest().data.clone(),
            (None, None) => Vec::new(),
        },
        environment: env::capture(&opts.ctx.device, plan.dtype),
        methods,
        tables: findings.tables,
        figures: findings.figures,
        notes: findings.notes,
        claims: findings.claims,
        simulations,
        analysed_by: Some(opts.code.clone()),
    })
}
