//! The error type of the crate: every variant that comes from a file names that file.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, DataError>;

/// Everything that can go wrong while locating, reading, decoding or sampling a data set.
///
/// Variants that stem from user files carry the offending `path`, so a damaged file is named
/// instead of crashing a long run.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// An I/O error on a file or directory.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A gzip stream that cannot be decompressed.
    #[error("{path}: corrupt gzip stream: {source}")]
    Gzip {
        /// The compressed file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file ends before the data its header announces.
    #[error("{path}: truncated: expected {expected} bytes, found {found}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the header implies.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// The file holds more bytes than its header announces.
    #[error("{path}: {found} bytes where the header implies {expected}: trailing garbage")]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// Bytes the header implies.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// The magic number of an IDX file is not the expected one.
    #[error("{path}: bad magic number {found:#010x}, expected {expected:#010x}")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The magic number read.
        found: u32,
        /// The magic number required.
        expected: u32,
    },
    /// Dimensions that are not those of the data set (e.g. 27×28 images).
    #[error("{path}: bad dimensions {found:?}, expected {expected}")]
    BadDims {
        /// The file.
        path: PathBuf,
        /// The dimensions read.
        found: Vec<usize>,
        /// What was required, in words.
        expected: String,
    },
    /// A file size that is not a multiple of the fixed record size.
    #[error("{path}: size {len} is not a positive multiple of the {record}-byte record")]
    BadRecordSize {
        /// The file.
        path: PathBuf,
        /// File size in bytes.
        len: u64,
        /// Record size in bytes.
        record: usize,
    },
    /// A label outside `0..classes`.
    #[error("{path}: record {index} has label {label}, outside 0..{classes}")]
    BadLabel {
        /// The file.
        path: PathBuf,
        /// Record index.
        index: usize,
        /// The label found.
        label: i64,
        /// Number of classes.
        classes: usize,
    },
    /// Image and label files disagree on the number of examples.
    #[error("{images} has {n_images} images but {labels} has {n_labels} labels")]
    CountMismatch {
        /// Image file.
        images: PathBuf,
        /// Label file.
        labels: PathBuf,
        /// Number of images.
        n_images: usize,
        /// Number of labels.
        n_labels: usize,
    },
    /// A PNG that cannot be decoded.
    #[error("{path}: cannot decode image: {source}")]
    Png {
        /// The PNG file (for zip archives: `archive.zip/inner/path.png`).
        path: PathBuf,
        /// The decoder error.
        source: image::ImageError,
    },
    /// A zip archive that cannot be read.
    #[error("{path}: bad zip archive: {source}")]
    Zip {
        /// The archive.
        path: PathBuf,
        /// The underlying error.
        source: zip::result::ZipError,
    },
    /// A parquet file that cannot be read.
    #[error("{path}: bad parquet file: {source}")]
    Parquet {
        /// The parquet file.
        path: PathBuf,
        /// The underlying error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A file whose structure is not the expected one (missing column, wrong image size...).
    #[error("{path}: {reason}")]
    BadFormat {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A directory that should hold data but is empty.
    #[error("{path}: directory is empty")]
    EmptyDir {
        /// The directory.
        path: PathBuf,
    },
    /// A required file or folder is absent (e.g. a gap in the `characterNN` numbering).
    #[error("{path}: missing {what}")]
    Missing {
        /// Where it should be.
        path: PathBuf,
        /// What is missing, in words.
        what: String,
    },
    /// A folder holds the wrong number of items (e.g. a character without 20 drawings).
    #[error("{path}: expected {expected} {what}, found {found}")]
    WrongCount {
        /// The folder.
        path: PathBuf,
        /// What was counted.
        what: String,
        /// Expected count.
        expected: usize,
        /// Found count.
        found: usize,
    },
    /// The data set is not in any of the places searched.
    #[error(
        "data set `{name}` not found; looked in: {}. Fetch it with `{fetch_command}`, \
         or point --data-dir / UFOM_DATA_DIR at a directory holding `{name}/`",
        looked_in.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    MissingDataset {
        /// Data set name.
        name: String,
        /// Every directory searched, in order.
        looked_in: Vec<PathBuf>,
        /// The command that downloads it.
        fetch_command: String,
    },
    /// A checksum mismatch.
    #[error("{path}: SHA-256 {found} differs from the canonical {expected}")]
    Checksum {
        /// The file.
        path: PathBuf,
        /// Expected hex digest.
        expected: String,
        /// Found hex digest.
        found: String,
    },
    /// A download from the Hugging Face Hub failed.
    #[error("cannot fetch `{file}` from the Hugging Face Hub dataset `{repo}`: {reason}")]
    Fetch {
        /// Hub repository id.
        repo: String,
        /// File in the repository.
        file: String,
        /// Why (offline, 404, ...).
        reason: String,
    },
    /// The decoded-tensor cache could not be read or written.
    #[error("cache file {path}: {reason}")]
    Cache {
        /// The cache file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Invalid arguments (sizes larger than the data set, rates outside `[0, 1]`, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An error from candle while building tensors.
    #[error(transparent)]
    Tensor(#[from] candle_core::Error),
}

impl DataError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }

    /// A [`DataError::BadFormat`] for `path`.
    pub fn format(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        DataError::BadFormat {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
