//! What a data set is and what its files look like: [`Dataset`], the [`Origin`] and
//! [`DatasetFiles`] of a [`Located`] set, the detection of a set in a directory
//! ([`detect_in`], [`detect_under_root`]) and checksums. The search over the configured places
//! is [`crate::locate`]. Within a root directory, data set `name` is looked for in
//! `<root>/<name>/` and then in `<root>` itself.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

use crate::error::{DataError, Result};

/// The Omniglot repository on the Hugging Face Hub when none is configured.
pub const DEFAULT_OMNIGLOT_REPO: &str = "brendenlake/omniglot";

/// The environment variable the `ufom` binary fills [`crate::DataConfig::env_data_dir`] from (a
/// directory holding `mnist/`, `omniglot/`, `cifar100/`); this crate only names it, in
/// [`Origin::EnvVar`]'s display.
pub const DATA_DIR_ENV: &str = "UFOM_DATA_DIR";

/// The data sets this crate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataset {
    /// MNIST handwritten digits.
    Mnist,
    /// Omniglot handwritten characters.
    Omniglot,
    /// CIFAR-100 natural images.
    Cifar100,
}

impl Dataset {
    /// All data sets.
    pub const ALL: [Dataset; 3] = [Dataset::Mnist, Dataset::Omniglot, Dataset::Cifar100];

    /// The lower-case name, also the sub-directory name under a data root.
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Mnist => "mnist",
            Dataset::Omniglot => "omniglot",
            Dataset::Cifar100 => "cifar100",
        }
    }

    /// The Hugging Face Hub dataset repository of the data set when none is configured:
    /// MNIST `ylecun/mnist` (parquet), CIFAR-100 `uoft-cs/cifar100` (parquet), Omniglot
    /// [`DEFAULT_OMNIGLOT_REPO`]. [`crate::HubConfig::repo`] is the one downloads use.
    pub fn default_hub_repo(self) -> &'static str {
        match self {
            Dataset::Mnist => "ylecun/mnist",
            Dataset::Cifar100 => "uoft-cs/cifar100",
            Dataset::Omniglot => DEFAULT_OMNIGLOT_REPO,
        }
    }

    /// The files [`crate::hub::fetch`] downloads from [`crate::HubConfig::repo`].
    pub fn hub_files(self) -> &'static [&'static str] {
        match self {
            Dataset::Mnist => &[
                "mnist/train-00000-of-00001.parquet",
                "mnist/test-00000-of-00001.parquet",
            ],
            Dataset::Cifar100 => &[
                "cifar100/train-00000-of-00001.parquet",
                "cifar100/test-00000-of-00001.parquet",
            ],
            Dataset::Omniglot => &["images_background.zip", "images_evaluation.zip"],
        }
    }

    /// The command that downloads the data set.
    pub fn fetch_command(self) -> String {
        format!("ufom data fetch {}", self.name())
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dataset {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "mnist" => Ok(Dataset::Mnist),
            "omniglot" => Ok(Dataset::Omniglot),
            "cifar100" | "cifar-100" => Ok(Dataset::Cifar100),
            other => Err(DataError::Config(format!(
                "unknown data set `{other}` (expected mnist, omniglot or cifar100)"
            ))),
        }
    }
}

/// How a data set was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "path", rename_all = "snake_case")]
pub enum Origin {
    /// The directory given explicitly (`--data-dir`).
    DataDir(PathBuf),
    /// The directory named by `UFOM_DATA_DIR`.
    EnvVar(PathBuf),
    /// The Hugging Face Hub cache.
    HubCache(PathBuf),
    /// Files given directly to a constructor.
    Files,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::DataDir(p) => write!(f, "--data-dir {}", p.display()),
            Origin::EnvVar(p) => write!(f, "{DATA_DIR_ENV}={}", p.display()),
            Origin::HubCache(p) => write!(f, "Hugging Face Hub cache {}", p.display()),
            Origin::Files => f.write_str("files given explicitly"),
        }
    }
}

