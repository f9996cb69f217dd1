//! The Hugging Face Hub: looking up already-downloaded files in its cache and downloading
//! them (sync API of `hf-hub`, which honours `HF_HOME`, `HF_ENDPOINT` and the stored token).

use std::path::PathBuf;

use crate::error::{DataError, Result};
use crate::source::{Dataset, DatasetFiles, Located, Origin};

/// The Hub cache snapshot directory holding `dataset`, if all its files were fetched.
pub(crate) fn cached(dataset: Dataset) -> Option<(PathBuf, DatasetFiles)> {
    let cache = hf_hub::Cache::from_env();
    let repo = cache.dataset(dataset.hub_repo());
    let paths: Option<Vec<PathBuf>> = dataset.hub_files().iter().map(|f| repo.get(f)).collect();
    let paths = paths?;
    let files = files_from_hub(dataset, paths)?;
    Some((cache.path().clone(), files))
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

/// Downloads `dataset` from the Hugging Face Hub into its cache (honouring `HF_HOME`,
/// `HF_ENDPOINT` and the token) and returns it located.
///
/// Offline, this returns [`DataError::Fetch`] naming the repository and file.
pub fn fetch(dataset: Dataset) -> Result<Located> {
    let repo_id = dataset.hub_repo();
    let api = hf_hub::api::sync::ApiBuilder::from_env()
        .with_progress(false)
        .build()
        .map_err(|e| DataError::Fetch {
            repo: repo_id.clone(),
            file: String::new(),
            reason: e.to_string(),
        })?;
    let repo = api.dataset(repo_id.clone());
    let mut paths = Vec::new();
    for file in dataset.hub_files() {
        tracing::info!(repo = %repo_id, file, "downloading");
        let p = repo.get(file).map_err(|e| DataError::Fetch {
            repo: repo_id.clone(),
            file: (*file).into(),
            reason: e.to_string(),
        })?;
        paths.push(p);
    }
    let files = files_from_hub(dataset, paths).ok_or_else(|| DataError::Fetch {
        repo: repo_id.clone(),
        file: String::new(),
        reason: "unexpected file list".into(),
    })?;
    Ok(Located {
        dataset,
        origin: Origin::HubCache(hf_hub::Cache::from_env().path().clone()),
        files,
    })
}
