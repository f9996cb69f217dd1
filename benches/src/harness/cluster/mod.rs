//! Scale-out: a bench as a plan of independent cells that any number of machines run, merged
//! afterwards into the reports a local run writes.
//!
//! `ufom bench … --plan DIR` → [`write_plan`]: `DIR/plan.json` (the bench's options) and
//! `DIR/cells.jsonl` (one cell per line: index, experiment, method, digest, seed). Task i of
//! `ufom cell run --plan DIR` → [`run_task`]: cells C·i .. C·i + C − 1 into the shared cell store
//! `DIR/cells/` (the same store and keys as `ufom bench --out DIR`), skipping finished ones; a
//! failure is recorded beside the store and cleared by a later success. `ufom report DIR` merges
//! (the runner in merge-only mode) and lists the cells still missing. `ufom slurm DIR` →
//! [`sbatch_script`]: a job array over the tasks that still have unfinished cells.
//!
//! This file: the plan files; [`task`] runs a task's cells, [`slurm`] writes the job array.

mod slurm;
mod task;
pub use slurm::*;
pub use task::*;

use crate::harness::env::DeviceKind;
use crate::harness::experiments::Context;
use crate::harness::jobs::Jobs;
use crate::harness::record::Scale;
use crate::harness::record::{CodeIdentity, ExperimentId};
use crate::harness::runner::{self, BenchOptions};
use crate::harness::store::{read_json, write_atomic, write_json, CellId};
use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use ufom_datasets::DataConfig;

/// `DIR/plan.json`.
pub const PLAN_FILE: &str = "plan.json";
/// `DIR/cells.jsonl`.
pub const CELLS_FILE: &str = "cells.jsonl";
/// Version of the plan files' layout (2: simulation cells).
pub const PLAN_VERSION: u32 = 2;
/// How `cells.jsonl` names a simulation cell: `simulation:NAME`.
pub const SIMULATION_PREFIX: &str = "simulation:";

impl CellLine {
    /// The cell this line names in `plan` (the experiment's plan in this build), or an error
    /// when this build's plan has no such method or simulation (then: plan again).
    pub fn resolve<'a>(&self, plan: &'a crate::harness::experiments::Plan) -> Result<CellId<'a>> {
        let found = match self.method.strip_prefix(SIMULATION_PREFIX) {
            Some(name) => plan
                .simulations
                .iter()
                .find(|s| s.name == name && s.digest() == self.digest && s.seed == self.seed)
                .map(CellId::Simulation),
            None => plan
                .methods
                .iter()
                .find(|m| m.label == self.method && m.digest() == self.digest)
                .map(|m| CellId::Run(m, self.seed)),
        };
        found.with_context(|| {
            format!(
                "cell {}: {} ({}) is not in this build's plan of {}; plan again",
                self.index, self.method, self.digest, self.experiment
            )
        })
    }
}

/// The bench a plan stands for (what `ufom bench` was given, resolved).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    /// [`PLAN_VERSION`].
    pub version: u32,
    /// Scale.
    pub scale: Scale,
    /// Experiments planned (those whose data was available when planning).
    pub experiments: Vec<ExperimentId>,
    /// `--methods` filters, as given.
    pub methods: Vec<String>,
    /// `--seeds`, as given.
    pub seeds: Option<u64>,
    /// `--data-dir` (else the planning shell's `UFOM_DATA_DIR`), absolute.
    pub data_dir: Option<PathBuf>,
    /// Where the cells train unless `ufom cell run --device` says otherwise.
    pub device: DeviceKind,
    /// `--backward-clip`.
    pub backward_clip: Option<f64>,
    /// Number of cells (lines of `cells.jsonl`).
    pub cells: usize,
}

/// One line of `cells.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellLine {
    /// Position in the plan (0-based).
    pub index: usize,
    /// Experiment.
    pub experiment: ExperimentId,
    /// Method label, or `simulation:NAME` for one of the experiment's simulations.
    pub method: String,
    /// Digest of the method's (or simulation's) full spec (checked when the cell runs).
    pub digest: String,
    /// Seed.
    pub seed: u64,
}

