//! How a bench ended: one summary row per experiment, and the usage errors the runner names.

use crate::harness::executor::{CellOutcome, Replaced};
use crate::harness::record::CodeIdentity;
use crate::harness::store::CellStore;
use std::path::PathBuf;

/// How one experiment ended in this run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Reports written.
    Done,
    /// Not run; the reason.
    Skipped(String),
    /// Failed; the error (its finished cells are saved).
    Failed(String),
    /// Stopped by Ctrl-C (its finished cells are saved).
    Interrupted,
}

/// One row of the end-of-run summary.
#[derive(Clone, Debug)]
pub struct SummaryRow {
    /// Experiment.
    pub experiment: String,
    /// How it ended.
    pub ending: Ending,
    /// Cells trained in this run.
    pub cells_run: usize,
    /// Cells taken from `--resume`.
    pub cells_resumed: usize,
    /// Cells run again although a copy was stored: computed by other code, or unreadable
    /// (counted in `cells_run` too).
    pub cells_recomputed: usize,
    /// Cells that diverged.
    pub diverged: usize,
    /// Wall seconds spent on it in this run.
    pub seconds: f64,
}

/// A row of `experiment` ending so, with nothing counted yet.
pub(super) fn summary_row(experiment: &str, ending: Ending) -> SummaryRow {
    SummaryRow {
        experiment: experiment.to_string(),
        ending,
        cells_run: 0,
        cells_resumed: 0,
        cells_recomputed: 0,
        diverged: 0,
        seconds: 0.0,
    }
}

/// What happened.
#[derive(Default)]
pub struct BenchOutcome {
    /// One row per selected experiment.
    pub summary: Vec<SummaryRow>,
    /// Files written.
    pub files: Vec<PathBuf>,
}

impl BenchOutcome {
    /// Whether Ctrl-C stopped the run.
    pub fn interrupted(&self) -> bool {
        self.summary.iter().any(|r| r.ending == Ending::Interrupted)
    }

    /// Experiments that failed, with the error.
    pub fn failed(&self) -> Vec<(&str, &str)> {
        self.summary
            .iter()
            .filter_map(|r| match &r.ending {
                Ending::Failed(e) => Some((r.experiment.as_str(), e.as_str())),
                _ => None,
            })
            .collect()
    }

    /// Experiments skipped, with the reason.
    pub fn skipped(&self) -> Vec<(&str, &str)> {
        self.summary
            .iter()
            .filter_map(|r| match &r.ending {
                Ending::Skipped(e) => Some((r.experiment.as_str(), e.as_str())),
                _ => None,
            })
            .collect()
    }

    /// Experiments whose reports were written.
    pub fn ran(&self) -> Vec<&str> {
        self.summary
            .iter()
            .filter(|r| r.ending == Ending::Done)
            .map(|r| r.experiment.as_str())
            .collect()
    }
}

/// An unknown experiment or method name (a usage error).
#[derive(Debug, thiserror::Error)]
#[error("unknown {what} `{name}`; available: {available}")]
pub struct UnknownName {
    /// `experiment` or `method`.
    pub what: &'static str,
    /// The name given.
    pub name: String,
    /// What exists.
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

/// An output path that exists but is not a folder (a usage error, found before any work).
#[derive(Debug, thiserror::Error)]
#[error("--out {0} is a file, not a folder; name a folder (it is created if absent)")]
pub struct OutNotAFolder(pub String);

/// Cells a merge found unfinished: (method label, seed) each, with a task's recorded error where
/// one failed.
#[derive(Debug, thiserror::Error)]
#[error("{} cell(s) not finished: {}", .cells.len(), .cells.join(", "))]
pub struct MissingCells {
    /// `label seed S` (and `: error` for a failed one).
    pub cells: Vec<String>,
}

/// Why a stored cell was computed again, in words.
pub fn replaced_reason(why: &Replaced, current: &CodeIdentity) -> String {
    match why {
        Replaced::Unreadable => "its file did not parse".into(),
        Replaced::OtherCode(Some(code)) => format!(
            "it was computed by {}, this build is {}",
            code.describe(),
            current.describe()
        ),
        Replaced::OtherCode(None) => format!(
            "it predates code identities (this build is {})",
            current.describe()
        ),
    }
}

/// Counts a cell's `outcome` into `row` (a missing one into `missing`, as `what`) and returns
/// its record, if it has one.
pub(super) fn tally<T>(
    outcome: CellOutcome<T>,
    what: &str,
    experiment: &str,
    store: &CellStore,
    row: &mut SummaryRow,
    missing: &mut Vec<String>,
) -> Option<T> {
    match outcome {
        CellOutcome::Resumed(r) => {
            tracing::info!(experiment, cell = what, "resumed finished cell");
            row.cells_resumed += 1;
            Some(r)
        }
        CellOutcome::Missing(failure) => {
            let failure = failure
                .map(|e| format!(": failed: {e}"))
                .unwrap_or_default();
            missing.push(format!("{what}{failure}"));
            None
        }
        CellOutcome::Ran(r, seconds, replaced) => {
            tracing::info!(experiment, cell = what, seconds, "finished cell");
            row.cells_run += 1;
            if let Some(why) = replaced {
                row.cells_recomputed += 1;
                tracing::warn!(
                    experiment,
                    cell = what,
                    "recomputed a stored cell: {}",
                    replaced_reason(&why, store.code())
                );
            }
            Some(r)
        }
    }
}
