//! `ufom map`: the bias–variance–cost map of every estimator setting (see
//! `ufom_bench::harness::map`), written as `map.json`, `map.md` and `map_<problem>.svg`.

use super::UsageError;
use anyhow::{Context as _, Result};
use clap::Args;
use std::path::PathBuf;
use ufom_bench::harness::map::{problems, render, MapConfig};
use ufom_bench::harness::record::Scale;

/// Arguments of `ufom map`.
#[derive(Args)]
pub struct MapArgs {
    /// Sizes: smoke (seconds, CI), default (2-core CPU, < 10 min); paper runs the default sizes.
    #[arg(long, value_enum, default_value = "default")]
    scale: Scale,
    /// Only these problems (repeatable): counterexample, quadratic, mlp, convnet.
    #[arg(long = "problem", value_name = "NAME")]
    problems: Vec<String>,
    /// Estimates per randomised setting (UFOM); default 1000 (smoke 40); 2 ≤ N ≤ 1000000
    /// (every estimate is kept in memory).
    #[arg(long, allow_negative_numbers = true,
          value_parser = clap::value_parser!(u64).range(2..=1_000_000))]
    samples: Option<u64>,
    /// Seed of every draw.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory.
    #[arg(long, default_value = "reports")]
    out: PathBuf,
}

/// Runs the subcommand.
pub fn run(a: &MapArgs) -> Result<()> {
    if let Some(bad) = a
        .problems
        .iter()
        .find(|n| !problems::PROBLEMS.contains(&n.as_str()))
    {
        return Err(UsageError(format!(
            "--problem {bad}: unknown; the problems are {}",
            problems::PROBLEMS.join(", ")
        ))
        .into());
    }
    let mut cfg = MapConfig::at(a.scale);
    if let Some(n) = a.samples {
        cfg.samples = n as usize;
    }
    cfg.seed = a.seed;
    let command = std::iter::once("ufom".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    let report = problems::run(&cfg, &a.problems, command)?;
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("creating the output folder {}", a.out.display()))?;
    for path in render::write(&report, &a.out)? {
        println!("wrote {}", path.display());
    }
    println!(
        "map: {} problem(s), {:.1} min",
        report.problems.len(),
        report.wall_s / 60.0
    );
    Ok(())
}
