//! The environment a report records: commit, device, dtype, versions, platform.

use super::record::{CodeIdentity, Environment};
use std::collections::BTreeMap;

/// Where cells train: the device kind a plan records and `--device` names.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// The CPU.
    Cpu,
    /// The first CUDA GPU (needs a build with `--features cuda`).
    Cuda,
}

/// The commit this binary was built from (`-dirty` appended when tracked source files differed from
/// it at build time), embedded by the build script; `None` when built outside a git checkout.
/// Not the commit of the current directory: a report names the code that produced it.
pub fn git_commit() -> Option<String> {
    option_env!("UFOM_BUILD_COMMIT")
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// This binary's code: the digest of its sources at build time (`benches/build.rs`) and its
/// commit.
pub fn build_code() -> CodeIdentity {
    CodeIdentity {
        digest: env!("UFOM_SOURCE_DIGEST").to_string(),
        commit: git_commit(),
    }
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
