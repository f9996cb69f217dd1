//! The experiment registry. Each experiment is one module; the runner drives them all the same
//! way: check availability → plan (sizes, methods, budget; no data) → prepare (load and check
//! data, checksum it) → run (method, seed) cells and simulations → analyse (tables, figures,
//! findings: from the records and the scale alone).

pub mod cell;
pub mod fewshot;
pub mod hypercleaning;
pub mod synthetic;

use super::methods::MethodSpec;
use super::record::{
    BudgetNote, ClaimVerdict, DataFile, ExperimentId, Figure, MethodReport, RunRecord, Scale,
    SimulationRecord, SimulationSpec, Table,
};
use anyhow::{Context as _, Result};
use candle_core::Device;
use cell::Progress;
use std::collections::BTreeMap;
use ufom_datasets::{locate, DataConfig, Dataset, Located};

/// What every experiment gets from the command line.
#[derive(Clone, Debug)]
pub struct Context {
    /// Size of the run.
    pub scale: Scale,
    /// Where the data sets are: `--data-dir`, and what the binary read from the environment
    /// (`UFOM_DATA_DIR`, the caches; `benches/src/config.rs`).
    pub data: DataConfig,
    /// Device for training.
    pub device: Device,
    /// `--backward-clip C`: the authors' per-backward-step clipping for the few-shot
    /// experiments' exact, UFOM and adaptive methods (REFERENCE §7; biased, off by default).
    pub backward_clip: Option<f64>,
}

/// Whether an experiment can run here.
pub enum Availability {
    /// Its data is present.
    Ready,
    /// It cannot run; the reason says what is missing and how to get it.
    Missing(String),
}

/// The fixed plan of an experiment at a scale: known without loading any data.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Human title.
    pub title: String,
    /// What this scale reduced relative to the paper.
    pub scale_note: String,
    /// Settings recorded in the report (also keys the resume cache; seeds and the method
    /// list are not part of it, so adding seeds or methods reuses finished cells).
    pub config: serde_json::Value,
    /// Repetition seeds.
    pub seeds: Vec<u64>,
    /// Methods, in report order.
    pub methods: Vec<MethodSpec>,
    /// The matched budget.
    pub budget: BudgetNote,
    /// Training dtype.
    pub dtype: candle_core::DType,
    /// Cells that are not training runs (Fig. 1d–f's sweeps): run once each, whatever
    /// `--methods` and `--seeds` select.
    pub simulations: Vec<SimulationSpec>,
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
    /// The paper's claims with their verdicts ([`crate::harness::claims`]).
    pub claims: Vec<ClaimVerdict>,
}

/// A registered experiment.
pub trait Experiment {
    /// Which experiment it is.
    fn id(&self) -> ExperimentId;
    /// Its registry name (`--experiment NAME`).
    fn name(&self) -> &'static str {
        self.id().name()
    }
    /// Whether it can run with the data at hand.
    fn availability(&self, ctx: &Context) -> Availability;
    /// The plan at `ctx.scale` (no data loaded: `--list` and `--dry-run` use it).
    fn plan(&self, ctx: &Context) -> Result<Plan>;
    /// Loads and checks the data for `plan` (every check that can fail before training does).
    fn prepare(&self, ctx: &Context, plan: &Plan) -> Result<Box<dyn Prepared>>;
    /// The analysis stage: tables, figures, notes and claims from the methods' results and
    /// the simulations' records at `ctx.scale` — a function of the records and the scale,
    /// never of the data.
    fn analyse(
        &self,
        ctx: &Context,
        methods: &[MethodReport],
        simulations: &[SimulationRecord],
    ) -> Result<Findings>;
}

/// An experiment ready to run.
pub trait Prepared: Sync {
    /// The data files used, with their checksums (recorded in the report; part of the resume
    /// key, so cells computed on other data are never reused).
    fn data(&self) -> &[DataFile];
    /// Runs one (method, seed) cell; `progress` receives the calls spent so far.
    fn run_cell(&self, method: &MethodSpec, seed: u64, progress: &Progress) -> Result<RunRecord>;
    /// Runs one of the plan's simulations: its named series.
    fn run_simulation(&self, sim: &SimulationSpec) -> Result<BTreeMap<String, Vec<f64>>> {
        anyhow::bail!("this experiment has no simulation {}", sim.name)
    }
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

/// The matched budget "the calls of `iters` memory-efficient-exact outer iterations": each
/// iteration runs the exact estimator on `tasks` tasks with `r` inner steps, r + 1 + r(r−1)/2
/// gradient and r HVP calls per task (Proposition 1 at q = 1). Every experiment states its
/// budget through this one function.
pub fn exact_iterations_budget(iters: u64, r: usize, tasks: usize) -> BudgetNote {
    let c = hypergrad::theory::expected_calls(r, 1.0);
    let per_task = (c.grad + c.hvp).round() as u64;
    let calls = iters * tasks as u64 * per_task;
    let tasks_note = if tasks > 1 {
        format!("{tasks} tasks × {per_task} calls each; ")
    } else {
        String::new()
    };
    BudgetNote {
        calls,
        description: format!(
            "calls of {iters} memory-efficient-exact outer iterations ({tasks_note}{calls} calls)"
        ),
    }
}

/// `dataset` as located for `ctx`, with each of its files' SHA-256 (directories: the tree
/// digest of [`ufom_datasets::source::sha256_path`]). Load the data from the returned
/// [`Located`], so the checksums are those of the files actually read.
pub fn locate_with_checksums(dataset: Dataset, ctx: &Context) -> Result<(Located, Vec<DataFile>)> {
    let located = locate(dataset, &ctx.data)?;
    let files = located
        .files
        .paths()
        .into_iter()
        .map(|p| {
            let sha256 = ufom_datasets::source::sha256_path(p)
                .with_context(|| format!("checksumming {}", p.display()))?;
            Ok(DataFile {
                dataset: dataset.name().to_string(),
                path: p.display().to_string(),
                sha256,
            })
        })
        .collect::<Result<_>>()?;
    Ok((located, files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exact_budget_is_proposition_1_at_q_1() {
        // r = 10: 11 + 45 gradient calls and 10 HVPs = 66 per task.
        assert_eq!(exact_iterations_budget(1, 10, 1).calls, 66);
        assert_eq!(exact_iterations_budget(6, 10, 5).calls, 6 * 5 * 66);
        // r = 1: 2 gradient calls and 1 HVP.
        assert_eq!(exact_iterations_budget(2, 1, 1).calls, 6);
    }
}
