//! The one executor of (method, seed) cells: `ufom bench` (the runner), `ufom cell run` (a
//! cluster task) and the merge of a plan folder (`ufom report DIR`) all obtain every cell
//! through [`execute_cell`], against the same [`CellStore`]. A finished cell of this build's
//! code is read back (one that is unreadable or was computed by other code is computed again,
//! and the caller told why), an unfinished one is trained and saved atomically, and a failure
//! is recorded beside the store until a later success clears it.

use super::experiments::cell::Progress;
use super::experiments::Prepared;
use super::methods::MethodSpec;
use super::record::{CodeIdentity, RunRecord, SimulationRecord, SimulationSpec};
use super::store::{write_atomic, CellId, CellRecord, CellStore, Stored};
use anyhow::{bail, Context as _, Result};
use std::time::Instant;

/// What the executor may do for a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Train it, even if a finished copy is stored (a fresh `ufom bench`).
    Fresh,
    /// Reuse a finished copy, train otherwise (`--resume`, cluster tasks).
    Resume,
    /// Reuse a finished copy, never train (merging a plan folder).
    MergeOnly,
}

/// How a cell was obtained.
#[derive(Debug)]
pub enum CellOutcome<T> {
    /// Read back from the store.
    Resumed(T),
    /// Computed now (and saved), in this many wall seconds; why a stored copy was not reused.
    Ran(T, f64, Option<Replaced>),
    /// Not finished and not computed ([`Mode::MergeOnly`]); a failed task's recorded error.
    Missing(Option<String>),
}

/// Why a stored copy of a cell was computed again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replaced {
    /// Its file did not parse.
    Unreadable,
    /// Other code computed it (its identity; `None` for a record older than identities).
    OtherCode(Option<CodeIdentity>),
}

/// Obtains the cell `id` as `mode` allows: from `store`, or computed by `compute` (`None`
/// where no data was prepared: a merge). Only cells of the store's code are reused when
/// computing is allowed; a merge takes any finished cell (the record names its code). An
/// error is recorded beside the store and returned.
pub fn execute<T: CellRecord>(
    store: &CellStore,
    id: CellId,
    mode: Mode,
    compute: Option<&dyn Fn() -> Result<T>>,
) -> Result<CellOutcome<T>> {
    let replaced = match (mode, store.lookup::<T>(id)) {
        (Mode::Fresh, _) | (_, Stored::Absent) => None,
        (_, Stored::Current(record)) => return Ok(CellOutcome::Resumed(record)),
        (Mode::MergeOnly, Stored::OtherCode(record)) => return Ok(CellOutcome::Resumed(record)),
        (_, Stored::OtherCode(record)) => Some(Replaced::OtherCode(record.code().cloned())),
        (_, Stored::Unreadable) => Some(Replaced::Unreadable),
    };
    if mode == Mode::MergeOnly {
        return Ok(CellOutcome::Missing(store.failure_of(id)));
    }
    let Some(compute) = compute else {
        bail!("{}: no data prepared to compute it", id.describe());
    };
    let failure = store.failure_path(id);
    let t0 = Instant::now();
    match compute() {
        Ok(mut record) => {
            store.save(id, &mut record)?;
            if failure.exists() {
                std::fs::remove_file(&failure)
                    .with_context(|| format!("removing {}", failure.display()))?;
            }
            Ok(CellOutcome::Ran(
                record,
                t0.elapsed().as_secs_f64(),
                replaced,
            ))
        }
        Err(e) => {
            let e = e.context(id.describe());
            // An interruption is not a failure of the cell.
            if e.downcast_ref::<super::experiments::cell::Interrupted>()
                .is_none()
            {
                write_atomic(&failure, format!("{e:#}").as_bytes())?;
            }
            Err(e)
        }
    }
}

/// [`execute`] for the (`method`, `seed`) run of `prepared`; `progress` receives the calls
/// spent while training.
pub fn execute_cell(
    prepared: Option<&dyn Prepared>,
    store: &CellStore,
    method: &MethodSpec,
    seed: u64,
    mode: Mode,
    progress: &Progress,
) -> Result<CellOutcome<RunRecord>> {
    let compute = prepared.map(|p| move || p.run_cell(method, seed, progress));
    execute(
        store,
        CellId::Run(method, seed),
        mode,
        compute
            .as_ref()
            .map(|c| c as &dyn Fn() -> Result<RunRecord>),
    )
}

/// [`execute`] for the simulation `sim` of `prepared`.
pub fn execute_simulation(
    prepared: Option<&dyn Prepared>,
    store: &CellStore,
    sim: &SimulationSpec,
    mode: Mode,
) -> Result<CellOutcome<SimulationRecord>> {
    let compute = prepared.map(|p| {
        move || {
            let t0 = Instant::now();
            let values = p.run_simulation(sim)?;
            Ok(SimulationRecord {
                spec: sim.clone(),
                values,
                wall_s: t0.elapsed().as_secs_f64(),
                code: None,
            })
        }
    });
    execute(
        store,
        CellId::Simulation(sim),
        mode,
        compute
            .as_ref()
            .map(|c| c as &dyn Fn() -> Result<SimulationRecord>),
    )
}
