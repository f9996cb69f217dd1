//! The cells of one experiment through the executor, on the workers of `--jobs`
//! ([`crate::harness::jobs`]): every (method, seed) run, then the simulations, each obtained
//! (trained, resumed or found missing) by [`execute_cell`]/[`execute_simulation`] and handed
//! back in plan order. One progress bar counts the calls of every running cell.

use crate::harness::executor::{execute_cell, execute_simulation, CellOutcome, Mode};
use crate::harness::experiments::cell::{Interrupted, Progress};
use crate::harness::experiments::{Plan, Prepared};
use crate::harness::jobs::{map_ordered, Jobs};
use crate::harness::methods::MethodSpec;
use crate::harness::record::{RunRecord, SimulationRecord, SimulationSpec};
use crate::harness::store::CellStore;
use anyhow::Result;
use indicatif::ProgressBar;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One cell of a plan.
#[derive(Clone, Copy, Debug)]
pub enum Work<'p> {
    /// A (method, seed) training run.
    Run(&'p MethodSpec, u64),
    /// A simulation.
    Simulation(&'p SimulationSpec),
}

impl Work<'_> {
    /// "fom@20 seed 3", "simulation fig1f".
    pub fn describe(&self) -> String {
        match self {
            Work::Run(method, seed) => format!("{} seed {seed}", method.label),
            Work::Simulation(sim) => format!("simulation {}", sim.name),
        }
    }
}

/// A cell as the executor obtained it.
#[derive(Debug)]
pub enum Obtained {
    /// A training run.
    Run(CellOutcome<RunRecord>),
    /// A simulation.
    Simulation(CellOutcome<SimulationRecord>),
}

/// The plan's cells in report order: methods × seeds (method-major), then the simulations.
pub fn work_items(plan: &Plan) -> Vec<Work<'_>> {
    let runs = plan
        .methods
        .iter()
        .flat_map(|m| plan.seeds.iter().map(move |&s| Work::Run(m, s)));
    runs.chain(plan.simulations.iter().map(Work::Simulation))
        .collect()
}

/// A running cell's share of the bar: the calls it reported so far, at most its budget.
struct CellBar {
    bar: ProgressBar,
    budget: u64,
    shown: AtomicU64,
}

impl CellBar {
    /// Moves the bar by what the cell spent since the last report.
    fn report(&self, calls: u64) {
        let calls = calls.min(self.budget);
        let before = self.shown.fetch_max(calls, Ordering::Relaxed);
        if calls > before {
            self.bar.inc(calls - before);
        }
    }
}

/// How the cells of one experiment are obtained.
pub struct Obtain<'a> {
    /// The prepared data (`None` for a merge).
    pub prepared: Option<&'a dyn Prepared>,
    /// Their store.
    pub store: &'a CellStore,
    /// What the executor may do.
    pub mode: Mode,
    /// Calls per training cell (for the progress bar).
    pub budget: u64,
    /// Cells at once.
    pub jobs: Jobs,
    /// Whether an error stops further cells from starting (Ctrl-C always does).
    pub stop_on_error: bool,
}

impl Obtain<'_> {
    /// Obtains every cell of `items` on the workers of `jobs`, moving `bar` by each cell's
    /// calls. Results are in the order of `items`. After Ctrl-C — and after any error, with
    /// `stop_on_error` — no further cell starts (those are `None`), but cells already running
    /// finish and are saved.
    pub fn all(&self, items: &[Work], bar: &ProgressBar) -> Result<Vec<Option<Result<Obtained>>>> {
        let work = |i: usize| -> Result<Obtained> {
            if crate::harness::interrupt::requested() {
                return Err(Interrupted.into());
            }
            bar.set_message(items[i].describe());
            match items[i] {
                Work::Run(method, seed) => {
                    let cell = Arc::new(CellBar {
                        bar: bar.clone(),
                        budget: self.budget,
                        shown: AtomicU64::new(0),
                    });
                    let reporter = cell.clone();
                    let progress: Progress = Arc::new(move |c| reporter.report(c));
                    let outcome = execute_cell(
                        self.prepared,
                        self.store,
                        method,
                        seed,
                        self.mode,
                        &progress,
                    )?;
                    // Resumed or finished early: the cell's whole budget is done.
                    cell.report(self.budget);
                    Ok(Obtained::Run(outcome))
                }
                Work::Simulation(sim) => Ok(Obtained::Simulation(execute_simulation(
                    self.prepared,
                    self.store,
                    sim,
                    self.mode,
                )?)),
            }
        };
        let stop = |r: &Result<Obtained>| match r {
            Err(e) => self.stop_on_error || e.downcast_ref::<Interrupted>().is_some(),
            Ok(_) => false,
        };
        map_ordered(self.jobs, items.len(), work, stop)
    }
}
