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

use super::experiments::{registry, Context};
use super::methods::MethodSpec;
use super::record::Scale;
use super::runner::{self, cell_store, BenchOptions};
use super::store::{read_json, write_atomic, write_json, CellStore};
use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `DIR/plan.json`.
pub const PLAN_FILE: &str = "plan.json";
/// `DIR/cells.jsonl`.
pub const CELLS_FILE: &str = "cells.jsonl";
/// Version of the plan files' layout.
pub const PLAN_VERSION: u32 = 1;

/// The bench a plan stands for (what `ufom bench` was given, resolved).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    /// [`PLAN_VERSION`].
    pub version: u32,
    /// Scale.
    pub scale: Scale,
    /// Experiments planned (those whose data was available when planning).
    pub experiments: Vec<String>,
    /// `--methods` filters, as given.
    pub methods: Vec<String>,
    /// `--seeds`, as given.
    pub seeds: Option<u64>,
    /// `--data-dir`, absolute.
    pub data_dir: Option<PathBuf>,
    /// `cpu` or `cuda`.
    pub device: String,
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
    pub experiment: String,
    /// Method label.
    pub method: String,
    /// Digest of the method's full spec (checked when the cell runs).
    pub digest: String,
    /// Seed.
    pub seed: u64,
}

/// Writes `dir/plan.json` and `dir/cells.jsonl` for `opts` (experiments whose data is missing
/// are left out with a warning, or refused when named); returns the cells.
pub fn write_plan(opts: &BenchOptions, dir: &Path, device: &str) -> Result<Vec<CellLine>> {
    let planned = runner::plan(opts)?;
    let mut cells = Vec::new();
    let mut experiments = Vec::new();
    for p in &planned {
        if let Some(why) = &p.missing {
            if opts.experiments.iter().any(|e| e == p.name) {
                bail!("requested experiment {} cannot run: {why}", p.name);
            }
            tracing::warn!("not planned: {}: {why}", p.name);
            continue;
        }
        if p.plan.methods.is_empty() {
            continue;
        }
        experiments.push(p.name.to_string());
        for m in &p.plan.methods {
            for &seed in &p.plan.seeds {
                cells.push(CellLine {
                    index: cells.len(),
                    experiment: p.name.to_string(),
                    method: m.label.clone(),
                    digest: m.digest(),
                    seed,
                });
            }
        }
    }
    if cells.is_empty() {
        bail!("nothing to plan: no selected experiment can run here");
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let data_dir = match &opts.ctx.data_dir {
        Some(d) => {
            Some(std::fs::canonicalize(d).with_context(|| format!("--data-dir {}", d.display()))?)
        }
        None => None,
    };
    let plan = PlanFile {
        version: PLAN_VERSION,
        scale: opts.ctx.scale,
        experiments,
        methods: opts.methods.clone(),
        seeds: opts.seeds,
        data_dir,
        device: device.into(),
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

/// The bench options a plan stands for, writing into `dir`, on `device`.
pub fn options(plan: &PlanFile, dir: &Path, device: candle_core::Device) -> BenchOptions {
    BenchOptions {
        experiments: plan.experiments.clone(),
        methods: plan.methods.clone(),
        seeds: plan.seeds,
        out: dir.to_path_buf(),
        resume: true,
        merge_only: false,
        ctx: Context {
            scale: plan.scale,
            data_dir: plan.data_dir.clone(),
            device,
            backward_clip: plan.backward_clip,
        },
    }
}

/// Task `task`'s cells: C·task .. C·task + C − 1.
pub fn task_cells(cells: &[CellLine], task: usize, per_task: usize) -> &[CellLine] {
    let start = (task * per_task).min(cells.len());
    &cells[start..(start + per_task).min(cells.len())]
}

/// Number of tasks for `n` cells at `per_task` each.
pub fn task_count(n: usize, per_task: usize) -> usize {
    n.div_ceil(per_task.max(1))
}

fn failure_path(store: &CellStore, method: &MethodSpec, seed: u64) -> PathBuf {
    store.dir().join("failed").join(format!(
        "{}__{}__seed{seed}.txt",
        method.label,
        &method.digest()[..8]
    ))
}

/// The recorded error of a cell whose task failed, if any.
pub fn failure_of(store: &CellStore, method: &MethodSpec, seed: u64) -> Option<String> {
    std::fs::read_to_string(failure_path(store, method, seed))
        .ok()
        .map(|t| t.lines().next().unwrap_or_default().to_string())
}

/// What one task did.
#[derive(Debug, Default)]
pub struct TaskOutcome {
    /// Cells trained.
    pub ran: usize,
    /// Cells already finished (skipped).
    pub skipped: usize,
}

/// Runs task `task` of the plan in `dir` (cells C·task .. C·task + C − 1) on `device`: each
/// unfinished cell is trained and saved; finished ones are skipped. A failing cell records its
/// error and the task fails after trying the rest.
pub fn run_task(
    dir: &Path,
    task: usize,
    per_task: usize,
    device: candle_core::Device,
) -> Result<TaskOutcome> {
    let (plan, cells) = read_plan(dir)?;
    let mine = task_cells(&cells, task, per_task);
    if mine.is_empty() {
        bail!(
            "task {task} has no cells: the plan has {} cells, {} task(s) of {per_task}",
            cells.len(),
            task_count(cells.len(), per_task)
        );
    }
    let opts = options(&plan, dir, device);
    let planned = runner::plan(&opts)?;
    let mut outcome = TaskOutcome::default();
    let mut errors = Vec::new();
    let mut experiments: Vec<&str> = mine.iter().map(|c| c.experiment.as_str()).collect();
    experiments.dedup();
    for name in experiments {
        let p = planned
            .iter()
            .find(|p| p.name == name)
            .with_context(|| format!("experiment {name} of the plan is not in this build"))?;
        let exp = registry()
            .into_iter()
            .find(|e| e.name() == name)
            .with_context(|| format!("experiment {name}"))?;
        let prepared = exp
            .prepare(&opts.ctx, &p.plan)
            .with_context(|| format!("preparing {name}"))?;
        let store = cell_store(dir, name, plan.scale, &p.plan, prepared.data());
        for c in mine.iter().filter(|c| c.experiment == name) {
            let method = p
                .plan
                .methods
                .iter()
                .find(|m| m.label == c.method && m.digest() == c.digest)
                .with_context(|| {
                    format!(
                        "cell {}: method {} ({}) is not in this build's plan of {name}; plan again",
                        c.index, c.method, c.digest
                    )
                })?;
            if store.has(method, c.seed) {
                outcome.skipped += 1;
                continue;
            }
            let progress: super::experiments::cell::Progress = std::rc::Rc::new(|_| {});
            let failure = failure_path(&store, method, c.seed);
            match prepared.run_cell(method, c.seed, &progress) {
                Ok(record) => {
                    store.save(method, &record)?;
                    let _ = std::fs::remove_file(&failure);
                    outcome.ran += 1;
                    tracing::info!(cell = c.index, method = %c.method, seed = c.seed, "finished cell");
                }
                Err(e) => {
                    let text = format!("{e:#}");
                    if let Some(parent) = failure.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    write_atomic(&failure, text.as_bytes())?;
                    errors.push(format!(
                        "cell {} ({} seed {}): {text}",
                        c.index, c.method, c.seed
                    ));
                }
            }
        }
    }
    if !errors.is_empty() {
        bail!("{}", errors.join("; "));
    }
    Ok(outcome)
}

/// Whether cell `c` of the plan in `dir` is finished (its result is in the store).
fn finished_cells(dir: &Path, plan: &PlanFile, cells: &[CellLine]) -> Result<Vec<bool>> {
    let opts = options(plan, dir, candle_core::Device::Cpu);
    let planned = runner::plan(&opts)?;
    let mut done = vec![false; cells.len()];
    for p in &planned {
        let Some(exp) = registry().into_iter().find(|e| e.name() == p.name) else {
            continue;
        };
        if !cells.iter().any(|c| c.experiment == p.name) {
            continue;
        }
        // The store's key needs the data's checksums: preparing reads (not trains) the data.
        let prepared = exp.prepare(&opts.ctx, &p.plan)?;
        let store = cell_store(dir, p.name, plan.scale, &p.plan, prepared.data());
        for c in cells.iter().filter(|c| c.experiment == p.name) {
            done[c.index] = p
                .plan
                .methods
                .iter()
                .find(|m| m.label == c.method && m.digest() == c.digest)
                .is_some_and(|m| store.has(m, c.seed));
        }
    }
    Ok(done)
}

/// Settings of the job array.
#[derive(Clone, Debug, Default)]
pub struct SlurmOptions {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time` (e.g. `04:00:00`).
    pub time: Option<String>,
    /// `--gpus-per-task`.
    pub gpus_per_task: Option<u32>,
    /// `--cpus-per-task`.
    pub cpus_per_task: Option<u32>,
    /// At most this many tasks at once (`%K`).
    pub max_parallel: Option<u32>,
    /// Cells per task.
    pub cells_per_task: usize,
    /// The `ufom` the tasks run (absolute path, or a launcher such as the GPU bundle's).
    pub ufom: PathBuf,
}

/// `0-3,5,7-9`: the sorted indices as SLURM array ranges.
pub fn array_ranges(indices: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let start = indices[i];
        let mut end = start;
        while i + 1 < indices.len() && indices[i + 1] == end + 1 {
            i += 1;
            end = indices[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// The sbatch script of a job array over the tasks of the plan in `dir` that still have
/// unfinished cells (all of them the first time; only those left after a failure or a kill),
/// and those task indices. `None` when every cell is finished.
pub fn sbatch_script(dir: &Path, o: &SlurmOptions) -> Result<Option<(String, Vec<usize>)>> {
    let (plan, cells) = read_plan(dir)?;
    let done = finished_cells(dir, &plan, &cells)?;
    let per = o.cells_per_task.max(1);
    let pending: Vec<usize> = (0..task_count(cells.len(), per))
        .filter(|&t| task_cells(&cells, t, per).iter().any(|c| !done[c.index]))
        .collect();
    if pending.is_empty() {
        return Ok(None);
    }
    let dir = std::fs::canonicalize(dir)?;
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', "'\\''"));
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!(
        "#SBATCH --job-name=ufom-{}\n",
        runner::scale_name(plan.scale)
    ));
    let limit = o.max_parallel.map(|k| format!("%{k}")).unwrap_or_default();
    s.push_str(&format!(
        "#SBATCH --array={}{limit}\n",
        array_ranges(&pending)
    ));
    s.push_str("#SBATCH --ntasks=1\n");
    s.push_str(&format!(
        "#SBATCH --output={}/logs/%A_%a.out\n",
        dir.display()
    ));
    if let Some(p) = &o.partition {
        s.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    if let Some(t) = &o.time {
        s.push_str(&format!("#SBATCH --time={t}\n"));
    }
    if let Some(g) = o.gpus_per_task {
        s.push_str(&format!("#SBATCH --gpus-per-task={g}\n"));
    }
    if let Some(c) = o.cpus_per_task {
        s.push_str(&format!("#SBATCH --cpus-per-task={c}\n"));
    }
    s.push_str(&format!(
        "# {} cells in {} task(s) of {per}; finished cells are skipped, so resubmitting this \
         script (or regenerating it with `ufom slurm`) only runs what is left.\n",
        cells.len(),
        task_count(cells.len(), per)
    ));
    s.push_str("set -euo pipefail\n");
    s.push_str(&format!(
        "exec {} cell run --plan {} --cells-per-task {per}\n",
        quote(&o.ufom),
        quote(&dir)
    ));
    Ok(Some((s, pending)))
}

/// Writes `dir/array.sbatch` (and `dir/logs/`); see [`sbatch_script`].
pub fn write_sbatch(dir: &Path, o: &SlurmOptions) -> Result<Option<(PathBuf, Vec<usize>)>> {
    let Some((script, tasks)) = sbatch_script(dir, o)? else {
        return Ok(None);
    };
    std::fs::create_dir_all(dir.join("logs"))?;
    let path = dir.join("array.sbatch");
    write_atomic(&path, script.as_bytes())?;
    Ok(Some((path, tasks)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_ranges_compress_runs() {
        assert_eq!(array_ranges(&[0, 1, 2, 3]), "0-3");
        assert_eq!(array_ranges(&[0, 2, 3, 4, 7]), "0,2-4,7");
        assert_eq!(array_ranges(&[5]), "5");
        assert_eq!(task_count(7, 2), 4);
        let cells: Vec<CellLine> = (0..7)
            .map(|i| CellLine {
                index: i,
                experiment: "e".into(),
                method: "m".into(),
                digest: "d".into(),
                seed: i as u64,
            })
            .collect();
        assert_eq!(task_cells(&cells, 3, 2).len(), 1);
        assert!(task_cells(&cells, 4, 2).is_empty());
    }
}
