//! MNIST from the four IDX files (gzip-compressed or not) or the Hub's parquet form.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::DataConfig;
use crate::error::{DataError, Result};
use crate::idx::{self, MAGIC_IMAGES, MAGIC_LABELS};
use crate::parquet_io;
use crate::source::{self, Dataset, DatasetFiles, Located, Origin};
use crate::tensor::{gather_records, labels_to_tensor, one_hot, pixels_to_tensor};

/// Image side length.
pub const SIDE: usize = 28;
/// Pixels per image.
pub const PIXELS: usize = SIDE * SIDE;
/// Number of classes.
pub const CLASSES: usize = 10;

/// SHA-256 of the canonical decompressed IDX files, by canonical base name.
pub const CANONICAL_SHA256: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    (
        "train-labels-idx1-ubyte",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    (
        "t10k-images-idx3-ubyte",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    (
        "t10k-labels-idx1-ubyte",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
];

/// How to lay out image tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageLayout {
    /// `(N, 784)`
    Flat,
    /// `(N, 1, 28, 28)`
    Nchw,
}

/// One MNIST split: `n` images of 28×28 bytes (row-major) and their labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MnistSplit {
    /// `n * 784` pixel bytes.
    pub images: Vec<u8>,
    /// `n` labels in `0..10`.
    pub labels: Vec<u8>,
}

impl MnistSplit {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// All images as a tensor with values in `[0,1]`.
    pub fn images_tensor(
        &self,
        layout: ImageLayout,
        device: &Device,
        dtype: DType,
    ) -> Result<Tensor> {
        images_tensor(&self.images, self.len(), layout, device, dtype)
    }

    /// The images at `indices`, as a tensor.
    pub fn select_images(
        &self,
        indices: &[usize],
        layout: ImageLayout,
        device: &Device,
        dtype: DType,
    ) -> Result<Tensor> {
        let px = gather_records(&self.images, PIXELS, indices)?;
        images_tensor(&px, indices.len(), layout, device, dtype)
    }

    /// Labels as `u32`.
    pub fn labels_u32(&self) -> Vec<u32> {
        self.labels.iter().map(|&l| u32::from(l)).collect()
    }

    /// Labels as a `u32` tensor `(n,)`.
    pub fn labels_tensor(&self, device: &Device) -> Result<Tensor> {
        labels_to_tensor(&self.labels_u32(), device)
    }

    /// Labels one-hot `(n, 10)`.
    pub fn labels_one_hot(&self, device: &Device, dtype: DType) -> Result<Tensor> {
        one_hot(&self.labels_u32(), CLASSES, device, dtype)
    }

    /// Mean and standard deviation (population) of the pixel values scaled to `[0,1]`.
    pub fn pixel_mean_std(&self) -> (f64, f64) {
        let n = self.images.len().max(1) as f64;
        let (s, s2) = self.images.iter().fold((0f64, 0f64), |(s, s2), &p| {
            let x = f64::from(p) / 255.0;
            (s + x, s2 + x * x)
        });
        let mean = s / n;
        (mean, (s2 / n - mean * mean).max(0.0).sqrt())
    }
}

pub(crate) fn images_tensor(
    px: &[u8],
    n: usize,
    layout: ImageLayout,
    device: &Device,
    dtype: DType,
) -> Result<Tensor> {
    match layout {
        ImageLayout::Flat => pixels_to_tensor(px, &[n, PIXELS], device, dtype),
        ImageLayout::Nchw => pixels_to_tensor(px, &[n, 1, SIDE, SIDE], device, dtype),
    }
}

/// MNIST: 60000 training and 10000 test images.
#[derive(Debug, Clone)]
pub struct Mnist {
    /// Training split.
    pub train: MnistSplit,
    /// Test split.
    pub test: MnistSplit,
    /// Where it was read from.
    pub origin: Origin,
    /// Its files.
    pub files: DatasetFiles,
}

impl Mnist {
    /// Locates MNIST as `config` says (`--data-dir`, `UFOM_DATA_DIR`, Hub cache) and reads it.
    pub fn load(config: &DataConfig) -> Result<Self> {
        Self::from_located(crate::resolve::locate(Dataset::Mnist, config)?)
    }

    /// Reads MNIST from located files.
    pub fn from_located(loc: Located) -> Result<Self> {
        let (train, test) = match &loc.files {
            DatasetFiles::MnistIdx {
                train_images,
                train_labels,
                test_images,
                test_labels,
            } => (
                read_idx_pair(train_images, train_labels)?,
                read_idx_pair(test_images, test_labels)?,
            ),
            DatasetFiles::Parquet { train, test } => (read_parquet(train)?, read_parquet(test)?),
            other => {
                return Err(DataError::Config(format!(
                    "files {other:?} are not an MNIST layout"
                )))
            }
        };
        tracing::info!(train = train.len(), test = test.len(), origin = %loc.origin, "MNIST loaded");
        Ok(Mnist {
            train,
            test,
            origin: loc.origin,
            files: loc.files,
        })
    }