/// The concrete files of a located data set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "format", rename_all = "snake_case")]
pub enum DatasetFiles {
    /// The four MNIST IDX files, each gzip-compressed or not.
    MnistIdx {
        /// `train-images-idx3-ubyte[.gz]`
        train_images: PathBuf,
        /// `train-labels-idx1-ubyte[.gz]`
        train_labels: PathBuf,
        /// `t10k-images-idx3-ubyte[.gz]`
        test_images: PathBuf,
        /// `t10k-labels-idx1-ubyte[.gz]`
        test_labels: PathBuf,
    },
    /// The Hub's parquet form (MNIST or CIFAR-100): one train and one test file.
    Parquet {
        /// Training split.
        train: PathBuf,
        /// Test split.
        test: PathBuf,
    },
    /// The Omniglot tree as directories.
    OmniglotDirs {
        /// `images_background/`
        background: PathBuf,
        /// `images_evaluation/`
        evaluation: PathBuf,
    },
    /// The two official Omniglot zip archives.
    OmniglotZips {
        /// `images_background.zip`
        background: PathBuf,
        /// `images_evaluation.zip`
        evaluation: PathBuf,
    },
    /// The official CIFAR-100 binary version.
    CifarBinary {
        /// `train.bin`
        train: PathBuf,
        /// `test.bin`
        test: PathBuf,
    },
}

impl DatasetFiles {
    /// The paths involved, for reports.
    pub fn paths(&self) -> Vec<&Path> {
        match self {
            DatasetFiles::MnistIdx {
                train_images,
                train_labels,
                test_images,
                test_labels,
            } => vec![train_images, train_labels, test_images, test_labels],
            DatasetFiles::Parquet { train, test } | DatasetFiles::CifarBinary { train, test } => {
                vec![train, test]
            }
            DatasetFiles::OmniglotDirs {
                background,
                evaluation,
            }
            | DatasetFiles::OmniglotZips {
                background,
                evaluation,
            } => vec![background, evaluation],
        }
        .into_iter()
        .map(PathBuf::as_path)
        .collect()
    }
}

/// A data set located on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Located {
    /// Which data set.
    pub dataset: Dataset,
    /// How it was found.
    pub origin: Origin,
    /// Its files.
    pub files: DatasetFiles,
}

/// First existing path among `name` and `name.gz` in `dir`.
fn with_gz(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join(format!("{name}.gz"))]
        .into_iter()
        .find(|p| p.is_file())
}

/// The single `<prefix>*.parquet` file in `dir`, if any.
fn parquet_with_prefix(dir: &Path, prefix: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".parquet"))
        })
        .collect();
    found.sort();
    found.into_iter().next()
}

fn detect_parquet(dir: &Path) -> Option<DatasetFiles> {
    let train = parquet_with_prefix(dir, "train")?;
    let test = parquet_with_prefix(dir, "test")?;
    Some(DatasetFiles::Parquet { train, test })
}

