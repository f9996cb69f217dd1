//! Persistence: every file is written atomically (temp file in the same directory, then
//! rename), so an interrupted run never leaves a half-written report; finished (method, seed)
//! cells are kept under `<out>/cells/<experiment>/` so `--resume` can skip them (only those
//! computed by this build's code) and a merge can find them without the data.

use super::methods::MethodSpec;
use super::record::CodeIdentity;
use super::record::{DataFile, RunRecord, Scale};
use anyhow::{bail, Context, Result};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
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

/// `store.json` of a cell store: what its cells were computed for. A merge finds the store by
/// it without reading the data ([`CellStore::find`]), and takes the data's checksums from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoreManifest {
    /// Experiment.
    pub experiment: String,
    /// Scale.
    pub scale: Scale,
    /// The plan's settings.
    pub config: serde_json::Value,
    /// The data files the cells were computed on, with their checksums.
    pub data: Vec<DataFile>,
}

/// What the store holds for a (method, seed) cell.
#[derive(Debug)]
pub enum Stored {
    /// Nothing.
    Absent,
    /// A file that does not parse (reported, then treated as unfinished).
    Unreadable,
    /// A finished cell computed by this build's code.
    Current(RunRecord),
    /// A finished cell computed by other code (`None`: a record older than code identities).
    OtherCode(RunRecord),
}

/// The finished-cell store of one experiment: `<out>/cells/<experiment>/<key>/`, one file per
/// (method, seed) named by the method's label and the digest of its full spec, and its
/// [`StoreManifest`]. Each record keeps the [`CodeIdentity`] of the code that computed it.
pub struct CellStore {
    dir: PathBuf,
    manifest: StoreManifest,
    code: CodeIdentity,
}

const MANIFEST: &str = "store.json";

impl CellStore {
    /// The store `<out>/cells/<experiment>/<key>/` of `manifest`'s cells, for `code`'s build.
    pub fn new(out: &Path, key: &str, manifest: StoreManifest, code: CodeIdentity) -> Self {
        Self {
            dir: out.join("cells").join(&manifest.experiment).join(key),
            manifest,
            code,
        }
    }

    /// The store of `experiment` at `scale` and `config` in `out`, found by its manifest (no
    /// data needed); `None` if no cell of these settings was saved. Errors when cells of these
    /// settings were computed on different data sets (several stores match).
    pub fn find(
        out: &Path,
        experiment: &str,
        scale: Scale,
        config: &serde_json::Value,
        code: &CodeIdentity,
    ) -> Result<Option<CellStore>> {
        let root = out.join("cells").join(experiment);
        let Ok(entries) = std::fs::read_dir(&root) else {
            return Ok(None);
        };
        let mut found = Vec::new();
        let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        dirs.sort();
        for dir in dirs.into_iter().filter(|d| d.is_dir()) {
            let path = dir.join(MANIFEST);
            if !path.is_file() {
                tracing::warn!(
                    "{} has no {MANIFEST} (cells saved before manifests): not merged; \
                     `ufom bench --resume` or `ufom cell run` with the data recomputes them",
                    dir.display()
                );
                continue;
            }
            let manifest: StoreManifest = read_json(&path)?;
            if manifest.scale == scale && &manifest.config == config {
                found.push(CellStore {
                    dir,
                    manifest,
                    code: code.clone(),
                });
            }
        }
        if found.len() > 1 {
            let dirs: Vec<String> = found.iter().map(|s| s.dir.display().to_string()).collect();
            bail!(
                "cells of {experiment} at these settings were computed on {} different data sets \
                 ({}); remove the folders of the stale data",
                found.len(),
                dirs.join(", ")
            );
        }
        Ok(found.pop())
    }

    /// Where this store keeps its cells.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What its cells were computed for.
    pub fn manifest(&self) -> &StoreManifest {
        &self.manifest
    }

    /// The code whose cells count as current.
    pub fn code(&self) -> &CodeIdentity {
        &self.code
    }

    fn path(&self, method: &MethodSpec, seed: u64) -> PathBuf {
        self.dir.join(format!(
            "{}__{}__seed{seed}.json",
            safe_label(&method.label),
            &method.digest()[..8]
        ))
    }

    /// What is stored for the cell (an unreadable file is reported).
    pub fn lookup(&self, method: &MethodSpec, seed: u64) -> Stored {
        let path = self.path(method, seed);
        if !path.exists() {
            return Stored::Absent;
        }
        match read_json::<RunRecord>(&path) {
            Ok(r) if r.code.as_ref() == Some(&self.code) => Stored::Current(r),
            Ok(r) => Stored::OtherCode(r),
            Err(e) => {
                tracing::warn!("ignoring unreadable cell {}: {e:#}", path.display());
                Stored::Unreadable
            }
        }
    }

    /// A finished cell of this build's code, if one was saved.
    pub fn load(&self, method: &MethodSpec, seed: u64) -> Option<RunRecord> {
        match self.lookup(method, seed) {
            Stored::Current(r) => Some(r),
            _ => None,
        }
    }

    /// Where a cluster task records the error of a cell that failed.
    pub fn failure_path(&self, method: &MethodSpec, seed: u64) -> PathBuf {
        self.dir.join("failed").join(format!(
            "{}__{}__seed{seed}.txt",
            safe_label(&method.label),
            &method.digest()[..8]
        ))
    }

    /// The recorded error of a cell whose task failed, if any.
    pub fn failure_of(&self, method: &MethodSpec, seed: u64) -> Option<String> {
        std::fs::read_to_string(self.failure_path(method, seed))
            .ok()
            .map(|t| t.lines().next().unwrap_or_default().to_string())
    }

    /// Saves a finished cell of `method`, stamped with this build's code, and the store's
    /// manifest if it has none yet.
    pub fn save(&self, method: &MethodSpec, record: &mut RunRecord) -> Result<()> {
        record.code = Some(self.code.clone());
        let manifest = self.dir.join(MANIFEST);
        if !manifest.is_file() {
            write_json(&manifest, &self.manifest)?;
        }
        write_json(&self.path(method, record.seed), record)
    }
}

/// A label as a file-name part: ASCII letters, digits, `-`, `_` and `.`; `_` for the rest.
fn safe_label(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