    /// Reads MNIST from a directory holding the files (IDX or parquet).
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let files =
            source::detect_in(Dataset::Mnist, dir)?.ok_or_else(|| DataError::MissingDataset {
                name: "mnist".into(),
                looked_in: vec![dir.to_path_buf()],
                fetch_command: Dataset::Mnist.fetch_command(),
            })?;
        Self::from_located(Located {
            dataset: Dataset::Mnist,
            origin: Origin::DataDir(dir.to_path_buf()),
            files,
        })
    }
}

/// Reads one images + labels IDX pair, validating magic numbers, dimensions, label range and
/// counts.
pub fn read_idx_pair(images: &Path, labels: &Path) -> Result<MnistSplit> {
    let im = idx::read_idx(images, MAGIC_IMAGES)?;
    if im.dims.len() != 3 || im.dims[1] != SIDE || im.dims[2] != SIDE {
        return Err(DataError::BadDims {
            path: images.to_path_buf(),
            found: im.dims,
            expected: "(N, 28, 28)".into(),
        });
    }
    let lb = idx::read_idx(labels, MAGIC_LABELS)?;
    check_labels(&lb.data, labels)?;
    if im.dims[0] != lb.data.len() {
        return Err(DataError::CountMismatch {
            images: images.to_path_buf(),
            labels: labels.to_path_buf(),
            n_images: im.dims[0],
            n_labels: lb.data.len(),
        });
    }
    Ok(MnistSplit {
        images: im.data,
        labels: lb.data,
    })
}

fn check_labels(labels: &[u8], path: &Path) -> Result<()> {
    match labels.iter().position(|&l| usize::from(l) >= CLASSES) {
        Some(index) => Err(DataError::BadLabel {
            path: path.to_path_buf(),
            index,
            label: i64::from(labels[index]),
            classes: CLASSES,
        }),
        None => Ok(()),
    }
}

/// Reads one split of the Hub's parquet form (`image` struct with PNG `bytes`, `label`).
pub fn read_parquet(path: &Path) -> Result<MnistSplit> {
    use rayon::prelude::*;
    let rows = parquet_io::read_image_rows(path, &["image", "img"], &["label"])?;
    let decoded: Vec<(Vec<u8>, u8)> = rows
        .par_iter()
        .enumerate()
        .map(|(i, row)| -> Result<(Vec<u8>, u8)> {
            let label = row.labels.first().copied().unwrap_or(-1);
            if !(0..CLASSES as i64).contains(&label) {
                return Err(DataError::BadLabel {
                    path: path.to_path_buf(),
                    index: i,
                    label,
                    classes: CLASSES,
                });
            }
            let img = image::load_from_memory(&row.image)
                .map_err(|source| DataError::Png {
                    path: path.join(format!("row{i}")),
                    source,
                })?
                .to_luma8();
            if img.width() as usize != SIDE || img.height() as usize != SIDE {
                return Err(DataError::BadDims {
                    path: path.join(format!("row{i}")),
                    found: vec![img.height() as usize, img.width() as usize],
                    expected: "28×28 image".into(),
                });
            }
            Ok((img.into_raw(), label as u8))
        })
        .collect::<Result<_>>()?;
    let mut split = MnistSplit {
        images: Vec::with_capacity(decoded.len() * PIXELS),
        labels: Vec::with_capacity(decoded.len()),
    };
    for (px, label) in decoded {
        split.images.extend_from_slice(&px);
        split.labels.push(label);
    }
    Ok(split)
}

/// The result of checking one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileCheck {
    /// The file.
    pub path: std::path::PathBuf,
    /// SHA-256 of its (decompressed) contents.
    pub sha256: String,
    /// Whether it matches the canonical checksum (`None` when there is none to compare).
    pub canonical: Option<bool>,
}

/// Checks the SHA-256 of each decompressed IDX file against the canonical distribution.
/// Non-IDX forms (parquet) get their checksum computed with no canonical value.
pub fn checksums(files: &DatasetFiles) -> Result<Vec<FileCheck>> {
    let mut out = Vec::new();
    for p in files.paths() {
        let bytes = idx::read_maybe_gz(p)?;
        let sha = hex(&Sha256::digest(&bytes));
        let base = p
            .file_name()
            .and_then(|n| n.to_str())
            .map(|n| n.trim_end_matches(".gz"))
            .unwrap_or_default();
        let canonical = CANONICAL_SHA256
            .iter()
            .find(|(n, _)| *n == base)
            .map(|(_, h)| *h == sha);
        out.push(FileCheck {
            path: p.to_path_buf(),
            sha256: sha,
            canonical,
        });
    }
    Ok(out)
}

/// Lower-case hex of a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
