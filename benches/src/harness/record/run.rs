//! The records of runs: one (method, seed) cell ([`RunRecord`], the unit of `--resume`) with
//! its curve, calls and status, and a method aggregated over seeds ([`MethodReport`], [`Stat`]).

use super::{CodeIdentity, Metric};
use crate::harness::methods::MethodSpec;
use hypergrad::stats;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Mean ± standard deviation over seeds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Spent its budget.
    Finished,
    /// θ or a metric became NaN/infinite; the curve stops there.
    Diverged,
}

/// One point of a training curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CurvePoint {
    /// Outer iteration.
    pub iter: u64,
    /// Function calls spent so far.
    pub calls: u64,
    /// Wall time so far, seconds (a timing field).
    pub wall_s: f64,
    /// Metric values at this point.
    pub metrics: BTreeMap<Metric, f64>,
}

/// One (method, seed) cell of an experiment: the unit of `--resume`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunRecord {
    /// Method name.
    pub method: String,
    /// Seed of every draw of this run.
    pub seed: u64,
    /// How it ended.
    pub status: RunStatus,
    /// Outer iterations done.
    pub iterations: u64,
    /// Calls spent by the kept iterations: at most the budget (the final metrics are θ's
    /// after them).
    pub calls: CallCount,
    /// Calls of the last iteration, computed and discarded because it would have ended above
    /// the budget (absent in records older than this rule, which kept it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discarded_calls: Option<u64>,
    /// Wall time, seconds (a timing field).
    pub wall_s: f64,
    /// Wall time per function call, seconds (a timing field).
    pub seconds_per_call: f64,
    /// Peak bytes of inner states held by the estimator, with the gradient graphs stored exact
    /// and truncated keep (`Estimate::peak_state_bytes`).
    pub peak_state_bytes: usize,
    /// Metrics at the end of the run.
    pub final_metrics: BTreeMap<Metric, f64>,
    /// Metrics along the run.
    pub curve: Vec<CurvePoint>,
    /// Extra per-run series (e.g. adaptive q over iterations).
    pub extra: BTreeMap<String, Vec<f64>>,
    /// The code that computed this run (stamped when the cell is saved; absent in records
    /// older than code identities). Never restamped: a report built from cells of several
    /// commits lists them all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<CodeIdentity>,
}

/// A simulation of an experiment's plan: a named, seeded computation that is not a training
/// run (Fig. 1d–f's closed-form SGD sweeps), measured as a cell like the runs — resumable,
/// planned onto a cluster, keyed by its settings and code — and analysed from its record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SimulationSpec {
    /// Name, unique in its experiment (`fig1de`).
    pub name: String,
    /// Seed of every draw.
    pub seed: u64,
    /// Every setting it depends on.
    pub settings: serde_json::Value,
}

impl SimulationSpec {
    /// Digest of the full spec (part of its cell's file name).
    pub fn digest(&self) -> String {
        crate::harness::methods::short_hash(&serde_json::to_string(self).unwrap_or_default())
    }
}

/// What a simulation measured: named series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SimulationRecord {
    /// The spec it ran.
    pub spec: SimulationSpec,
    /// Its outputs by name.
    pub values: BTreeMap<String, Vec<f64>>,
    /// Wall time, seconds (a timing field).
    pub wall_s: f64,
    /// The code that computed it (as [`RunRecord::code`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<CodeIdentity>,
}

impl SimulationRecord {
    /// The series `name`, or an error naming the simulation.
    pub fn series(&self, name: &str) -> anyhow::Result<&[f64]> {
        self.values
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| anyhow::anyhow!("simulation {} has no series {name}", self.spec.name))
    }

    /// The first value of the series `name`.
    pub fn value(&self, name: &str) -> anyhow::Result<f64> {
        self.series(name)?
            .first()
            .copied()
            .ok_or_else(|| anyhow::anyhow!("simulation {}: series {name} is empty", self.spec.name))
    }
}

impl MethodReport {
    /// The summary of `metrics` keyed by name: a table row's cells.
    pub fn cells_of(&self, metrics: &[Metric]) -> BTreeMap<String, Stat> {
        metrics
            .iter()
            .filter_map(|m| self.summary.get(m).map(|s| (m.name().to_string(), *s)))
            .collect()
    }
}

/// A method aggregated over seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MethodReport {
    /// Method name (the spec's label).
    pub method: String,
    /// What the method is, with every setting.
    pub spec: MethodSpec,
    /// Its runs, by seed.
    pub runs: Vec<RunRecord>,
    /// Final metrics over the finished runs: mean ± std.
    pub summary: BTreeMap<Metric, Stat>,
    /// Runs that diverged.
    pub diverged: usize,
    /// Mean wall time per function call over runs, seconds (a timing field).
    pub seconds_per_call: f64,
}
