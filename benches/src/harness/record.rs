//! The serde contract between the stages of the harness: experiments produce these records,
//! the store persists them, and every reporter (JSON, Markdown, SVG, dashboard) reads only them.
//! The JSON Schema of [`ExperimentReport`] is `reports/schema/experiment.schema.json`; bump
//! [`SCHEMA_VERSION`] on any incompatible change.

use super::methods::MethodSpec;
use hypergrad::stats;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the report format.
pub const SCHEMA_VERSION: u32 = 2;

/// Size of a benchmark run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Seconds per experiment: CI's end-to-end check.
    Smoke,
    /// Reduced sizes for a 2-core CPU (whole suite about 30 minutes).
    Default,
    /// The paper's sizes (meant for a GPU).
    Paper,
}

/// Mean ± standard deviation over seeds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// Sample mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1 denominator; 0 for one value).
    pub std: f64,
    /// How many values.
    pub n: usize,
}

impl Stat {
    /// Mean and standard deviation of the finite values (None if there are none).
    pub fn of(values: &[f64]) -> Option<Stat> {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        Some(Stat {
            mean: stats::mean(&v),
            std: stats::std_dev(&v),
            n: v.len(),
        })
    }
}

/// Oracle calls spent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCount {
    /// Gradient calls.
    pub grad: u64,
    /// Hessian-vector product calls.
    pub hvp: u64,
    /// grad + hvp: the paper's function calls.
    pub total: u64,
}

impl From<hypergrad::Calls> for CallCount {
    fn from(c: hypergrad::Calls) -> Self {
        Self {
            grad: c.grad,
            hvp: c.hvp,
            total: c.total(),
        }
    }
}

/// How a (method, seed) run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Spent its budget.
    Finished,
    /// θ or a metric became NaN/infinite; the curve stops there.
    Diverged,
}

/// One point of a training curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Outer iteration.
    pub iter: u64,
    /// Function calls spent so far.
    pub calls: u64,
    /// Wall time so far, seconds (a timing field).
    pub wall_s: f64,
    /// Metric values at this point.
    pub metrics: BTreeMap<String, f64>,
}

/// One (method, seed) cell of an experiment: the unit of `--resume`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Method name.
    pub method: String,
    /// Seed of every draw of this run.
    pub seed: u64,
    /// How it ended.
    pub status: RunStatus,
    /// Outer iterations done.
    pub iterations: u64,
    /// Calls spent.
    pub calls: CallCount,
    /// Wall time, seconds (a timing field).
    pub wall_s: f64,
    /// Wall time per function call, seconds (a timing field).
    pub seconds_per_call: f64,
    /// Peak bytes of inner states held by the estimator.
    pub peak_state_bytes: usize,
    /// Metrics at the end of the run.
    pub final_metrics: BTreeMap<String, f64>,
    /// Metrics along the run.
    pub curve: Vec<CurvePoint>,
    /// Extra per-run series (e.g. adaptive q over iterations).
    pub extra: BTreeMap<String, Vec<f64>>,
}

/// A method aggregated over seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodReport {
    /// Method name (the spec's label).
    pub method: String,
    /// What the method is, with every setting.
    pub spec: MethodSpec,
    /// Its runs, by seed.
    pub runs: Vec<RunRecord>,
    /// Final metrics over the finished runs: mean ± std.
    pub summary: BTreeMap<String, Stat>,
    /// Runs that diverged.
    pub diverged: usize,
    /// Mean wall time per function call over runs, seconds (a timing field).
    pub seconds_per_call: f64,
}

/// A curve for a figure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// x values.
    pub x: Vec<f64>,
    /// y values.
    pub y: Vec<f64>,
    /// Half-width of an error band around y (std or standard error, as the figure says).
    pub y_err: Option<Vec<f64>>,
}

/// A data file an experiment used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFile {
    /// Data set name (`mnist`, `omniglot`, `cifar100`).
    pub dataset: String,
    /// Where it was read from.
    pub path: String,
    /// SHA-256 of the file (of the tree, for a directory).
    pub sha256: String,
}

/// A figure the SVG reporter draws.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// File stem: written as `<experiment>_<id>.svg`.
    pub id: String,
    /// Title.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// Draw points instead of lines.
    pub scatter: bool,
    /// The curves.
    pub series: Vec<Series>,
}

impl Figure {
    /// A line plot on linear axes; `log_x`/`log_y` switch axes to log scale.
    pub fn lines(id: &str, title: &str, x_label: &str, y_label: &str, series: Vec<Series>) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_x: false,
            log_y: false,
            scatter: false,
            series,
        }
    }

    /// With a logarithmic x axis.
    pub fn log_x(mut self) -> Self {
        self.log_x = true;
        self
    }

    /// With a logarithmic y axis when `on`.
    pub fn log_y(mut self, on: bool) -> Self {
        self.log_y = on;
        self
    }
}

/// One row of a table in the paper's layout: our mean ± std beside the published number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableRow {
    /// Row label (method).
    pub label: String,
    /// Our values by column.
    pub ours: BTreeMap<String, Stat>,
    /// Published values by column.
    pub published: BTreeMap<String, f64>,
}

/// A table in the paper's layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Caption (says which paper table it mirrors).
    pub caption: String,
    /// Column keys, in order.
    pub columns: Vec<String>,
    /// Display headers of the columns, same order.
    pub headers: Vec<String>,
    /// Rows.
    pub rows: Vec<TableRow>,
}

/// Where and how the run happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BudgetNote {
    /// Function calls (gradient + HVP) per run.
    pub calls: u64,
    /// How it is stated, e.g. "calls of 300 memory-efficient-exact outer iterations".
    pub description: String,
}

/// What the runs say about a claim of the paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Significant (α = 0.05) in the claim's direction.
    Supported,
    /// Significant against it.
    Contradicted,
    /// Not significant, or too few runs to test.
    NotResolved,
}

/// A claim of the paper checked on this experiment's runs ([`crate::harness::claims`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClaimVerdict {
    /// The claim in words.
    pub statement: String,
    /// Where the paper makes it.
    pub source: String,
    /// The final metric compared.
    pub metric: String,
    /// The test (kind, sidedness, α).
    pub test: String,
    /// Pairs (or values) tested.
    pub n: usize,
    /// Mean difference in the claim's direction (positive = as claimed).
    pub effect: Option<f64>,
    /// Its 95 % confidence interval.
    pub ci95: Option<[f64; 2]>,
    /// Cohen's d_z (mean difference over its standard deviation), where defined.
    pub effect_size_dz: Option<f64>,
    /// Two-sided p-value.
    pub p_value: Option<f64>,
    /// Supported, contradicted or not resolved.
    pub verdict: Verdict,
}

/// `reports/<experiment>.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
