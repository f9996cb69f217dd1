//! The environment a report records: commit, device, dtype, versions, platform.

use super::record::Environment;
use std::collections::BTreeMap;

/// `git rev-parse HEAD` in the current directory, if git and a repository are there.
pub fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The environment of this process for `device` and `dtype`.
pub fn capture(device: &candle_core::Device, dtype: candle_core::DType) -> Environment {
    let device = match device.location() {
        candle_core::DeviceLocation::Cpu => "cpu".to_string(),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    };
    let crate_versions = BTreeMap::from([
        (
            "ufom-bench".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        (
            "candle-core".to_string(),
            env!("UFOM_CANDLE_VERSION").to_string(),
        ),
    ]);
    Environment {
        git_commit: git_commit(),
        device,
        dtype: format!("{dtype:?}").to_lowercase(),
        crate_versions,
        platform: format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}
