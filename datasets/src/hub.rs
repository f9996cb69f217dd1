//! The Hugging Face Hub: looking up already-downloaded files in its cache, and downloading
//! them with the sync API of `hf-hub` (cargo feature `hub`, on by default).
//!
//! Cache directory: `HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub` (the
//! layout of `huggingface_hub`: `datasets--<owner>--<name>/refs/main` names the snapshot,
//! `snapshots/<commit>/<file>` holds the files). Downloads honour `HF_ENDPOINT` and the token.

use std::path::PathBuf;

use crate::error::{DataError, Result};
use crate::source::{Dataset, DatasetFiles, Located, Origin};

/// The Hub cache directory (see the module docs), if one can be determined.
pub fn hub_cache_dir() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("HF_HUB_CACHE")
        .or_else(|| env("HF_HOME").map(|h| h.join("hub")))
        .or_else(|| env("HOME").map(|h| h.join(".cache").join("huggingface").join("hub")))
}

/// The cache folder of `dataset`'s Hub repository.
pub fn repo_cache_dir(dataset: Dataset) -> Option<PathBuf> {
    Some(hub_cache_dir()?.join(format!(
        "datasets--{}",
        dataset.hub_repo().replace('/', "--")
    )))
}

/// The data set's files in the Hub cache, if all of them were fetched.
pub(crate) fn cached(dataset: Dataset) -> Option<(PathBuf, DatasetFiles)> {
    let repo = repo_cache_dir(dataset)?;
    let commit = std::fs::read_to_string(repo.join("refs").join("main")).ok()?;
    let snapshot = repo.join("snapshots").join(commit.trim());
    let paths: Vec<PathBuf> = dataset
        .hub_files()
        .iter()
        .map(|f| snapshot.join(f))
        .collect();
    if !paths.iter().all(|p| p.is_file()) {
        return None;
    }
    Some((hub_cache_dir()?, files_from_hub(dataset, paths)?))
}

fn files_from_hub(dataset: Dataset, paths: Vec<PathBuf>) -> Option<DatasetFiles> {
    let mut it = paths.into_iter();
    let (a, b) = (it.next()?, it.next()?);
    Some(match dataset {
        Dataset::Omniglot => DatasetFiles::OmniglotZips {
            background: a,
            evaluation: b,
        },
        _ => DatasetFiles::Parquet { train: a, test: b },
    })
}

/// Downloads `dataset` from the Hugging Face Hub into its cache and returns it located.
///
/// Offline (or in a build without the `hub` feature), this returns [`DataError::Fetch`]
/// naming the repository and file.
pub fn fetch(dataset: Dataset) -> Result<Located> {
    let repo_id = dataset.hub_repo();
    let fail = |file: &str, reason: String| DataError::Fetch {
        repo: repo_id.clone(),
        file: file.into(),
        reason,
    };
    let cache = hub_cache_dir()
        .ok_or_else(|| fail("", "no cache directory (set HF_HOME or HOME)".into()))?;
    let paths = download(&repo_id, dataset.hub_files(), &cache, &fail)?;
    let files =
        files_from_hub(dataset, paths).ok_or_else(|| fail("", "unexpected file list".into()))?;
    Ok(Located {
        dataset,
        origin: Origin::HubCache(cache),
        files,
    })
}

#[cfg(feature = "hub")]
fn download(
    repo_id: &str,
    files: &[&str],
    cache: &std::path::Path,
    fail: &dyn Fn(&str, String) -> DataError,
) -> Result<Vec<PathBuf>> {
    let api = hf_hub::api::sync::ApiBuilder::from_env()
        .with_cache_dir(cache.to_path_buf())
        .with_progress(false)
        .build()
        .map_err(|e| fail("", e.to_string()))?;
    let repo = api.dataset(repo_id.to_string());
    files
        .iter()
        .map(|file| {
            tracing::info!(repo = %repo_id, file, "downloading");
            repo.get(file).map_err(|e| fail(file, e.to_string()))
        })
        .collect()
}

#[cfg(not(feature = "hub"))]
fn download(
    _repo_id: &str,
    _files: &[&str],
    _cache: &std::path::Path,
    fail: &dyn Fn(&str, String) -> DataError,
) -> Result<Vec<PathBuf>> {
    Err(fail(
        "",
        "this build of ufom-datasets has no download support (cargo feature `hub`)".into(),
    ))
}
