//! The IDX format of the MNIST files (optionally gzip-compressed), parsed without panics.
//!
//! Layout: two zero bytes, a type byte (`0x08` = unsigned byte, the only type MNIST uses), the
//! number of dimensions, then one big-endian `u32` per dimension, then the data.

use std::io::Read;
use std::path::Path;

use crate::error::{DataError, Result};

/// Magic number of an IDX file of unsigned bytes with one dimension (MNIST labels).
pub const MAGIC_LABELS: u32 = 0x0000_0801;
/// Magic number of an IDX file of unsigned bytes with three dimensions (MNIST images).
pub const MAGIC_IMAGES: u32 = 0x0000_0803;

/// A parsed IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions, outermost first.
    pub dims: Vec<usize>,
    /// The data, row-major.
    pub data: Vec<u8>,
}

/// Reads a whole file, transparently decompressing it when it starts with the gzip magic.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len().saturating_mul(4));
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|source| DataError::Gzip {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parses IDX bytes and checks the magic number against `expected_magic`.
///
/// `path` only names the file in errors. Never panics, whatever the bytes.
pub fn parse_idx(bytes: &[u8], expected_magic: u32, path: &Path) -> Result<IdxArray> {
    let found_len = bytes.len() as u64;
    let magic = match bytes.get(0..4) {
        Some(m) => u32::from_be_bytes([m[0], m[1], m[2], m[3]]),
        None => {
            return Err(DataError::Truncated {
                path: path.to_path_buf(),
                expected: 4,
                found: found_len,
            })
        }
    };
    if magic != expected_magic {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            found: magic,
            expected: expected_magic,
        });
    }
    let ndims = (magic & 0xff) as usize;
    let header = 4 + 4 * ndims;
    let Some(dim_bytes) = bytes.get(4..header) else {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: header as u64,
            found: found_len,
        });
    };
    let dims: Vec<usize> = dim_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let total = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .and_then(|n| n.checked_add(header as u64))
        .ok_or_else(|| DataError::BadDims {
            path: path.to_path_buf(),
            found: dims.clone(),
            expected: "dimensions whose product fits in memory".into(),
        })?;
    if found_len < total {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: total,
            found: found_len,
        });
    }
    if found_len > total {
        return Err(DataError::TrailingBytes {
            path: path.to_path_buf(),
            expected: total,
            found: found_len,
        });
    }
    Ok(IdxArray {
        dims,
        data: bytes.get(header..).unwrap_or_default().to_vec(),
    })
}

/// Reads (and decompresses if needed) an IDX file, checking its magic number.
pub fn read_idx(path: &Path, expected_magic: u32) -> Result<IdxArray> {
    let bytes = read_maybe_gz(path)?;
    parse_idx(&bytes, expected_magic, path)
}
