//! `ufom bench`: run experiments under matched function-call budgets and write the reports.

use super::{jobs, positive, UsageError, MAX_JOBS};
use crate::config::{Config, OLD_BACKWARD_CLIP_ENV};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use ufom_bench::harness::cluster;
use ufom_bench::harness::env;
use ufom_bench::harness::experiments::Context;
use ufom_bench::harness::interrupt;
use ufom_bench::harness::record::{ExperimentId, Scale};
use ufom_bench::harness::runner::{
    self, run as run_bench, BenchOptions, Ending, MixedScales, OutNotAFolder, Planned, UnknownName,
};

/// Where to train (`--device`).
pub use ufom_bench::harness::env::DeviceKind as DeviceArg;

/// The candle device of a `--device` choice.
pub trait DeviceChoice {
    /// The candle device; CUDA device 0 for `cuda`, or an error saying what is missing.
    fn device(self) -> Result<candle_core::Device, UsageError>;
}

impl DeviceChoice for DeviceArg {
    fn device(self) -> Result<candle_core::Device, UsageError> {
        match self {
            DeviceArg::Cpu => Ok(candle_core::Device::Cpu),
            DeviceArg::Cuda => candle_core::Device::new_cuda(0).map_err(|e| {
                let hint = if cfg!(feature = "cuda") {
                    "this build has CUDA; the driver found no usable GPU — `nvidia-smi` shows what it sees"
                } else {
                    "this build has no CUDA: build with `--features cuda` — `just build-cuda` — and run on a machine with an NVIDIA GPU and its driver"
                };
                UsageError(format!(
                    "--device cuda: {e} ({hint}; `ufom doctor` lists what it finds)"
                ))
            }),
        }
    }
}

/// The most seeds `--seeds` takes: far above any study's, far below what overflows a plan.
const MAX_SEEDS: u64 = 10_000;

/// Arguments of `ufom bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Experiment to run (repeatable); default: every experiment whose data is available.
    #[arg(long = "experiment", value_name = "NAME")]
    experiments: Vec<ExperimentId>,
    /// Only these methods, comma-separated: a full label (`fom@20`) or a base label (`fom`,
    /// every m). `--list` shows them.
    #[arg(long, value_delimiter = ',', value_name = "LABELS")]
    methods: Vec<String>,
    /// Run seeds 0..N instead of the scale's default (finished cells of other seeds are kept);
    /// 1 ≤ N ≤ 10000.
    #[arg(long, value_name = "N", allow_negative_numbers = true,
          value_parser = clap::value_parser!(u64).range(1..=MAX_SEEDS))]
    seeds: Option<u64>,
    /// Size: smoke (< 1 min, CI), default (2-core CPU, about 20 min at the default --jobs), paper (the paper's sizes; GPU).
    #[arg(long, value_enum, default_value = "default")]
    scale: Scale,
    /// Output directory for reports.
    #[arg(long, default_value = "reports")]
    out: PathBuf,
    /// Skip (method, seed) cells already finished under `<out>/cells` (same settings, same data).
    #[arg(long)]
    resume: bool,
    /// Device for training.
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
    /// Cells run at once, sharing this process's threads (RAYON_NUM_THREADS, set to the cores
    /// when unset); default: one cell per thread. Results are the same for every N.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=MAX_JOBS))]
    jobs: Option<u64>,
    /// Directory holding the data sets (before UFOM_DATA_DIR and the Hub cache).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Few-shot experiments: the authors' per-backward-step clipping of (b1, b2) to [−C, C] for
    /// exact, UFOM and adaptive (biased; off by default). Labels gain `_clipC`.
    #[arg(long, value_name = "C", value_parser = positive)]
    backward_clip: Option<f64>,
    /// List the experiments, scales and methods with cells, budgets and estimated run time,
    /// then exit.
    #[arg(long, conflicts_with_all = ["dry_run", "resume"])]
    list: bool,
    /// Write the cells of this bench to DIR (plan.json, cells.jsonl) without running them, for
    /// `ufom cell run` / `ufom slurm DIR`; `ufom report DIR` merges the results.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["list", "dry_run", "resume"])]
    plan: Option<PathBuf>,
    /// Print what would run (after --experiment, --methods, --seeds; with --resume, what is
    /// already finished), then exit without training.
    #[arg(long)]
    dry_run: bool,
}

/// Ctrl-C stopped the run (exit code 130, as for a shell's SIGINT).
#[derive(Debug, thiserror::Error)]
#[error("interrupted: finished cells are saved under {cells}; rerun the same command with --resume to continue")]
pub struct InterruptedRun {
    /// Where the cells are.
    pub cells: String,
}

