//! The serde contract between the stages of the harness: experiments produce these records,
//! the store persists them, and every reporter (JSON, Markdown, SVG, dashboard) reads only them.
//! The JSON Schema of [`ExperimentReport`] is `reports/schema/experiment.schema.json`; bump
//! [`SCHEMA_VERSION`] on any incompatible change.
//!
//! This file holds the report ([`ExperimentReport`]) and its setting; [`run`] the run and method
//! records, [`findings`] the figures, tables and claim verdicts.

mod findings;
mod metric;
mod run;

pub use findings::{ClaimVerdict, Figure, Series, Table, TableRow, Verdict};
pub use metric::Metric;
pub use run::{
    CallCount, CurvePoint, MethodReport, RunRecord, RunStatus, SimulationRecord, SimulationSpec,
    Stat,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the report format.
pub const SCHEMA_VERSION: u32 = 2;

/// An experiment of the registry (`--experiment NAME`, the reports' `experiment`).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ExperimentId {
    /// Fig. 1: the Theorem-2 counterexample.
    Synthetic,
    /// Table 1: data hypercleaning on MNIST.
    Hypercleaning,
    /// Table 2: few-shot Omniglot.
    Omniglot,
    /// Table 3: few-shot CIFAR-100.
    Cifar100,
}

impl ExperimentId {
    /// Its name: the CLI's, the reports' and their files'.
    pub fn name(self) -> &'static str {
        match self {
            ExperimentId::Synthetic => "synthetic",
            ExperimentId::Hypercleaning => "hypercleaning",
            ExperimentId::Omniglot => "omniglot",
            ExperimentId::Cifar100 => "cifar100",
        }
    }
}

impl std::fmt::Display for ExperimentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Size of a benchmark run.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Seconds per experiment: CI's end-to-end check.
    Smoke,
    /// Reduced sizes for a 2-core CPU (whole suite about 20 minutes at the default `--jobs`).
    Default,
    /// The paper's sizes (meant for a GPU).
    Paper,
}

/// A data file an experiment used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DataFile {
    /// Data set name (`mnist`, `omniglot`, `cifar100`).
    pub dataset: String,
    /// Where it was read from.
    pub path: String,
    /// SHA-256 of the file (of the tree, for a directory).
    pub sha256: String,
}

/// The code that computes cells: the digest of every source that can change a cell's result
/// (the engine, the data readers, the harness, the vendored candle, the manifests and lock
/// file; `benches/build.rs`), and the commit it was built from. Part of every cell's identity:
/// `--resume` reuses only cells of the same digest, and each run record keeps the identity of
/// the code that computed it.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct CodeIdentity {
    /// SHA-256 of the sources, at build time.
    pub digest: String,
    /// The commit built from (`-dirty` when tracked source files differed), if known.
    pub commit: Option<String>,
}

impl CodeIdentity {
    /// `commit 0123456789ab (code 89abcdef)`, for messages and reports.
    pub fn describe(&self) -> String {
        let commit = self.commit.as_deref().map_or("unknown".to_string(), |c| {
            let (hash, dirty) = c.split_at(c.find('-').unwrap_or(c.len()));
            format!("{}{dirty}", &hash[..hash.len().min(12)])
        });
        format!(
            "commit {commit} (code {})",
            &self.digest[..self.digest.len().min(8)]
        )
    }
}

/// Where and how the run happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Environment {
    /// The commit the binary was built from (`-dirty` when tracked source files differed), if known.
    pub git_commit: Option<String>,
    /// `cpu` or `cuda:N`.
    pub device: String,
    /// Training dtype.
    pub dtype: String,
    /// Versions of this suite and its key crates.
    pub crate_versions: BTreeMap<String, String>,
    /// OS and architecture.
    pub platform: String,
    /// Available parallelism.
    pub threads: usize,
}

/// The function-call budget every method of an experiment spent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BudgetNote {
    /// Function calls (gradient + HVP) per run.
    pub calls: u64,
    /// How it is stated, e.g. "calls of 300 memory-efficient-exact outer iterations".
    pub description: String,
}

/// `reports/<experiment>.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ExperimentReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Which experiment.
    pub experiment: ExperimentId,
    /// Human title.
    pub title: String,
    /// Scale it ran at.
    pub scale: Scale,
    /// What this scale reduced relative to the paper.
    pub scale_note: String,
    /// Experiment-specific settings.
    pub config: serde_json::Value,
    /// Seeds of the repetitions.
    pub seeds: Vec<u64>,
    /// The matched budget.
    pub budget: BudgetNote,
    /// The data files used, with checksums (empty for synthetic experiments).
    pub data: Vec<DataFile>,
    /// Where it ran.
    pub environment: Environment,
    /// Per-method results.
    pub methods: Vec<MethodReport>,
    /// Tables in the paper's layout.
    pub tables: Vec<Table>,
    /// Figures.
    pub figures: Vec<Figure>,
    /// Findings in words (e.g. how the ordering of methods compares with the paper's).
    pub notes: Vec<String>,
    /// The paper's claims checked on these runs.
    #[serde(default)]
    pub claims: Vec<ClaimVerdict>,
    /// The experiment's simulations (cells that are not training runs), as measured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub simulations: Vec<SimulationRecord>,
    /// The code whose analysis made the tables, figures, notes and claims from the records
    /// (`ufom bench`, or a later `ufom report --reanalyse`); absent in older reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysed_by: Option<CodeIdentity>,
}

impl ExperimentReport {
    /// The code that computed the runs, each with its number of runs, in first-seen order
    /// (`None`: records older than code identities). One entry when every cell came from the
    /// same code; never the code that merely assembled the report.
    pub fn cell_code(&self) -> Vec<(Option<CodeIdentity>, usize)> {
        let mut out: Vec<(Option<CodeIdentity>, usize)> = Vec::new();
        let runs = self.methods.iter().flat_map(|m| &m.runs).map(|r| &r.code);
        for code in runs.chain(self.simulations.iter().map(|s| &s.code)) {
            match out.iter_mut().find(|(c, _)| c == code) {
                Some((_, n)) => *n += 1,
                None => out.push((code.clone(), 1)),
            }
        }
        out
    }

    /// [`Self::cell_code`] in words: `commit 0123456789ab (code 89abcdef)`, or each code with
    /// its cell count when several computed the runs.
    pub fn describe_cell_code(&self) -> String {
        let codes = self.cell_code();
        let one = |c: &Option<CodeIdentity>| {
            c.as_ref().map_or(
                "unrecorded code (cells computed before code identities)".into(),
                |c| c.describe(),
            )
        };
        match codes.as_slice() {
            [] => "no cells".into(),
            [(c, _)] => one(c),
            many => many
                .iter()
                .map(|(c, n)| format!("{} for {n} cell(s)", one(c)))
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}
