//! The experiment registry. Each experiment is one module; the runner drives them all the same
//! way: check availability → prepare (load data, fix the plan) → run (method, seed) cells →
//! finish (tables, figures, findings).

pub mod cell;
pub mod fewshot;
pub mod hypercleaning;
pub mod synthetic;

use super::record::{BudgetNote, Figure, MethodReport, RunRecord, Scale, Table};
use anyhow::Result;
use candle_core::Device;
use std::path::PathBuf;

/// How the reports name methods (the CLI's `--estimator exact` is the stored-state variant).
pub const METHOD_NAMES_NOTE: &str = "Method names: `exact` is the memory-efficient exact \
     estimator (recomputed inner states, Alg. 4 with q = 1: O(1) memory, r + 1 + r(r−1)/2 \
     gradient and r HVP calls per task), as in the paper's tables; `ufom_qX` is UFOM with fixed \
     q = X; `adaptive` is adaptive UFOM with q_min = 0.05, β = 0.99 and D²/10.";

/// What every experiment gets from the command line.
#[derive(Clone, Debug)]
pub struct Context {
    /// Size of the run.
    pub scale: Scale,
    /// `--data-dir`, if given.
    pub data_dir: Option<PathBuf>,
    /// Device for training.
    pub device: Device,
}

/// Whether an experiment can run here.
pub enum Availability {
    /// Its data is present.
    Ready,
    /// It cannot run; the reason says what is missing and how to get it.
    Missing(String),
}

/// The fixed plan of an experiment at a scale.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Human title.
    pub title: String,
    /// What this scale reduced relative to the paper.
    pub scale_note: String,
    /// Settings recorded in the report (also keys the resume cache).
    pub config: serde_json::Value,
    /// Repetition seeds.
    pub seeds: Vec<u64>,
    /// Methods, in report order.
    pub methods: Vec<String>,
    /// The matched budget.
    pub budget: BudgetNote,
    /// Training dtype.
    pub dtype: candle_core::DType,
}

/// What an experiment concludes from its runs.
#[derive(Default)]
pub struct Findings {
    /// Tables in the paper's layout.
    pub tables: Vec<Table>,
    /// Figures.
    pub figures: Vec<Figure>,
    /// Findings in words.
    pub notes: Vec<String>,
}

/// A registered experiment.
pub trait Experiment {
    /// Registry name (`--experiment NAME`).
    fn name(&self) -> &'static str;
    /// Whether it can run with the data at hand.
    fn availability(&self, ctx: &Context) -> Availability;
    /// Loads data and fixes the plan.
    fn prepare(&self, ctx: &Context) -> Result<Box<dyn Prepared>>;
}

/// An experiment ready to run.
pub trait Prepared {
    /// The plan.
    fn plan(&self) -> &Plan;
    /// Runs one (method, seed) cell; `progress` receives the calls spent so far.
    fn run_cell(&self, method: &str, seed: u64, progress: &mut dyn FnMut(u64))
        -> Result<RunRecord>;
    /// Tables, figures and notes from all methods' results.
    fn finish(&self, methods: &[MethodReport]) -> Result<Findings>;
}

/// Every experiment, in run order.
pub fn registry() -> Vec<Box<dyn Experiment>> {
    vec![
        Box::new(synthetic::Synthetic),
        Box::new(hypercleaning::Hypercleaning),
        Box::new(fewshot::FewShot(fewshot::Bench::Omniglot)),
        Box::new(fewshot::FewShot(fewshot::Bench::Cifar100)),
    ]
}
