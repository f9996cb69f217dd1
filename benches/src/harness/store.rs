//! Persistence: every file is written atomically (temp file in the same directory, then
//! rename), so an interrupted run never leaves a half-written report; finished (method, seed)
//! cells are kept under `<out>/cells/<experiment>/` so `--resume` can skip them (only those
//! computed by this build's code) and a merge can find them without the data.

use super::methods::MethodSpec;
use super::record::CodeIdentity;
use super::record::{DataFile, ExperimentId, RunRecord, Scale, SimulationRecord, SimulationSpec};
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
    // Unique per process and per write: parallel cells may write the same file at once (the
    // store's manifest), each through its own temporary file; the last rename wins.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
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
    pub experiment: ExperimentId,
    /// Scale.
    pub scale: Scale,
    /// The plan's settings.
    pub config: serde_json::Value,
    /// The data files the cells were computed on, with their checksums.
    pub data: Vec<DataFile>,
}

/// What the store holds for a cell.
#[derive(Debug)]
pub enum Stored<T> {
    /// Nothing.
    Absent,
    /// A file that does not parse (reported, then treated as unfinished).
    Unreadable,
    /// A finished cell computed by this build's code.
    Current(T),
    /// A finished cell computed by other code (`None`: a record older than code identities).
    OtherCode(T),
}

/// A cell: a (method, seed) run or a simulation.
#[derive(Clone, Copy, Debug)]
pub enum CellId<'a> {
    /// A training run.
    Run(&'a MethodSpec, u64),
    /// A simulation.
    Simulation(&'a SimulationSpec),
}

impl CellId<'_> {
    /// File stem: label or name, spec digest, seed.
    fn stem(&self) -> String {
        match self {
            CellId::Run(m, seed) => {
                format!("{}__{}__seed{seed}", safe_label(&m.label), &m.digest()[..8])
            }
            CellId::Simulation(s) => format!(
                "simulation__{}__{}__seed{}",
                safe_label(&s.name),
                &s.digest()[..8],
                s.seed
            ),
        }
    }

    /// `label / seed S` or `simulation NAME`, for messages.
    pub fn describe(&self) -> String {
        match self {
            CellId::Run(m, seed) => format!("{} / seed {seed}", m.label),
            CellId::Simulation(s) => format!("simulation {}", s.name),
        }
    }
}

/// A record the store keeps: stamped with the code that computed it.
pub trait CellRecord: Serialize + DeserializeOwned {
    /// The code that computed it.
    fn code(&self) -> Option<&CodeIdentity>;
    /// Stamps it with `code`.
    fn set_code(&mut self, code: CodeIdentity);
}

impl CellRecord for RunRecord {
    fn code(&self) -> Option<&CodeIdentity> {
        self.code.as_ref()
    }
    fn set_code(&mut self, code: CodeIdentity) {
        self.code = Some(code);
    }
}

impl CellRecord for SimulationRecord {
    fn code(&self) -> Option<&CodeIdentity> {
        self.code.as_ref()
    }
    fn set_code(&mut self, code: CodeIdentity) {
        self.code = Some(code);
    }
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
            dir: out.join("cells").join(manifest.experiment.name()).join(key),
            manifest,
            code,
        }
    }

    /// The store of `experiment` at `scale` and `config` in `out`, found by its manifest (no
    /// data needed); `None` if no cell of these settings was saved. Errors when cells of these
    /// settings were computed on different data sets (several stores match).
    pub fn find(
        out: &Path,
        experiment: ExperimentId,
        scale: Scale,
        config: &serde_json::Value,
        code: &CodeIdentity,
    ) -> Result<Option<CellStore>> {
        let root = out.join("cells").join(experiment.name());
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

    fn path(&self, id: CellId) -> PathBuf {
        self.dir.join(format!("{}.json", id.stem()))
    }

    /// What is stored for the cell (an unreadable file is reported).
    pub fn lookup<T: CellRecord>(&self, id: CellId) -> Stored<T> {
        let path = self.path(id);
        if !path.exists() {
            return Stored::Absent;
        }
        match read_json::<T>(&path) {
            Ok(r) if r.code() == Some(&self.code) => Stored::Current(r),
            Ok(r) => Stored::OtherCode(r),
            Err(e) => {
                tracing::warn!("ignoring unreadable cell {}: {e:#}", path.display());
                Stored::Unreadable
            }
        }
    }

    /// A finished run of this build's code, if one was saved.
    pub fn load(&self, method: &MethodSpec, seed: u64) -> Option<RunRecord> {
        match self.lookup(CellId::Run(method, seed)) {
            Stored::Current(r) => Some(r),
            _ => None,
        }
    }

    /// Whether the cell is finished by this build's code.
    pub fn is_current(&self, id: CellId) -> bool {
        match id {
            CellId::Run(m, seed) => self.load(m, seed).is_some(),
            CellId::Simulation(_) => {
                matches!(self.lookup::<SimulationRecord>(id), Stored::Current(_))
            }
        }
    }

    /// Where a cluster task records the error of a cell that failed.
    pub fn failure_path(&self, id: CellId) -> PathBuf {
        self.dir.join("failed").join(format!("{}.txt", id.stem()))
    }

    /// The recorded error of a cell whose task failed, if any.
    pub fn failure_of(&self, id: CellId) -> Option<String> {
        std::fs::read_to_string(self.failure_path(id))
            .ok()
            .map(|t| t.lines().next().unwrap_or_default().to_string())
    }

    /// Saves a finished cell, stamped with this build's code, and the store's manifest if it
    /// has none yet.
    pub fn save<T: CellRecord>(&self, id: CellId, record: &mut T) -> Result<()> {
        record.set_code(self.code.clone());
        let manifest = self.dir.join(MANIFEST);
        if !manifest.is_file() {
            write_json(&manifest, &self.manifest)?;
        }
        write_json(&self.path(id), record)
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
