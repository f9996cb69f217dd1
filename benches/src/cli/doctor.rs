//! `ufom doctor`: what this build can do on this machine — features, the CUDA libraries on the
//! library path, the device — and a self-check: every built-in problem's oracles (gradient,
//! HVP, (∂V/∂θ)ᵀv) and every estimator's hypergradient on the device against the CPU, f64 and f32;
//! with `--time`, one gradient and one HVP per reference case timed on the device and the CPU.

use super::bench::{DeviceArg, DeviceChoice};
use crate::config::Config;
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;
use ufom_bench::harness::perf::oracle_timing;
use ufom_bench::harness::store::write_json;

/// Arguments of `ufom doctor`.
#[derive(Args)]
pub struct DoctorArgs {
    /// The device to check against the CPU (`cpu` checks the CPU against itself). Default:
    /// `cuda` in a build with the `cuda` feature, `cpu` otherwise.
    #[arg(long, value_enum)]
    device: Option<DeviceArg>,
    /// After the checks, time one inner gradient and one HVP on the engine's reference cases
    /// (hypercleaning MLP n = 1000 and 5000, conv net with 8 and 64 filters; f32) on the device
    /// and on the CPU: medians of --reps calls.
    #[arg(long)]
    time: bool,
    /// Timed calls per measurement (1 ≤ N ≤ 10000).
    #[arg(long, default_value_t = 10, requires = "time", value_parser = clap::value_parser!(u64).range(1..=10_000))]
    reps: u64,
    /// Also write the timings as JSON to FILE.
    #[arg(long, value_name = "FILE", requires = "time")]
    time_json: Option<PathBuf>,
}

/// Shared libraries a CUDA build loads at run time, any version: the ones its binary links
/// (`readelf -d`: libcuda.so.1, libcublas.so.13, libcurand.so.10, libcudart.so.13) and the one
/// cuBLAS itself needs. NVRTC is not among them: candle's kernels come precompiled as PTX.
const CUDA_LIBS: [&str; 5] = [
    "libcuda.so",
    "libcublas.so",
    "libcublasLt.so",
    "libcurand.so",
    "libcudart.so",
];

/// Directories searched: LD_LIBRARY_PATH (`config.library_path`), then the usual system ones.
fn library_dirs(config: &Config) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = config.library_path.clone();
    for d in [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/usr/local/cuda/lib64",
        "/usr/local/cuda/targets/x86_64-linux/lib",
    ] {
        dirs.push(PathBuf::from(d));
    }
    dirs
}

/// The first file per library (`libcublas.so.13` ...) in `dirs`, or `None`.
fn find_libraries(dirs: &[PathBuf]) -> Vec<(&'static str, Option<PathBuf>)> {
    CUDA_LIBS
        .iter()
        .map(|lib| {
            let hit = dirs.iter().find_map(|d| {
                let mut names: Vec<PathBuf> = std::fs::read_dir(d)
                    .ok()?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n == *lib || n.starts_with(&format!("{lib}.")))
                    })
                    .collect();
                names.sort();
                names.pop()
            });
            (*lib, hit)
        })
        .collect()
}

/// Runs the subcommand: exit 0 when the device is there and agrees with the CPU.
pub fn run(a: &DoctorArgs, config: &Config) -> Result<()> {
    println!(
        "ufom {} (commit {}), cuda feature {}",
        env!("CARGO_PKG_VERSION"),
        ufom_bench::harness::env::git_commit().unwrap_or_else(|| "unknown".into()),
        if cfg!(feature = "cuda") {
            "compiled in"
        } else {
            "not compiled in (build with scripts/cuda-toolchain.sh / `just build-cuda`)"
        }
    );
    let chosen = a.device.unwrap_or(if cfg!(feature = "cuda") {
        DeviceArg::Cuda
    } else {
        DeviceArg::Cpu
    });
    if a.device.is_none() && !cfg!(feature = "cuda") {
        println!("no cuda feature in this build: checking the CPU against itself (--device cuda needs a build with `--features cuda`)");
    }
    if matches!(chosen, DeviceArg::Cuda) {
        println!("CUDA libraries (LD_LIBRARY_PATH, then system folders):");
        for (lib, hit) in find_libraries(&library_dirs(config)) {
            match hit {
                Some(p) => println!("  {lib:<16} {}", p.display()),
                None => println!("  {lib:<16} not found"),
            }
        }
    }
    let device = chosen.device().map_err(|e| anyhow::anyhow!(e.0))?;
    println!("device: {device:?}");
    let all = hypergrad::device_check::compare_with_cpu(&device)?;
    println!(
        "{:<15} {:<4} {:<16} {:>10} {:>10} {:>6}",
        "problem", "type", "oracle", "rel. error", "scale", "ok"
    );
    for c in &all {
        println!(
            "{:<15} {:<4} {:<16} {:>10.2e} {:>10.2e} {:>6}",
            c.problem,
            c.dtype.as_str(),
            c.quantity,
            c.rel_error,
            c.scale,
            if c.ok() { "yes" } else { "NO" }
        );
    }
    let failed = all.iter().filter(|c| !c.ok()).count();
    if failed > 0 {
        bail!(
            "{failed} of {} device checks disagree with the CPU",
            all.len()
        );
    }
    println!("all {} checks agree with the CPU", all.len());
    if a.time {
        print_timings(a, &device)?;
    }
    Ok(())
}

/// `--time`: the table, and the JSON file if asked for.
fn print_timings(a: &DoctorArgs, device: &candle_core::Device) -> Result<()> {
    let report = oracle_timing::report(device, a.reps as usize)?;
    println!(
        "\nmedian ms of {} calls after {} warm-up calls (f32):",
        report.reps, report.warm_up
    );
    println!(
        "{:<10} {:<9} {:>10} {:>10} {:>8} {:>10} {:>10} {:>8} {:>8}",
        "case", "oracles", "gradient", "HVP", "HVP/g", "CPU grad", "CPU HVP", "grad ×", "HVP ×"
    );
    for c in &report.cases {
        let cpu = &c.cpu;
        match (&c.device, &c.device_error) {
            (Some(d), _) => println!(
                "{:<10} {:<9} {:>10.3} {:>10.3} {:>8.2} {:>10.3} {:>10.3} {:>8.1} {:>8.1}",
                c.case,
                c.oracles,
                d.gradient_ms,
                d.hvp_ms,
                d.hvp_ms / d.gradient_ms,
                cpu.gradient_ms,
                cpu.hvp_ms,
                cpu.gradient_ms / d.gradient_ms,
                cpu.hvp_ms / d.hvp_ms
            ),
            (None, Some(e)) => println!(
                "{:<10} {:<9} failed on the device: {e}; CPU {:.3} / {:.3} ms",
                c.case, c.oracles, cpu.gradient_ms, cpu.hvp_ms
            ),
            (None, None) => println!(
                "{:<10} {:<9} {:>10} {:>10} {:>8.2} {:>10.3} {:>10.3}",
                c.case,
                c.oracles,
                "-",
                "-",
                cpu.hvp_ms / cpu.gradient_ms,
                cpu.gradient_ms,
                cpu.hvp_ms
            ),
        }
    }
    if let Some(path) = &a.time_json {
        write_json(path, &report)?;
        println!("timings written to {}", path.display());
    }
    let failed = report
        .cases
        .iter()
        .filter(|c| c.device_error.is_some())
        .count();
    if failed > 0 {
        bail!("{failed} timing cases failed on the device");
    }
    Ok(())
}