/// Runs the subcommand.
pub fn run(a: &BenchArgs, config: &Config) -> Result<()> {
    if config.old_backward_clip_set {
        return Err(UsageError(format!(
            "{OLD_BACKWARD_CLIP_ENV} is no longer read; pass --backward-clip C instead (and unset it)"
        ))
        .into());
    }
    // A mistyped --data-dir is an error before anything runs (not a skip of every experiment).
    if let Some(d) = &a.data_dir {
        if !d.is_dir() {
            return Err(
                UsageError(format!("--data-dir {} is not a directory", d.display())).into(),
            );
        }
    }
    // A flag no selected experiment reads is refused, not ignored.
    let few_shot = [ExperimentId::Omniglot, ExperimentId::Cifar100];
    if a.backward_clip.is_some()
        && !a.experiments.is_empty()
        && !a.experiments.iter().any(|e| few_shot.contains(e))
    {
        return Err(UsageError(
            "--backward-clip applies to the few-shot experiments (omniglot, cifar100) only, and none is selected".into(),
        )
        .into());
    }
    if let Some(dir) = &a.plan {
        // Planning trains nothing: the device is checked where the cells run.
        let opts = BenchOptions {
            experiments: a.experiments.clone(),
            methods: a.methods.clone(),
            seeds: a.seeds,
            out: dir.clone(),
            resume: true,
            merge_only: false,
            ctx: Context {
                scale: a.scale,
                data: config.data(a.data_dir.clone()),
                device: candle_core::Device::Cpu,
                backward_clip: a.backward_clip,
            },
            code: env::build_code(),
            jobs: jobs(a.jobs, config),
        };
        let cells = cluster::write_plan(&opts, dir, a.device).map_err(usage)?;
        println!(
            "wrote {} cells to {} (plan.json, cells.jsonl); run them with `ufom slurm {}` then sbatch, or `ufom cell run --plan {} --index I`; merge with `ufom report {}`",
            cells.len(),
            dir.display(),
            dir.display(),
            dir.display(),
            dir.display()
        );
        return Ok(());
    }
    let device = a.device.device()?;
    let opts = BenchOptions {
        experiments: a.experiments.clone(),
        methods: a.methods.clone(),
        seeds: a.seeds,
        out: a.out.clone(),
        resume: a.resume,
        merge_only: false,
        ctx: Context {
            scale: a.scale,
            data: config.data(a.data_dir.clone()),
            device,
            backward_clip: a.backward_clip,
        },
        code: env::build_code(),
        jobs: jobs(a.jobs, config),
    };
    if a.list || a.dry_run {
        let mut opts = opts;
        if a.list {
            opts.experiments.clear();
            opts.methods.clear();
        }
        if a.dry_run {
            // What the real run would refuse, the dry run refuses too.
            runner::check_one_scale(&opts.out, opts.ctx.scale).map_err(usage)?;
        }
        let planned = runner::plan(&opts).map_err(usage)?;
        print_plans(&planned, &opts, a.dry_run);
        return Ok(());
    }
    interrupt::install();
    let outcome = run_bench(&opts).map_err(usage)?;
    for f in &outcome.files {
        println!("wrote {}", f.display());
    }
    print_summary(&outcome.summary);
    if outcome.interrupted() {
        return Err(InterruptedRun {
            cells: a.out.join("cells").display().to_string(),
        }
        .into());
    }
    // An experiment asked for by name that could not run is a failure (after the others ran);
    // without --experiment, experiments whose data is absent are skipped with the reason.
    let mut problems = Vec::new();
    for (name, why) in outcome.skipped() {
        if a.experiments.iter().any(|e| e.name() == name) {
            problems.push(format!("requested experiment {name} could not run: {why}"));
        } else {
            eprintln!("skipped {name}: {why}");
        }
    }
    for (name, why) in outcome.failed() {
        problems.push(format!("{name} failed: {why}"));
    }
    if !problems.is_empty() {
        anyhow::bail!(
            "{} (reports of the experiments that finished are written; finished cells are saved, --resume continues)",
            problems.join("; ")
        );
    }
    if outcome.ran().is_empty() {
        eprintln!("no experiment ran");
    }
    Ok(())
}

/// Unknown names and mixed scales are the user's argument errors (exit 2).
fn usage(e: anyhow::Error) -> anyhow::Error {
    if e.downcast_ref::<UnknownName>().is_some()
        || e.downcast_ref::<MixedScales>().is_some()
        || e.downcast_ref::<OutNotAFolder>().is_some()
    {
        UsageError(e.to_string()).into()
    } else {
        e
    }
}

