//! The one executor of (method, seed) cells: `ufom bench` (the runner), `ufom cell run` (a
//! cluster task) and the merge of a plan folder (`ufom report DIR`) all obtain every cell
//! through [`execute_cell`], against the same [`CellStore`]. A finished cell of this build's
//! code is read back (one that is unreadable or was computed by other code is computed again,
//! and the caller told why), an unfinished one is trained and saved atomically, and a failure
//! is recorded beside the store until a later success clears it.

use super::experiments::cell::Progress;
use super::experiments::Prepared;
use super::methods::MethodSpec;
use super::record::CodeIdentity;
use super::record::RunRecord;
use super::store::{write_atomic, CellStore, Stored};
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
pub enum CellOutcome {
    /// Read back from the store.
    Resumed(RunRecord),
    /// Trained now (and saved), in this many wall seconds; why a stored copy was not reused.
    Ran(RunRecord, f64, Option<Replaced>),
    /// Not finished and not trained ([`Mode::MergeOnly`]); a failed task's recorded error.
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

/// Obtains the cell (`method`, `seed`) as `mode` allows: from `store`, or trained by
/// `prepared` (`None` where no data was prepared: a merge); `progress` receives the calls
/// spent while training. Only cells of the store's code are reused for training modes; a
/// merge takes any finished cell (the record names its code). A training error is recorded
/// beside the store and returned.
pub fn execute_cell(
    prepared: Option<&dyn Prepared>,
    store: &CellStore,
    method: &MethodSpec,
    seed: u64,
    mode: Mode,
    progress: &Progress,
) -> Result<CellOutcome> {
    let replaced = match (mode, store.lookup(method, seed)) {
        (Mode::Fresh, _) | (_, Stored::Absent) => None,
        (_, Stored::Current(record)) => return Ok(CellOutcome::Resumed(record)),
        (Mode::MergeOnly, Stored::OtherCode(record)) => return Ok(CellOutcome::Resumed(record)),
        (_, Stored::OtherCode(record)) => Some(Replaced::OtherCode(record.code)),
        (_, Stored::Unreadable) => Some(Replaced::Unreadable),
    };
    if mode == Mode::MergeOnly {
        return Ok(CellOutcome::Missing(store.failure_of(method, seed)));
    }
    let Some(prepared) = prepared else {
        bail!(
            "{} / seed {seed}: no data prepared to train it",
            method.label
        );
    };
    let failure = store.failure_path(method, seed);
    let t0 = Instant::now();
    match prepared.run_cell(method, seed, progress) {
        Ok(mut record) => {
            store.save(method, &mut record)?;
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
