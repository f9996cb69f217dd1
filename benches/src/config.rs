//! The `ufom` binary's configuration from the environment: every environment variable the
//! project reads is listed here, and this module is where the binary reads them.
//!
//! Below the binary's edge nothing reads the environment: `hypergrad`, `ufom-datasets` and the
//! `ufom_bench` harness take their settings as values ([`ufom_datasets::DataConfig`], the
//! harness's `Context`, ...). `main` calls [`Config::from_env`] once, after
//! [`ufom_bench::process::configure`], and hands each subcommand what it needs. An empty
//! value counts as unset, except where the table says otherwise.
//!
//! | variable | read by | what it does |
//! |---|---|---|
//! | `UFOM_DATA_DIR` | [`Config::from_env`] → [`DataConfig::env_data_dir`] | a directory holding `mnist/`, `omniglot/`, `cifar100/`, searched after `--data-dir` and before the Hub cache (the real-data tests read it too, to find the data) |
//! | `UFOM_CACHE_DIR` | → [`DataConfig::cache_dir`] | the decoded-tensor cache (Omniglot resized to 28×28); default `$XDG_CACHE_HOME/ufom`, else `$HOME/.cache/ufom`; none of the three set: no cache |
//! | `UFOM_OMNIGLOT_REPO` | → [`HubConfig::omniglot_repo`] | the Hub repository `ufom data fetch omniglot` downloads (two official zips); default `brendenlake/omniglot` |
//! | `HF_HUB_CACHE` | → [`HubConfig::cache_dir`] | the Hugging Face Hub cache: searched last for data sets, `ufom data fetch` downloads into it; default `$HF_HOME/hub`, else `$HOME/.cache/huggingface/hub` |
//! | `HF_HOME` | → [`HubConfig::cache_dir`], [`HubConfig::token_file`] | the Hugging Face home: its `hub/` is the default Hub cache, its `token` file (`huggingface-cli login`) the access token; default `$HOME/.cache/huggingface` |
//! | `HF_ENDPOINT` | → [`HubConfig::endpoint`] | the Hub's URL for `ufom data fetch` (a mirror); default `https://huggingface.co` |
//! | `XDG_CACHE_HOME`, `HOME` | → the defaults above | where the default caches and token file are |
//! | `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` (and lower case) | hf-hub's HTTP client (ureq), during `ufom data fetch` | the proxy for downloads (a dependency's own read; hf-hub offers no setting for it) |
//! | `RUST_LOG` | → [`Config::log_filter`] | the `tracing` filter for stderr logs; when set it replaces the level `-v` / `-q` choose |
//! | `SLURM_ARRAY_TASK_ID` | → [`Config::slurm_array_task_id`] | `ufom cell run`: the task index when `--index` is not given (an empty value is an error, not unset) |
//! | `UFOM_FEWSHOT_BACKWARD_CLIP` | → [`Config::old_backward_clip_set`] | no longer a setting: `ufom bench` refuses to run while it is set (even empty), pointing to `--backward-clip` |
//! | `LD_LIBRARY_PATH` | → [`Config::library_path`] | `ufom doctor` looks for the CUDA libraries there first (the dynamic loader reads it too) |
//! | `RAYON_NUM_THREADS` | [`ufom_bench::process::configure`] (start-up of `ufom` and the benches) | rayon's and candle's thread count; set to the available parallelism when unset; the threads `--jobs` shares among its cells (default: one cell per thread) |
//! | `MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`, `GLIBC_TUNABLES` | [`ufom_bench::process::configure`] | when any is set, glibc's allocator thresholds are left to the user |
//! | `VERIFY_REPORT` | `verify::report::report_path_from_env` (the edge of `cargo test -p verify`) | the file the verification tests write their records to; default `target/verify.json` |
//!
//! Build time only (set by `benches/build.rs`, compiled in): `UFOM_BUILD_COMMIT`,
//! `UFOM_CANDLE_VERSION`. The shell scripts read their own: `UFOM_BIN`, `UFOM_DEVICE`,
//! `UFOM_SCALE`, `UFOM_CUDA_LIBS`, `UFOM_PYTHON`, `UFOM_CUDA_VERIFY` (`scripts/`, README's GPU
//! section).