/// `12 s`, `3.4 min`, `2.1 h`.
fn duration(s: f64) -> String {
    if s < 90.0 {
        format!("{s:.0} s")
    } else if s < 5400.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

fn print_plans(planned: &[Planned], opts: &BenchOptions, dry_run: bool) {
    let scale = runner::scale_name(opts.ctx.scale);
    if !dry_run {
        println!("scales: smoke (seconds, CI), default (2-core CPU, minutes), paper (the paper's sizes; GPU)");
    }
    println!(
        "scale {scale}; estimates from the seconds per call of the last {scale}-scale run in {}",
        opts.out.display()
    );
    println!("parallel: {}", opts.jobs.describe());
    let mut total = Some(0.0);
    let mut wall = Some(0.0);
    for p in planned {
        // With --resume, what is finished is counted against the data as it is now (read and
        // checksummed here) and this build's code, exactly as the run will.
        let store = (dry_run && opts.resume && p.missing.is_none())
            .then(|| runner::current_store(p, opts))
            .transpose();
        let store = match store {
            Ok(s) => s,
            Err(e) => {
                println!("\n{}: its data cannot be prepared: {e:#}", p.name);
                continue;
            }
        };
        let estimate = p.estimate_seconds(&opts.out, opts.ctx.scale, store.as_ref());
        let remaining = store
            .as_ref()
            .map(|s| {
                let left = p.unfinished(Some(s)).len();
                format!(
                    "; {} finished (this code, this data), {left} to run",
                    p.cells() - left
                )
            })
            .unwrap_or_default();
        total = total.zip(estimate).map(|(t, e)| t + e);
        // Cells at once: the cell time divided among the workers (an estimate: it assumes the
        // cells are alike and were timed at the same --jobs).
        let workers = opts.jobs.split(p.unfinished(store.as_ref()).len()).0 as f64;
        wall = wall.zip(estimate).map(|(t, e)| t + e / workers);
        let data = match &p.missing {
            None => "data ready".to_string(),
            Some(why) => format!("NOT RUNNABLE: {why}"),
        };
        println!(
            "\n{} — {}\n  {data}\n  {} method(s) × {} seed(s) = {} cells of {} calls ({}){remaining}\n  estimated training time: {}",
            p.name,
            p.plan.title,
            p.plan.methods.len(),
            p.plan.seeds.len(),
            p.cells(),
            p.plan.budget.calls,
            p.plan.budget.description,
            estimate.map_or("unknown (no earlier run at this scale to calibrate from)".into(), duration),
        );
        let labels: Vec<&str> = p.plan.methods.iter().map(|m| m.label.as_str()).collect();
        println!("  methods: {}", labels.join(", "));
        if !p.plan.simulations.is_empty() {
            let names: Vec<&str> = p.plan.simulations.iter().map(|s| s.name.as_str()).collect();
            println!(
                "  plus {} simulation cell(s), run once whatever --methods and --seeds say: {}",
                names.len(),
                names.join(", ")
            );
        }
    }
    match total {
        Some(t) if dry_run => println!(
            "\ntotal estimated training time: {} of cell time, about {} wall at {} cell(s) at once",
            duration(t),
            duration(wall.unwrap_or(t)),
            opts.jobs.jobs
        ),
        _ => {}
    }
    if dry_run {
        println!("dry run: nothing was trained or written");
    }
}

fn print_summary(rows: &[runner::SummaryRow]) {
    if rows.is_empty() {
        return;
    }
    println!(
        "\n{:<14} {:<12} {:>9} {:>8} {:>10} {:>9} {:>10}",
        "experiment", "result", "cells run", "resumed", "recomputed", "diverged", "time"
    );
    for r in rows {
        let result = match &r.ending {
            Ending::Done => "done",
            Ending::Skipped(_) => "skipped",
            Ending::Failed(_) => "FAILED",
            Ending::Interrupted => "interrupted",
        };
        println!(
            "{:<14} {:<12} {:>9} {:>8} {:>10} {:>9} {:>10}",
            r.experiment,
            result,
            r.cells_run,
            r.cells_resumed,
            r.cells_recomputed,
            r.diverged,
            duration(r.seconds)
        );
    }
    let recomputed: usize = rows.iter().map(|r| r.cells_recomputed).sum();
    if recomputed > 0 {
        println!(
            "{recomputed} stored cell(s) were computed again: a cell is reused only by the code that computed it, and these came from other code or did not parse (see the warnings above)"
        );
    }
}
