//! The records of an experiment's findings: figures ([`Figure`], [`Series`]), tables in the
//! paper's layout ([`Table`], [`TableRow`]) and the paper's claims with their verdicts
//! ([`ClaimVerdict`]).

use super::run::Stat;
use super::Metric;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A curve for a figure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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

/// A figure the SVG reporter draws.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TableRow {
    /// Row label (method).
    pub label: String,
    /// Our values by column.
    pub ours: BTreeMap<String, Stat>,
    /// Published values by column.
    pub published: BTreeMap<String, f64>,
}

/// A table in the paper's layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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

/// What the runs say about a claim of the paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Significant (α = 0.05) in the claim's direction.
    Supported,
    /// Significant against it.
    Contradicted,
    /// Not significant.
    NotResolved,
    /// Fewer than three pairs (or values): no test is made.
    InsufficientData,
}

/// A claim of the paper checked on this experiment's runs ([`crate::harness::claims`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClaimVerdict {
    /// The claim in words.
    pub statement: String,
    /// Where the paper makes it.
    pub source: String,
    /// The final metric compared.
    pub metric: Metric,
    /// The test (kind, sidedness, α).
    pub test: String,
    /// Pairs (or values) tested.
    pub n: usize,
    /// Pairs (or values) left out of the test because a run diverged (the subject's, the
    /// other method's, or both): shown beside the verdict, never dropped in silence.
    #[serde(default)]
    pub diverged: usize,
    /// Mean difference in the claim's direction (positive = as claimed).
    pub effect: Option<f64>,
    /// Its 95 % confidence interval.
    pub ci95: Option<[f64; 2]>,
    /// Cohen's d_z (mean difference over its standard deviation), where defined.
    pub effect_size_dz: Option<f64>,
    /// Two-sided p-value.
    pub p_value: Option<f64>,
    /// Supported, contradicted, not resolved, or insufficient data.
    pub verdict: Verdict,
}
