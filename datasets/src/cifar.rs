//! CIFAR-100 from the official binary version (`train.bin`, `test.bin`) or the Hub's parquet
//! form (`img` PNG struct, `fine_label`, `coarse_label`).
//!
//! Binary record: 1 coarse label byte, 1 fine label byte, then 3072 pixel bytes: the 1024 red
//! values, then green, then blue, each plane row-major 32×32 (so CHW order).

use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::config::DataConfig;
use crate::error::{DataError, Result};
use crate::parquet_io;
use crate::source::{self, Dataset, DatasetFiles, Located, Origin};
use crate::tensor::{gather_records, pixels_to_tensor};

/// Image side length.
pub const SIDE: usize = 32;
/// Channels.
pub const CHANNELS: usize = 3;
/// Pixel bytes per image.
pub const PIXELS: usize = CHANNELS * SIDE * SIDE;
/// Bytes per binary record.
pub const RECORD: usize = 2 + PIXELS;
/// Fine classes.
pub const FINE_CLASSES: usize = 100;
/// Coarse classes (super-classes).
pub const COARSE_CLASSES: usize = 20;

/// One CIFAR-100 split.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CifarSplit {
    /// `n * 3072` pixel bytes, CHW per image.
    pub images: Vec<u8>,
    /// Fine labels in `0..100`.
    pub fine: Vec<u8>,
    /// Coarse labels in `0..20`.
    pub coarse: Vec<u8>,
}

impl CifarSplit {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.fine.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.fine.is_empty()
    }

    /// Images at `indices` as `(n, 3, 32, 32)` in `[0,1]`.
    pub fn select_images(
        &self,
        indices: &[usize],
        device: &Device,
        dtype: DType,
    ) -> Result<Tensor> {
        let px = gather_records(&self.images, PIXELS, indices)?;
        pixels_to_tensor(&px, &[indices.len(), CHANNELS, SIDE, SIDE], device, dtype)
    }
}

/// Parses the bytes of a CIFAR-100 binary file. Never panics.
pub fn parse_cifar100_bin(bytes: &[u8], path: &Path) -> Result<CifarSplit> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(DataError::BadRecordSize {
            path: path.to_path_buf(),
            len: bytes.len() as u64,
            record: RECORD,
        });
    }
    let n = bytes.len() / RECORD;
    let mut split = CifarSplit {
        images: Vec::with_capacity(n * PIXELS),
        fine: Vec::with_capacity(n),
        coarse: Vec::with_capacity(n),
    };
    for (index, rec) in bytes.chunks_exact(RECORD).enumerate() {
        let (coarse, fine) = (rec[0], rec[1]);
        for (label, classes) in [(coarse, COARSE_CLASSES), (fine, FINE_CLASSES)] {
            if usize::from(label) >= classes {
                return Err(DataError::BadLabel {
                    path: path.to_path_buf(),
                    index,
                    label: i64::from(label),
                    classes,
                });
            }
        }
        split.coarse.push(coarse);
        split.fine.push(fine);
        split.images.extend_from_slice(&rec[2..]);
    }
    Ok(split)
}

/// Reads a CIFAR-100 binary file.
pub fn read_cifar100_bin(path: &Path) -> Result<CifarSplit> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    parse_cifar100_bin(&bytes, path)
}

/// Reads one split of the Hub's parquet form.
pub fn read_cifar100_parquet(path: &Path) -> Result<CifarSplit> {
    let rows =
        parquet_io::read_image_rows(path, &["img", "image"], &["fine_label", "coarse_label"])?;
    let mut split = CifarSplit::default();
    for (i, row) in rows.into_iter().enumerate() {
        let at = || path.join(format!("row{i}"));
        let (fine, coarse) = match row.labels.as_slice() {
            [f, c] => (*f, *c),
            _ => return Err(DataError::format(path, format!("row {i}: missing labels"))),
        };
        for (label, classes) in [(fine, FINE_CLASSES), (coarse, COARSE_CLASSES)] {
            if !(0..classes as i64).contains(&label) {
                return Err(DataError::BadLabel {
                    path: path.to_path_buf(),
                    index: i,
                    label,
                    classes,
                });
            }
        }
        let img = image::load_from_memory(&row.image)
            .map_err(|source| DataError::Png { path: at(), source })?
            .to_rgb8();
        if img.width() as usize != SIDE || img.height() as usize != SIDE {
            return Err(DataError::BadDims {
                path: at(),
                found: vec![img.height() as usize, img.width() as usize],
                expected: "32×32 image".into(),
            });
        }
        // HWC -> CHW
        let raw = img.as_raw();
        for c in 0..CHANNELS {
            split
                .images
                .extend(raw.iter().skip(c).step_by(CHANNELS).copied());
        }
        split.fine.push(fine as u8);
        split.coarse.push(coarse as u8);
    }
    Ok(split)
}

/// CIFAR-100: 50000 training and 10000 test images, 100 fine classes.
#[derive(Debug, Clone)]
pub struct Cifar100 {
    /// Training split.
    pub train: CifarSplit,
    /// Test split.
    pub test: CifarSplit,
    /// Where it came from.
    pub origin: Origin,
    /// Its files.
    pub files: DatasetFiles,
}

impl Cifar100 {
    /// Locates CIFAR-100 as `config` says (`--data-dir`, `UFOM_DATA_DIR`, Hub cache) and reads it.
    pub fn load(config: &DataConfig) -> Result<Self> {
        Self::from_located(crate::resolve::locate(Dataset::Cifar100, config)?)
    }

    /// Reads CIFAR-100 from a directory (binary files, `cifar-100-binary/`, or parquet).
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let files = source::detect_in(Dataset::Cifar100, dir)?.ok_or_else(|| {
            DataError::MissingDataset {
                name: "cifar100".into(),
                looked_in: vec![dir.to_path_buf()],
                fetch_command: Dataset::Cifar100.fetch_command(),
            }
        })?;
        Self::from_located(Located {
            dataset: Dataset::Cifar100,
            origin: Origin::DataDir(dir.to_path_buf()),
            files,
        })
    }

    /// Reads CIFAR-100 from located files.
    pub fn from_located(loc: Located) -> Result<Self> {
        let (train, test) = match &loc.files {
            DatasetFiles::CifarBinary { train, test } => {
                (read_cifar100_bin(train)?, read_cifar100_bin(test)?)
            }
            DatasetFiles::Parquet { train, test } => {
                (read_cifar100_parquet(train)?, read_cifar100_parquet(test)?)
            }
            other => {
                return Err(DataError::Config(format!(
                    "files {other:?} are not a CIFAR-100 layout"
                )))
            }
        };
        tracing::info!(train = train.len(), test = test.len(), origin = %loc.origin, "CIFAR-100 loaded");
        Ok(Cifar100 {
            train,
            test,
            origin: loc.origin,
            files: loc.files,
        })
    }
}
