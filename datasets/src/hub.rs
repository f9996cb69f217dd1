//! The Hugging Face Hub: looking up already-downloaded files in its cache, and downloading
//! them with the sync API of `hf-hub` (cargo feature `hub`, on by default).
//!
//! Everything comes from a [`HubConfig`]: the cache directory ([`HubConfig::cache_dir`], in the
//! layout of `huggingface_hub`: `datasets--<owner>--<name>/refs/main` names the snapshot,
//! `snapshots/<commit>/<file>` holds the files), the endpoint and the token file. The `ufom`
//! binary fills it from `HF_HUB_CACHE` / `HF_HOME` / `HF_ENDPOINT` (`benches/src/config.rs`).

use std::path::PathBuf;

use crate::config::HubConfig;
use crate::error::{DataError, Result};
use crate::source::{Dataset, DatasetFiles, Located, Origin};

/// The data set's files in the Hub cache, if all of them were fetched.
pub(crate) fn cached(dataset: Dataset, hub: &HubConfig) -> Option<(PathBuf, DatasetFiles)> {
    let repo = hub.repo_cache_dir(dataset)?;
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
    Some((hub.cache_dir.clone()?, files_from_hub(dataset, paths)?))
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

/// Downloads `dataset` from the Hugging Face Hub ([`HubConfig::endpoint`], with
/// [`HubConfig::token`]) into [`HubConfig::cache_dir`] and returns it located.
///
/// Offline (or in a build without the `hub` feature), this returns [`DataError::Fetch`]
/// naming the repository and file.
pub fn fetch(dataset: Dataset, hub: &HubConfig) -> Result<Located> {
    let repo_id = hub.repo(dataset);
    let fail = |file: &str, reason: String| DataError::Fetch {
        repo: repo_id.clone(),
        file: file.into(),
        reason,
    };
    let cache = hub
        .cache_dir
        .clone()
        .ok_or_else(|| fail("", "no cache directory (set HF_HOME or HOME)".into()))?;
    let paths = download(hub, &repo_id, dataset.hub_files(), &cache, &fail)?;
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
    hub: &HubConfig,
    repo_id: &str,
    files: &[&str],
    cache: &std::path::Path,
    fail: &dyn Fn(&str, String) -> DataError,
) -> Result<Vec<PathBuf>> {
    // `from_cache` rather than `from_env`: hf-hub would read HF_HOME and HF_ENDPOINT itself.
    let api = hf_hub::api::sync::ApiBuilder::from_cache(hf_hub::Cache::new(cache.to_path_buf()))
        .with_endpoint(hub.endpoint().to_string())
        .with_token(hub.token())
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
    _hub: &HubConfig,
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