/// Looks for `dataset` directly in `dir` (no sub-directory search).
///
/// Returns `Ok(None)` when nothing of the data set is there, and an error naming the missing
/// file when the directory holds only part of it.
pub fn detect_in(dataset: Dataset, dir: &Path) -> Result<Option<DatasetFiles>> {
    if !dir.is_dir() {
        return Ok(None);
    }
    match dataset {
        Dataset::Mnist => {
            const NAMES: [&str; 4] = [
                "train-images-idx3-ubyte",
                "train-labels-idx1-ubyte",
                "t10k-images-idx3-ubyte",
                "t10k-labels-idx1-ubyte",
            ];
            let found: Vec<Option<PathBuf>> = NAMES.iter().map(|n| with_gz(dir, n)).collect();
            if found.iter().all(Option::is_none) {
                return Ok(detect_parquet(dir).or_else(|| detect_parquet(&dir.join("mnist"))));
            }
            let mut paths = Vec::with_capacity(4);
            for (name, p) in NAMES.iter().zip(found) {
                paths.push(p.ok_or_else(|| DataError::Missing {
                    path: dir.join(name),
                    what: format!("MNIST file {name} (or {name}.gz)"),
                })?);
            }
            let [train_images, train_labels, test_images, test_labels]: [PathBuf; 4] = paths
                .try_into()
                .map_err(|_| DataError::Config("internal".into()))?;
            Ok(Some(DatasetFiles::MnistIdx {
                train_images,
                train_labels,
                test_images,
                test_labels,
            }))
        }
        Dataset::Omniglot => {
            let pair = |a: PathBuf, b: PathBuf, dirs: bool| -> Result<Option<DatasetFiles>> {
                let ok = |p: &Path| if dirs { p.is_dir() } else { p.is_file() };
                match (ok(&a), ok(&b)) {
                    (false, false) => Ok(None),
                    (true, false) => Err(DataError::Missing {
                        path: b,
                        what: "Omniglot evaluation set".into(),
                    }),
                    (false, true) => Err(DataError::Missing {
                        path: a,
                        what: "Omniglot background set".into(),
                    }),
                    (true, true) if dirs => Ok(Some(DatasetFiles::OmniglotDirs {
                        background: a,
                        evaluation: b,
                    })),
                    (true, true) => Ok(Some(DatasetFiles::OmniglotZips {
                        background: a,
                        evaluation: b,
                    })),
                }
            };
            if let Some(f) = pair(
                dir.join("images_background"),
                dir.join("images_evaluation"),
                true,
            )? {
                return Ok(Some(f));
            }
            pair(
                dir.join("images_background.zip"),
                dir.join("images_evaluation.zip"),
                false,
            )
        }
        Dataset::Cifar100 => {
            for d in [dir.to_path_buf(), dir.join("cifar-100-binary")] {
                let (train, test) = (d.join("train.bin"), d.join("test.bin"));
                match (train.is_file(), test.is_file()) {
                    (true, true) => return Ok(Some(DatasetFiles::CifarBinary { train, test })),
                    (true, false) => {
                        return Err(DataError::Missing {
                            path: test,
                            what: "CIFAR-100 test.bin".into(),
                        })
                    }
                    (false, true) => {
                        return Err(DataError::Missing {
                            path: train,
                            what: "CIFAR-100 train.bin".into(),
                        })
                    }
                    (false, false) => {}
                }
            }
            Ok(detect_parquet(dir).or_else(|| detect_parquet(&dir.join("cifar100"))))
        }
    }
}

/// Looks for `dataset` under a data root: `<root>/<name>/`, then `<root>` itself.
pub fn detect_under_root(dataset: Dataset, root: &Path) -> Result<Option<DatasetFiles>> {
    if let Some(f) = detect_in(dataset, &root.join(dataset.name()))? {
        return Ok(Some(f));
    }
    detect_in(dataset, root)
}

/// SHA-256 of a file's bytes, or for a directory of every file below it: the digest of the
/// sorted lines `<relative path>\0<file sha256>\n` (stable across machines and file orders).
pub fn sha256_path(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let file_sha = |p: &Path| -> Result<String> {
        let bytes = std::fs::read(p).map_err(|e| DataError::io(p, e))?;
        Ok(hex(&Sha256::digest(&bytes)))
    };
    if !path.is_dir() {
        return file_sha(path);
    }
    let mut lines = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| DataError::io(&dir, e))? {
            let p = entry.map_err(|e| DataError::io(&dir, e))?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(path)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .into_owned();
                lines.push(format!("{rel}\0{}\n", file_sha(&p)?));
            }
        }
    }
    lines.sort();
    Ok(hex(&Sha256::digest(lines.concat().as_bytes())))
}
