//! `ufom cell run` and `ufom slurm`: a planned bench (`ufom bench --plan DIR`) run as independent
//! tasks, e.g. a SLURM job array (see `ufom_bench::harness::cluster`).

use super::bench::{DeviceArg, DeviceChoice};
use super::{jobs, UsageError, MAX_JOBS};
use crate::config::Config;
use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use ufom_bench::harness::cluster::{self, SlurmOptions};
use ufom_bench::harness::env;

/// `ufom cell …`.
#[derive(Args)]
pub struct CellArgs {
    #[command(subcommand)]
    command: CellCommand,
}

#[derive(Subcommand)]
enum CellCommand {
    /// Run one task of a plan: cells C·I .. C·I + C − 1, skipping finished ones.
    Run(CellRunArgs),
}

#[derive(Args)]
struct CellRunArgs {
    /// The plan folder (`ufom bench --plan DIR`).
    #[arg(long, value_name = "DIR")]
    plan: PathBuf,
    /// The task index; default: $SLURM_ARRAY_TASK_ID.
    #[arg(long)]
    index: Option<usize>,
    /// Cells per task.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    cells_per_task: u64,
    /// Device; default: the plan's.
    #[arg(long, value_enum)]
    device: Option<DeviceArg>,
    /// The task's cells run at once, sharing this process's threads; default: one per thread
    /// (RAYON_NUM_THREADS, else the CPUs the task was given). Results are the same for every N.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=MAX_JOBS))]
    jobs: Option<u64>,
}

/// Runs `ufom cell …`.
pub fn cell(a: &CellArgs, config: &Config) -> Result<()> {
    let CellCommand::Run(r) = &a.command;
    let index = match r.index {
        Some(i) => i,
        None => config
            .slurm_array_task_id
            .as_deref()
            .ok_or_else(|| UsageError("--index I is needed outside a SLURM array task".into()))?
            .parse()
            .map_err(|e| UsageError(format!("SLURM_ARRAY_TASK_ID: {e}")))?,
    };
    let (plan, _) = cluster::read_plan(&r.plan)?;
    let device = r.device.unwrap_or(plan.device).device()?;
    let out = cluster::run_task(
        &r.plan,
        index,
        r.cells_per_task as usize,
        device,
        &config.data,
        &env::build_code(),
        jobs(r.jobs, config),
    )
    .with_context(|| format!("task {index} of {}", r.plan.display()))?;
    println!(
        "task {index}: {} cell(s) run ({} of them again: stored by other code or unreadable), {} already finished",
        out.ran, out.recomputed, out.skipped
    );
    Ok(())
}

/// `ufom slurm DIR`.
#[derive(Args)]
pub struct SlurmArgs {
    /// The plan folder (`ufom bench --plan DIR`).
    dir: PathBuf,
    /// SLURM partition (letters, digits, `_`, `-`, `.`; comma-separated for several).
    #[arg(long, value_parser = partition_name)]
    partition: Option<String>,
    /// Time limit per task, in a form SLURM reads: M, M:S, H:M:S, D-H, D-H:M or D-H:M:S
    /// (e.g. 04:00:00).
    #[arg(long, value_parser = slurm_time)]
    time: Option<String>,
    /// GPUs per task (≥ 1; omit for CPU tasks).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    gpus_per_task: Option<u32>,
    /// CPUs per task (≥ 1).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    cpus_per_task: Option<u32>,
    /// At most K ≥ 1 tasks at once (`--array=…%K`).
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..))]
    max_parallel: Option<u32>,
    /// Cells per task (fewer, longer jobs).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    cells_per_task: u64,
    /// The `ufom` the tasks run (default: this executable; e.g. the GPU bundle's launcher).
    #[arg(long, value_name = "PATH")]
    ufom: Option<PathBuf>,
}

/// A SLURM time limit: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M` or `D-H:M:S`, all numbers.
fn slurm_time(s: &str) -> Result<String, String> {
    let bad = || format!("`{s}` is not a SLURM time (M, M:S, H:M:S, D-H, D-H:M or D-H:M:S)");
    let (days, rest) = match s.split_once('-') {
        Some((d, r)) => (Some(d), r),
        None => (None, s),
    };
    let fields: Vec<&str> = rest.split(':').collect();
    let numbers = |v: &[&str]| {
        v.iter()
            .all(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
    };
    let ok = match days {
        Some(d) => numbers(&[d]) && (1..=3).contains(&fields.len()) && numbers(&fields),
        None => (1..=3).contains(&fields.len()) && numbers(&fields),
    };
    if ok {
        Ok(s.to_string())
    } else {
        Err(bad())
    }
}

/// A SLURM partition name (or a comma-separated list): nothing a script line could misread.
fn partition_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.split(',').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
        });
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{s}` is not a partition name (letters, digits, `_`, `-`, `.`, commas between names)"
        ))
    }
}

/// Runs `ufom slurm`.
pub fn slurm(a: &SlurmArgs, config: &Config) -> Result<()> {
    let ufom = match &a.ufom {
        Some(p) => std::fs::canonicalize(p).with_context(|| format!("--ufom {}", p.display()))?,
        None => std::env::current_exe()?,
    };
    let o = SlurmOptions {
        partition: a.partition.clone(),
        time: a.time.clone(),
        gpus_per_task: a.gpus_per_task,
        cpus_per_task: a.cpus_per_task,
        max_parallel: a.max_parallel,
        cells_per_task: a.cells_per_task as usize,
        ufom,
    };
    match cluster::write_sbatch(&a.dir, &o, &config.data, &env::build_code())? {
        Some((path, tasks)) => println!(
            "wrote {} ({} task(s)); submit with `sbatch {}`, then merge with `ufom report {}`",
            path.display(),
            tasks.len(),
            path.display(),
            a.dir.display()
        ),
        None => println!(
            "every cell of {} is finished; merge with `ufom report {}`",
            a.dir.display(),
            a.dir.display()
        ),
    }
    Ok(())
}
