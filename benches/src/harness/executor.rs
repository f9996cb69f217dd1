//! The one executor of (method, seed) cells: `ufom bench` (the runner), `ufom cell run` (a
//! cluster task) and the merge of a plan folder (`ufom report DIR`) all obtain every cell
//! through [`execute_cell`], against the same [`CellStore`]. A finished cell is read back (an
//! unreadable one is reported and computed again), an unfinished one is trained and saved
//! atomically, and a failure is recorded beside the store until a later success clears it.

use super::experiments::cell::Progress;
use super::experiments::Prepared;
use super::methods::MethodSpec;
use super::record::RunRecord;
use super::store::{write_atomic, CellStore};
use anyhow::{Context as _, Result};
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
pub enum CellOutcome {
    /// Read back from the store.
    Resumed(RunRecord),
    /// Trained now (and saved), in this many wall seconds.
    Ran(RunRecord, f64),
    /// Not finished and not trained ([`Mode::MergeOnly`]); a failed task's recorded error.
    Missing(Option<String>),
}

/// Obtains the cell (`method`, `seed`) of `prepared` as `mode` allows; `progress` receives the
/// calls spent while training. A training error is recorded beside the store and returned.
pub fn execute_cell(
    prepared: &dyn Prepared,
    store: &CellStore,
    method: &MethodSpec,
    seed: u64,
    mode: Mode,
    progress: &Progress,
) -> Result<CellOutcome> {
    if mode != Mode::Fresh {
        if let Some(record) = store.load(method, seed) {
            return Ok(CellOutcome::Resumed(record));
        }
    }
    if mode == Mode::MergeOnly {
        return Ok(CellOutcome::Missing(store.failure_of(method, seed)));
    }
    let failure = store.failure_path(method, seed);
    let t0 = Instant::now();
    match prepared.run_cell(method, seed, progress) {
        Ok(record) => {
            store.save(method, &record)?;
            if failure.exists() {
                std::fs::remove_file(&failure)
                    .with_context(|| format!("removing {}", failure.display()))?;
            }
            Ok(CellOutcome::Ran(record, t0.elapsed().as_secs_f64()))
        }
        Err(e) => {
            let e = e.context(format!("{} / seed {seed}", method.label));
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