use std::ffi::OsString;
use std::path::PathBuf;
pub use ufom_bench::harness::experiments::fewshot::OLD_BACKWARD_CLIP_ENV;
use ufom_datasets::{DataConfig, HubConfig};

/// Everything the binary takes from the environment (see the module docs' table).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// Where the data sets are, without `--data-dir` (each command adds its own:
    /// [`Config::data`]).
    pub data: DataConfig,
    /// `RUST_LOG`.
    pub log_filter: Option<String>,
    /// `SLURM_ARRAY_TASK_ID`, unparsed (`None` when unset or not Unicode).
    pub slurm_array_task_id: Option<String>,
    /// Whether the retired `UFOM_FEWSHOT_BACKWARD_CLIP` is set.
    pub old_backward_clip_set: bool,
    /// `LD_LIBRARY_PATH`, split.
    pub library_path: Vec<PathBuf>,
    /// `RAYON_NUM_THREADS` (set at start-up to the available parallelism unless the user set
    /// it): the threads `--jobs` shares among its cells; 1 when unset or not a positive number.
    pub threads: usize,
}

impl Config {
    /// Reads the process environment (the binary's one place that does).
    pub fn from_env() -> Self {
        Self::from_vars(|k| std::env::var_os(k))
    }

    /// The configuration for the variables `var` gives (`None`: unset).
    pub fn from_vars(var: impl Fn(&str) -> Option<OsString>) -> Self {
        let path = |k: &str| var(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let text = |k: &str| {
            var(k)
                .and_then(|v| v.into_string().ok())
                .filter(|v| !v.is_empty())
        };
        let home = path("HOME");
        let hf_home =
            path("HF_HOME").or_else(|| home.as_ref().map(|h| h.join(".cache/huggingface")));
        let data = DataConfig {
            data_dir: None,
            env_data_dir: path(ufom_datasets::source::DATA_DIR_ENV),
            cache_dir: path("UFOM_CACHE_DIR")
                .or_else(|| path("XDG_CACHE_HOME").map(|p| p.join("ufom")))
                .or_else(|| home.as_ref().map(|h| h.join(".cache/ufom"))),
            hub: HubConfig {
                cache_dir: path("HF_HUB_CACHE").or_else(|| hf_home.as_ref().map(|h| h.join("hub"))),
                endpoint: text("HF_ENDPOINT"),
                token_file: hf_home.map(|h| h.join("token")),
                omniglot_repo: text("UFOM_OMNIGLOT_REPO")
                    .unwrap_or_else(|| ufom_datasets::config::DEFAULT_OMNIGLOT_REPO.into()),
            },
        };
        Config {
            data,
            log_filter: text("RUST_LOG"),
            slurm_array_task_id: var("SLURM_ARRAY_TASK_ID").and_then(|v| v.into_string().ok()),
            old_backward_clip_set: var(OLD_BACKWARD_CLIP_ENV).is_some(),
            library_path: var("LD_LIBRARY_PATH")
                .map(|v| std::env::split_paths(&v).collect())
                .unwrap_or_default(),
            threads: text("RAYON_NUM_THREADS")
                .and_then(|v| v.parse().ok())
                .filter(|&n: &usize| n > 0)
                .unwrap_or(1),
        }
    }

    /// The data configuration with `--data-dir` (searched first) added.
    pub fn data(&self, data_dir: Option<PathBuf>) -> DataConfig {
        DataConfig {
            data_dir,
            ..self.data.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::path::Path;

    fn config(vars: &[(&str, &str)]) -> Config {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Config::from_vars(|k| map.get(k).cloned())
    }

    #[test]
    fn nothing_set_means_no_places_and_the_defaults() {
        let c = config(&[]);
        assert_eq!(c.data, DataConfig::default());
        assert_eq!(c.log_filter, None);
        assert_eq!(c.slurm_array_task_id, None);
        assert!(!c.old_backward_clip_set);
        assert!(c.library_path.is_empty());
    }

    #[test]
    fn home_gives_the_default_caches_and_token() {
        let c = config(&[("HOME", "/h")]);
        assert_eq!(
            c.data.cache_dir.as_deref(),
            Some(Path::new("/h/.cache/ufom"))
        );
        assert_eq!(
            c.data.hub.cache_dir.as_deref(),
            Some(Path::new("/h/.cache/huggingface/hub"))
        );
        assert_eq!(
            c.data.hub.token_file.as_deref(),
            Some(Path::new("/h/.cache/huggingface/token"))
        );
        assert_eq!(c.data.env_data_dir, None);
    }

    #[test]
    fn each_variable_overrides_its_default() {
        let c = config(&[
            ("HOME", "/h"),
            ("XDG_CACHE_HOME", "/xdg"),
            ("HF_HOME", "/hf"),
            ("UFOM_DATA_DIR", "/data"),
            ("HF_ENDPOINT", "http://mirror"),
            ("UFOM_OMNIGLOT_REPO", "me/omniglot"),
            ("RUST_LOG", "debug"),
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("UFOM_FEWSHOT_BACKWARD_CLIP", ""),
            ("LD_LIBRARY_PATH", "/a:/b"),
        ]);
        assert_eq!(c.data.env_data_dir.as_deref(), Some(Path::new("/data")));
        assert_eq!(c.data.cache_dir.as_deref(), Some(Path::new("/xdg/ufom")));
        assert_eq!(c.data.hub.cache_dir.as_deref(), Some(Path::new("/hf/hub")));
        assert_eq!(
            c.data.hub.token_file.as_deref(),
            Some(Path::new("/hf/token"))
        );
        assert_eq!(c.data.hub.endpoint(), "http://mirror");
        assert_eq!(c.data.hub.omniglot_repo, "me/omniglot");
        assert_eq!(c.log_filter.as_deref(), Some("debug"));
        assert_eq!(c.slurm_array_task_id.as_deref(), Some("3"));
        assert!(c.old_backward_clip_set, "set, even empty");
        assert_eq!(c.library_path, [PathBuf::from("/a"), PathBuf::from("/b")]);

        let c = config(&[
            ("HOME", "/h"),
            ("XDG_CACHE_HOME", "/xdg"),
            ("UFOM_CACHE_DIR", "/cache"),
            ("HF_HOME", "/hf"),
            ("HF_HUB_CACHE", "/hubcache"),
        ]);
        assert_eq!(c.data.cache_dir.as_deref(), Some(Path::new("/cache")));
        assert_eq!(
            c.data.hub.cache_dir.as_deref(),
            Some(Path::new("/hubcache"))
        );
        // The token stays in HF_HOME whatever the Hub cache is.
        assert_eq!(
            c.data.hub.token_file.as_deref(),
            Some(Path::new("/hf/token"))
        );
    }

    #[test]
    fn empty_values_count_as_unset() {
        let c = config(&[
            ("UFOM_DATA_DIR", ""),
            ("UFOM_CACHE_DIR", ""),
            ("HF_HUB_CACHE", ""),
            ("HF_ENDPOINT", ""),
            ("UFOM_OMNIGLOT_REPO", ""),
            ("RUST_LOG", ""),
        ]);
        assert_eq!(c.data, DataConfig::default());
        assert_eq!(c.log_filter, None);
    }

    #[test]
    fn the_data_dir_is_added_per_command() {
        let c = config(&[("UFOM_DATA_DIR", "/data")]);
        let d = c.data(Some("/given".into()));
        assert_eq!(d.data_dir(), Some(Path::new("/given")));
        assert_eq!(d.env_data_dir.as_deref(), Some(Path::new("/data")));
    }
}
