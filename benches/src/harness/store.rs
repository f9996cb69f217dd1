//! Persistence: every file is written atomically (temp file in the same directory, then
//! rename), so an interrupted run never leaves a half-written report; finished (method, seed)
//! cells are kept under `<out>/cells/<experiment>/` so `--resume` can skip them.

use super::methods::MethodSpec;
use super::record::RunRecord;
use anyhow::{Context, Result};
use serde::{de::DeserializeOwned, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically, creating parent directories.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    drop(f);
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

/// Writes `value` as pretty JSON (with a final newline) atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Reads JSON from `path`, naming the file in any error.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))
}

/// The finished-cell store of one experiment: `<out>/cells/<experiment>/<key>/`, one file per
/// (method, seed) named by the method's label and the digest of its full spec.
pub struct CellStore {
    dir: PathBuf,
}

impl CellStore {
    /// Cells of `experiment` under `out`; `key` names the scale, settings and data.
    pub fn new(out: &Path, experiment: &str, key: &str) -> Self {
        Self {
            dir: out.join("cells").join(experiment).join(key),
        }
    }

    /// Where this store keeps its cells.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, method: &MethodSpec, seed: u64) -> PathBuf {
        let safe: String = method
            .label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let digest = method.digest();
        self.dir
            .join(format!("{safe}__{}__seed{seed}.json", &digest[..8]))
    }

    /// Whether a finished cell was saved (not checking that it is readable).
    pub fn has(&self, method: &MethodSpec, seed: u64) -> bool {
        self.path(method, seed).is_file()
    }

    /// A finished cell, if one was saved (a damaged file is reported, then ignored).
    pub fn load(&self, method: &MethodSpec, seed: u64) -> Option<RunRecord> {
        let path = self.path(method, seed);
        if !path.exists() {
            return None;
        }
        match read_json(&path) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!("ignoring unreadable cell {}: {e:#}", path.display());
                None
            }
        }
    }

    /// Where a cluster task records the error of a cell that failed.
    pub fn failure_path(&self, method: &MethodSpec, seed: u64) -> PathBuf {
        self.dir.join("failed").join(format!(
            "{}__{}__seed{seed}.txt",
            method.label,
            &method.digest()[..8]
        ))
    }

    /// The recorded error of a cell whose task failed, if any.
    pub fn failure_of(&self, method: &MethodSpec, seed: u64) -> Option<String> {
        std::fs::read_to_string(self.failure_path(method, seed))
            .ok()
            .map(|t| t.lines().next().unwrap_or_default().to_string())
    }

    /// Saves a finished cell of `method`.
    pub fn save(&self, method: &MethodSpec, record: &RunRecord) -> Result<()> {
        write_json(&self.path(method, record.seed), record)
    }
}