/// Writes `dir/plan.json` and `dir/cells.jsonl` for `opts` (experiments whose data is missing
/// are left out with a warning, or refused when named); returns the cells.
pub fn write_plan(opts: &BenchOptions, dir: &Path, device: DeviceKind) -> Result<Vec<CellLine>> {
    let planned = runner::plan(opts)?;
    let mut cells = Vec::new();
    let mut experiments = Vec::new();
    for p in &planned {
        if let Some(why) = &p.missing {
            if opts.experiments.contains(&p.id) {
                bail!("requested experiment {} cannot run: {why}", p.name);
            }
            tracing::warn!("not planned: {}: {why}", p.name);
            continue;
        }
        if p.plan.methods.is_empty() {
            continue;
        }
        experiments.push(p.id);
        for m in &p.plan.methods {
            for &seed in &p.plan.seeds {
                cells.push(CellLine {
                    index: cells.len(),
                    experiment: p.id,
                    method: m.label.clone(),
                    digest: m.digest(),
                    seed,
                });
            }
        }
        for sim in &p.plan.simulations {
            cells.push(CellLine {
                index: cells.len(),
                experiment: p.id,
                method: format!("{SIMULATION_PREFIX}{}", sim.name),
                digest: sim.digest(),
                seed: sim.seed,
            });
        }
    }
    if cells.is_empty() {
        bail!("nothing to plan: no selected experiment can run here");
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // Where the data was found when planning (`--data-dir`, else `UFOM_DATA_DIR`), so the
    // tasks find it in a fresh shell.
    let data = &opts.ctx.data;
    let data_dir = match data.data_dir.as_ref().or(data.env_data_dir.as_ref()) {
        Some(d) => Some(
            std::fs::canonicalize(d).with_context(|| format!("data directory {}", d.display()))?,
        ),
        None => None,
    };
    let plan = PlanFile {
        version: PLAN_VERSION,
        scale: opts.ctx.scale,
        experiments,
        methods: opts.methods.clone(),
        seeds: opts.seeds,
        data_dir,
        device,
        backward_clip: opts.ctx.backward_clip,
        cells: cells.len(),
    };
    let mut lines = String::new();
    for c in &cells {
        lines.push_str(&serde_json::to_string(c)?);
        lines.push('\n');
    }
    write_atomic(&dir.join(CELLS_FILE), lines.as_bytes())?;
    write_json(&dir.join(PLAN_FILE), &plan)?;
    Ok(cells)
}

/// The plan and its cells in `dir`.
pub fn read_plan(dir: &Path) -> Result<(PlanFile, Vec<CellLine>)> {
    let plan: PlanFile = read_json(&dir.join(PLAN_FILE))
        .with_context(|| format!("{} is not a plan folder (ufom bench --plan)", dir.display()))?;
    if plan.version != PLAN_VERSION {
        bail!(
            "{}: plan version {} is not this build's {PLAN_VERSION}; plan again",
            dir.display(),
            plan.version
        );
    }
    let text = std::fs::read_to_string(dir.join(CELLS_FILE))
        .with_context(|| format!("reading {}", dir.join(CELLS_FILE).display()))?;
    let cells: Vec<CellLine> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).with_context(|| format!("{CELLS_FILE} line {}", i + 1))
        })
        .collect::<Result<_>>()?;
    if cells.len() != plan.cells {
        bail!(
            "{}: {CELLS_FILE} has {} cells, plan.json says {}",
            dir.display(),
            cells.len(),
            plan.cells
        );
    }
    Ok((plan, cells))
}

/// The bench options a plan stands for, writing into `dir`, on `device`, reusing cells of
/// `code`; the data sets are
/// looked for in the plan's `--data-dir`, then in the other places `data` names (the
/// environment of the process that runs the cells, not of the one that planned them).
pub fn options(
    plan: &PlanFile,
    dir: &Path,
    device: candle_core::Device,
    data: &DataConfig,
    code: &CodeIdentity,
) -> BenchOptions {
    BenchOptions {
        experiments: plan.experiments.clone(),
        methods: plan.methods.clone(),
        seeds: plan.seeds,
        out: dir.to_path_buf(),
        resume: true,
        merge_only: false,
        ctx: Context {
            scale: plan.scale,
            data: DataConfig {
                data_dir: plan.data_dir.clone(),
                ..data.clone()
            },
            device,
            backward_clip: plan.backward_clip,
        },
        code: code.clone(),
        // A task's own share of the machine is set by `ufom cell run --jobs`.
        jobs: Jobs::serial(1),
    }
}

/// Task `task`'s cells: C·task .. C·task + C − 1.
pub fn task_cells(cells: &[CellLine], task: usize, per_task: usize) -> &[CellLine] {
    let start = task.saturating_mul(per_task).min(cells.len());
    &cells[start..start.saturating_add(per_task).min(cells.len())]
}

/// Number of tasks for `n` cells at `per_task` each.
pub fn task_count(n: usize, per_task: usize) -> usize {
    n.div_ceil(per_task.max(1))
}
