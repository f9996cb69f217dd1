//! `ufom map`: the bias–variance–cost map of every estimator setting (see
//! `ufom_bench::harness::map`), written as `map.json`, `map.md` and `map_<problem>.svg`.

use super::UsageError;
use anyhow::{Context as _, Result};
use clap::Args;
use std::path::PathBuf;
use ufom_bench::harness::map::{problems, render, MapConfig, MapReport};
use ufom_bench::harness::record::Scale;
use ufom_bench::harness::runner;
use ufom_bench::harness::store::read_json;

/// Arguments of `ufom map`.
#[derive(Args)]
pub struct MapArgs {
    /// Sizes: smoke (seconds, CI) or default (2-core CPU, a few minutes); the map has no paper
    /// scale.
    #[arg(long, value_enum, default_value = "default", value_parser = map_scale)]
    scale: Scale,
    /// Only these problems (repeatable): counterexample, quadratic, mlp, convnet.
    #[arg(long = "problem", value_name = "NAME")]
    problems: Vec<String>,
    /// Estimates per randomised setting (UFOM); default 1000 (smoke 200); 2 ≤ N ≤ 1000000
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

/// `smoke` or `default` (the map's sizes; no paper scale).
fn map_scale(s: &str) -> Result<Scale, String> {
    match s {
        "smoke" => Ok(Scale::Smoke),
        "default" => Ok(Scale::Default),
        "paper" => Err("the map has no paper scale: its default sizes are its largest".into()),
        _ => Err(format!("`{s}` is not a map scale (smoke, default)")),
    }
}

/// Refuses to replace `out/map.json` by a map of another scale or of fewer problems: the map
/// there would be lost (and the README block made from it) without a word.
fn check_replaceable(out: &std::path::Path, scale: Scale, only: &[String]) -> Result<()> {
    let path = out.join("map.json");
    if !path.exists() {
        return Ok(());
    }
    let old: MapReport = read_json(&path).with_context(|| {
        format!(
            "{} exists but is not a readable map; move it away first",
            path.display()
        )
    })?;
    if old.scale != scale {
        return Err(UsageError(format!(
            "{} holds a {}-scale map; write this {}-scale one to another folder, e.g. --out {}",
            path.display(),
            runner::scale_name(old.scale),
            runner::scale_name(scale),
            out.join(runner::scale_name(scale)).display()
        ))
        .into());
    }
    let dropped: Vec<&str> = old
        .problems
        .iter()
        .map(|p| p.name.as_str())
        .filter(|n| !only.is_empty() && !only.iter().any(|o| o == n))
        .collect();
    if !dropped.is_empty() {
        return Err(UsageError(format!(
            "{} maps {} too, which --problem would drop; map every problem, or write to another folder with --out",
            path.display(),
            dropped.join(", ")
        ))
        .into());
    }
    Ok(())
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
    if a.out.exists() && !a.out.is_dir() {
        return Err(
            UsageError(format!("--out {} is a file, not a folder", a.out.display())).into(),
        );
    }
    check_replaceable(&a.out, a.scale, &a.problems)?;
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
