//! The serde contract between the stages of the harness: experiments produce these records,
//! the store persists them, and every reporter (JSON, Markdown, SVG, dashboard) reads only them.
//! The JSON Schema of [`ExperimentReport`] is `reports/schema/experiment.schema.json`; bump
//! [`SCHEMA_VERSION`] on any incompatible change.
//!
//! This file holds the report ([`ExperimentReport`]) and its setting; [`run`] the run and method
//! records, [`findings`] the figures, tables and claim verdicts.

mod findings;
mod run;

pub use findings::{ClaimVerdict, Figure, Series, Table, TableRow, Verdict};
pub use run::{CallCount, CurvePoint, MethodReport, RunRecord, RunStatus, Stat};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the report format.
pub const SCHEMA_VERSION: u32 = 2;

/// Size of a benchmark run.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Seconds per experiment: CI's end-to-end check.
    Smoke,
    /// Reduced sizes for a 2-core CPU (whole suite about 30 minutes).
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

/// Where and how the run happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Environment {
    /// The commit the binary was built from (`-dirty` when tracked files differed), if known.
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
    /// Registry name.
    pub experiment: String,
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
}
