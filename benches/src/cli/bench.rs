//! `ufom bench`: run experiments under matched function-call budgets and write the reports.

use super::UsageError;
use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use ufom_bench::harness::experiments::Context;
use ufom_bench::harness::record::Scale;
use ufom_bench::harness::runner::{run as run_bench, BenchOptions, MixedScales, UnknownExperiment};

/// Where to train.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DeviceArg {
    /// The CPU (default).
    Cpu,
    /// The first CUDA GPU (needs a build with `--features cuda`).
    Cuda,
}

/// Arguments of `ufom bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Experiment to run (repeatable); default: every experiment whose data is available.
    #[arg(long = "experiment", value_name = "NAME")]
    experiments: Vec<String>,
    /// Size: smoke (< 1 min, CI), default (2-core CPU, < 20 min), paper (the paper's sizes; GPU).
    #[arg(long, value_enum, default_value = "default")]
    scale: Scale,
    /// Output directory for reports.
    #[arg(long, default_value = "reports")]
    out: PathBuf,
    /// Skip (method, seed) cells already finished under `<out>/cells`.
    #[arg(long)]
    resume: bool,
    /// Device for training.
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
    /// Directory holding the data sets (before UFOM_DATA_DIR and the Hub cache).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

/// Runs the subcommand.
pub fn run(a: &BenchArgs) -> Result<()> {
    let device = match a.device {
        DeviceArg::Cpu => candle_core::Device::Cpu,
        DeviceArg::Cuda => candle_core::Device::new_cuda(0).map_err(|e| {
            UsageError(format!(
                "--device cuda: {e} (build with `--features cuda` on a machine with an NVIDIA GPU)"
            ))
        })?,
    };
    let opts = BenchOptions {
        experiments: a.experiments.clone(),
        out: a.out.clone(),
        resume: a.resume,
        ctx: Context {
            scale: a.scale,
            data_dir: a.data_dir.clone(),
            device,
        },
    };
    let outcome = run_bench(&opts).map_err(|e| {
        let usage = e.downcast_ref::<UnknownExperiment>().is_some()
            || e.downcast_ref::<MixedScales>().is_some();
        if usage {
            UsageError(e.to_string()).into()
        } else {
            e
        }
    })?;
    for f in &outcome.files {
        println!("wrote {}", f.display());
    }
    // An experiment asked for by name that could not run is a failure (after the others ran);
    // without --experiment, experiments whose data is absent are skipped with the reason.
    let mut missing = Vec::new();
    for (name, why) in &outcome.skipped {
        if a.experiments.iter().any(|e| e == name) {
            missing.push(format!("{name}: {why}"));
        } else {
            eprintln!("skipped {name}: {why}");
        }
    }
    if !missing.is_empty() {
        anyhow::bail!("requested experiment could not run: {}", missing.join("; "));
    }
    if outcome.ran.is_empty() {
        eprintln!("no experiment ran");
    } else {
        std::fs::metadata(&a.out)
            .with_context(|| format!("output directory {}", a.out.display()))?;
    }
    Ok(())
}
