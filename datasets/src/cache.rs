//! A cache of decoded image tensors in safetensors files, keyed by a checksum of the source.
//!
//! Location: [`crate::DataConfig::cache_dir`] (the `ufom` binary: `$UFOM_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/ufom`, else `$HOME/.cache/ufom`). Files are written atomically (temporary file in the same directory, then rename), never into the
//! data directory. Each file carries the SHA-256 of its tensor bytes (metadata `sha256`),
//! checked on every read: a damaged, unverifiable or mismatching cache file is ignored (with a
//! warning) and rebuilt, never trusted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{DataError, Result};

/// A cached `u8` array with string metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedArray {
    /// Shape.
    pub shape: Vec<usize>,
    /// Row-major bytes.
    pub data: Vec<u8>,
    /// Free-form metadata.
    pub metadata: HashMap<String, String>,
}

/// The metadata key of the tensor bytes' SHA-256.
const CHECKSUM: &str = "sha256";

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    crate::mnist::hex(&Sha256::digest(bytes))
}

/// Path of the cache file for `name` and `key` in `dir`.
pub fn cache_path(dir: &Path, name: &str, key: &str) -> PathBuf {
    dir.join(format!("{name}-{key}.safetensors"))
}

/// Reads a cache file; `Ok(None)` when absent, an error when unreadable or malformed.
pub fn read(path: &Path) -> Result<Option<CachedArray>> {
    let buf = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(DataError::io(path, e)),
    };
    let bad = |reason: String| DataError::Cache {
        path: path.to_path_buf(),
        reason,
    };
    let (_, meta) = SafeTensors::read_metadata(&buf).map_err(|e| bad(e.to_string()))?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    let st = SafeTensors::deserialize(&buf).map_err(|e| bad(e.to_string()))?;
    let t = st.tensor("data").map_err(|e| bad(e.to_string()))?;
    if t.dtype() != Dtype::U8 {
        return Err(bad(format!("dtype {:?}, expected U8", t.dtype())));
    }
    match metadata.get(CHECKSUM) {
        Some(want) if *want == sha256_hex(t.data()) => {}
        Some(_) => {
            return Err(bad(
                "its contents do not match their checksum (damaged)".into()
            ))
        }
        None => {
            return Err(bad(
                "it carries no checksum (written before checksums)".into()
            ))
        }
    }
    Ok(Some(CachedArray {
        shape: t.shape().to_vec(),
        data: t.data().to_vec(),
        metadata,
    }))
}

/// Writes a cache file atomically (temporary file, then rename).
pub fn write(path: &Path, array: &CachedArray) -> Result<()> {
    let bad = |reason: String| DataError::Cache {
        path: path.to_path_buf(),
        reason,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    }
    let view = TensorView::new(Dtype::U8, array.shape.clone(), &array.data)
        .map_err(|e| bad(e.to_string()))?;
    let mut metadata = array.metadata.clone();
    metadata.insert(CHECKSUM.into(), sha256_hex(&array.data));
    let bytes = safetensors::tensor::serialize([("data", view)], Some(metadata))
        .map_err(|e| bad(e.to_string()))?;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| DataError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        DataError::io(path, e)
    })?;
    Ok(())
}
