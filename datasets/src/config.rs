//! Where the data sets and caches are: the one configuration value the readers take.
//!
//! This crate never reads the environment. A caller fills a [`DataConfig`] and passes it to
//! [`crate::locate`], the loaders and [`crate::fetch`]; the `ufom` binary fills it from
//! `--data-dir` and the environment variables listed in its `config` module
//! (`benches/src/config.rs`): `UFOM_DATA_DIR`, `UFOM_CACHE_DIR` (`XDG_CACHE_HOME`, `HOME`),
//! `UFOM_OMNIGLOT_REPO`, `HF_HUB_CACHE` (`HF_HOME`), `HF_ENDPOINT`.
//!
//! [`DataConfig::default`] searches nothing but an explicit directory, caches nothing and
//! downloads from the public Hub: a library user opts in to each place.

use std::path::{Path, PathBuf};

use crate::source::Dataset;
pub use crate::source::DEFAULT_OMNIGLOT_REPO;

/// The Hub endpoint when none is configured.
pub const DEFAULT_HUB_ENDPOINT: &str = "https://huggingface.co";

/// Where [`crate::locate`] looks for data sets and where decoded tensors are cached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataConfig {
    /// The explicit data directory (`--data-dir`), searched first. It must exist: a mistyped
    /// path is an error, never skipped.
    pub data_dir: Option<PathBuf>,
    /// The data directory from the environment (`UFOM_DATA_DIR`), searched second; reported
    /// as [`crate::Origin::EnvVar`].
    pub env_data_dir: Option<PathBuf>,
    /// The decoded-tensor cache (Omniglot's resized images); `None`: nothing is cached.
    pub cache_dir: Option<PathBuf>,
    /// The Hugging Face Hub: its local cache (searched last) and downloads.
    pub hub: HubConfig,
}

impl DataConfig {
    /// Only `dir` is searched (as if given as `--data-dir`); no cache, no Hub cache.
    pub fn with_data_dir(dir: impl Into<PathBuf>) -> Self {
        DataConfig {
            data_dir: Some(dir.into()),
            ..DataConfig::default()
        }
    }

    /// The explicit data directory, if any.
    pub fn data_dir(&self) -> Option<&Path> {
        self.data_dir.as_deref()
    }
}

/// The Hugging Face Hub settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfig {
    /// The Hub cache directory (the `huggingface_hub` layout); `None`: the Hub cache is
    /// neither searched nor downloaded into.
    pub cache_dir: Option<PathBuf>,
    /// The Hub's URL (a mirror, or an address nothing listens on for offline tests);
    /// `None`: [`DEFAULT_HUB_ENDPOINT`].
    pub endpoint: Option<String>,
    /// A file holding the access token (as `huggingface-cli login` writes it); absent or empty
    /// files mean no token.
    pub token_file: Option<PathBuf>,
    /// The Omniglot repository (two official zips); MNIST's and CIFAR-100's are fixed.
    pub omniglot_repo: String,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            cache_dir: None,
            endpoint: None,
            token_file: None,
            omniglot_repo: DEFAULT_OMNIGLOT_REPO.into(),
        }
    }
}

impl HubConfig {
    /// The Hub dataset repository [`crate::fetch`] downloads `dataset` from.
    ///
    /// MNIST: `ylecun/mnist` (parquet); CIFAR-100: `uoft-cs/cifar100` (parquet); Omniglot:
    /// [`HubConfig::omniglot_repo`], expected to hold the two official zip files
    /// `images_background.zip` and `images_evaluation.zip`.
    pub fn repo(&self, dataset: Dataset) -> String {
        match dataset {
            Dataset::Omniglot => self.omniglot_repo.clone(),
            d => d.default_hub_repo().into(),
        }
    }

    /// The endpoint downloads use.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_deref().unwrap_or(DEFAULT_HUB_ENDPOINT)
    }

    /// The access token, if [`HubConfig::token_file`] holds one.
    pub fn token(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.token_file.as_ref()?).ok()?;
        Some(text.trim().to_string()).filter(|t| !t.is_empty())
    }

    /// The cache folder of `dataset`'s Hub repository.
    pub fn repo_cache_dir(&self, dataset: Dataset) -> Option<PathBuf> {
        Some(self.cache_dir.as_ref()?.join(format!(
            "datasets--{}",
            self.repo(dataset).replace('/', "--")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_search_and_cache_nothing() {
        let c = DataConfig::default();
        assert_eq!(c.data_dir(), None);
        assert_eq!(c.cache_dir, None);
        assert_eq!(c.hub.repo(Dataset::Omniglot), DEFAULT_OMNIGLOT_REPO);
        assert_eq!(c.hub.repo(Dataset::Mnist), "ylecun/mnist");
        assert_eq!(c.hub.endpoint(), DEFAULT_HUB_ENDPOINT);
        assert_eq!(c.hub.repo_cache_dir(Dataset::Mnist), None);
        assert_eq!(c.hub.token(), None);
    }

    #[test]
    fn the_omniglot_repo_names_its_cache_folder() {
        let hub = HubConfig {
            cache_dir: Some("/c".into()),
            omniglot_repo: "me/omni".into(),
            ..HubConfig::default()
        };
        assert_eq!(
            hub.repo_cache_dir(Dataset::Omniglot),
            Some(PathBuf::from("/c/datasets--me--omni"))
        );
    }

    #[test]
    fn the_token_is_the_trimmed_file_content() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "  hf_abc\n").unwrap();
        let hub = HubConfig {
            token_file: Some(file.clone()),
            ..HubConfig::default()
        };
        assert_eq!(hub.token().as_deref(), Some("hf_abc"));
        std::fs::write(&file, "\n").unwrap();
        assert_eq!(hub.token(), None);
    }
}
