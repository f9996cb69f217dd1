//! One task of a plan: its cells through the executor, and which cells are finished.

use super::{options, read_plan, task_cells, task_count, CellLine, PlanFile};
use crate::harness::executor::{CellOutcome, Mode, Replaced};
use crate::harness::experiments::cell::Interrupted;
use crate::harness::experiments::registry;
use crate::harness::jobs::Jobs;
use crate::harness::record::{CodeIdentity, ExperimentId};
use crate::harness::runner;
use crate::harness::runner::cells::{Obtain, Obtained, Work};
use crate::harness::store::{CellId, CellStore};
use anyhow::{bail, Context as _, Result};
use std::path::Path;
use ufom_datasets::DataConfig;

/// What one task did.
#[derive(Debug, Default)]
pub struct TaskOutcome {
    /// Cells trained.
    pub ran: usize,
    /// Cells already finished (skipped).
    pub skipped: usize,
    /// Cells trained although a copy was stored (other code, or unreadable).
    pub recomputed: usize,
}

/// Runs task `task` of the plan in `dir` (cells C·task .. C·task + C − 1) on `device`, with
/// the data sets located by [`options`]: each unfinished cell is trained and saved; finished
/// ones are skipped; `jobs` cells run at once. A failing cell records its error and the task
/// fails after trying the rest.
pub fn run_task(
    dir: &Path,
    task: usize,
    per_task: usize,
    device: candle_core::Device,
    data: &DataConfig,
    code: &CodeIdentity,
    jobs: Jobs,
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
    let opts = options(&plan, dir, device, data, code);
    let planned = runner::plan(&opts)?;
    let mut outcome = TaskOutcome::default();
    let mut errors = Vec::new();
    let mut experiments: Vec<ExperimentId> = mine.iter().map(|c| c.experiment).collect();
    experiments.dedup();
    for name in experiments {
        let p = planned
            .iter()
            .find(|p| p.id == name)
            .with_context(|| format!("experiment {name} of the plan is not in this build"))?;
        let exp = registry()
            .into_iter()
            .find(|e| e.id() == name)
            .with_context(|| format!("experiment {name}"))?;
        // `opts` writes into `dir` with `code`: the store a local run of the plan would use.
        let (prepared, store) = runner::prepare_with_store(exp.as_ref(), p, &opts)
            .with_context(|| format!("preparing {name}"))?;
        let lines: Vec<&CellLine> = mine.iter().filter(|c| c.experiment == name).collect();
        let items = lines
            .iter()
            .map(|c| {
                Ok(match c.resolve(&p.plan)? {
                    CellId::Run(method, seed) => Work::Run(method, seed),
                    CellId::Simulation(sim) => Work::Simulation(sim),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let obtain = Obtain {
            prepared: Some(prepared.as_ref()),
            store: &store,
            mode: Mode::Resume,
            budget: p.plan.budget.calls,
            jobs,
            // A failing cell records its error; the task tries the rest.
            stop_on_error: false,
        };
        let obtained = obtain.all(&items, &indicatif::ProgressBar::hidden())?;
        for (c, got) in lines.iter().zip(obtained) {
            let replaced = match got {
                // Not started: Ctrl-C stopped the task (its error is at an earlier cell).
                None => continue,
                Some(got) => got.map(|got| match got {
                    Obtained::Run(o) => ran(o),
                    Obtained::Simulation(o) => ran(o),
                }),
            };
            match replaced {
                Ok(Some(replaced)) => {
                    outcome.ran += 1;
                    tracing::info!(cell = c.index, method = %c.method, seed = c.seed, "finished cell");
                    if let Some(why) = replaced {
                        outcome.recomputed += 1;
                        tracing::warn!(
                            cell = c.index,
                            "recomputed a stored cell: {}",
                            runner::replaced_reason(&why, code)
                        );
                    }
                }
                Ok(None) => outcome.skipped += 1,
                Err(e) if e.downcast_ref::<Interrupted>().is_some() => return Err(e),
                Err(e) => errors.push(format!("cell {}: {e:#}", c.index)),
            }
        }
    }
    if !errors.is_empty() {
        bail!("{}", errors.join("; "));
    }
    Ok(outcome)
}

/// Whether cell `c` of the plan in `dir` is finished: its result, computed by `code`, is in the
/// store (found by the store's manifest: no data is read).
pub(super) fn finished_cells(
    dir: &Path,
    plan: &PlanFile,
    cells: &[CellLine],
    data: &DataConfig,
    code: &CodeIdentity,
) -> Result<Vec<bool>> {
    let opts = options(plan, dir, candle_core::Device::Cpu, data, code);
    let planned = runner::plan(&opts)?;
    let mut done = vec![false; cells.len()];
    for p in &planned {
        if !cells.iter().any(|c| c.experiment == p.id) {
            continue;
        }
        let Some(store) = CellStore::find(dir, p.id, plan.scale, &p.plan.config, code)? else {
            continue;
        };
        for c in cells.iter().filter(|c| c.experiment == p.id) {
            done[c.index] = c.resolve(&p.plan).is_ok_and(|id| store.is_current(id));
        }
    }
    Ok(done)
}

/// `Some(why a stored copy was replaced)` for a computed cell, `None` for one already finished.
fn ran<T>(outcome: CellOutcome<T>) -> Option<Option<Replaced>> {
    match outcome {
        CellOutcome::Ran(_, _, replaced) => Some(replaced),
        _ => None,
    }
}
