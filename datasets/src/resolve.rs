//! Finding a data set in the places a [`DataConfig`] names.
//!
//! Resolution order, first hit wins: `--data-dir` ([`DataConfig::data_dir`]), the
//! `UFOM_DATA_DIR` directory ([`DataConfig::env_data_dir`]), then the Hub cache
//! ([`crate::HubConfig::cache_dir`], filled on request by [`crate::hub::fetch`]). Within a root
//! directory, data set `name` is looked for in `<root>/<name>/` and then in `<root>` itself.

use std::path::PathBuf;

use crate::config::DataConfig;
use crate::error::{DataError, Result};
use crate::hub;
use crate::source::{detect_under_root, Dataset, Located, Origin};

/// Finds `dataset` in the places `config` names: its data directory (`--data-dir`), then its
/// `UFOM_DATA_DIR` directory, then the Hub cache.
///
/// A missing data set gives [`DataError::MissingDataset`] listing every place searched and the
/// command that fetches it.
pub fn locate(dataset: Dataset, config: &DataConfig) -> Result<Located> {
    let data_dir = config.data_dir();
    // An explicit directory must be one: never fall back silently past a mistyped path.
    if let Some(d) = data_dir {
        if !d.exists() {
            return Err(DataError::Missing {
                path: d.to_path_buf(),
                what: "directory (given as the data directory)".into(),
            });
        }
        if !d.is_dir() {
            return Err(DataError::BadFormat {
                path: d.to_path_buf(),
                reason: "is a file, not a directory (given as the data directory)".into(),
            });
        }
    }
    let mut looked_in = Vec::new();
    let mut roots: Vec<(PathBuf, Origin)> = Vec::new();
    if let Some(d) = data_dir {
        roots.push((d.to_path_buf(), Origin::DataDir(d.to_path_buf())));
    }
    if let Some(d) = &config.env_data_dir {
        roots.push((d.clone(), Origin::EnvVar(d.clone())));
    }
    for (root, origin) in roots {
        if let Some(files) = detect_under_root(dataset, &root)? {
            tracing::info!(%dataset, %origin, "data set located");
            return Ok(Located {
                dataset,
                origin,
                files,
            });
        }
        if matches!(origin, Origin::DataDir(_)) {
            // The directory the user named lacks it: say so before looking elsewhere.
            tracing::warn!(
                "{dataset} is not in the data directory {}; looking in UFOM_DATA_DIR and the Hub cache",
                root.display()
            );
        } else {
            tracing::info!(%dataset, root = %root.display(), "data set not found here");
        }
        looked_in.push(root.join(dataset.name()));
        looked_in.push(root);
    }
    if let Some((cache, files)) = hub::cached(dataset, &config.hub) {
        return Ok(Located {
            dataset,
            origin: Origin::HubCache(cache),
            files,
        });
    }
    if let Some(dir) = config.hub.repo_cache_dir(dataset) {
        looked_in.push(dir);
    }
    Err(DataError::MissingDataset {
        name: dataset.name().into(),
        looked_in,
        fetch_command: dataset.fetch_command(),
    })
}
