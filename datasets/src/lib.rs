//! Data sets for the hypergradient benchmarks: MNIST, Omniglot and CIFAR-100 read from a
//! user's files or the Hugging Face Hub cache, the data-hypercleaning split and the few-shot
//! task sampler.
//!
//! Sources are resolved by [`locate`]: an explicit directory, then `UFOM_DATA_DIR`,
//! then the Hub cache (filled by [`hub::fetch`]). The crate never reads the environment: every
//! place it looks comes from the [`DataConfig`] its caller passes (the `ufom` binary fills it
//! from the variables documented in `benches/src/config.rs`). Every error from a file names the file
//! ([`DataError`]); no user input makes the library panic. Every random draw goes through a
//! `ChaCha8Rng` seeded from a `u64`.

pub mod cache;
pub mod cifar;
pub mod config;
pub mod error;
pub mod fewshot;
pub mod hub;
pub mod hypercleaning;
pub mod idx;
pub mod mnist;
pub mod omniglot;
pub mod parquet_io;
pub mod resolve;
pub mod source;
pub mod tensor;

pub use cifar::{Cifar100, CifarSplit};
pub use config::{DataConfig, HubConfig};
pub use error::{DataError, Result};
pub use fewshot::{
    cifar100_split, omniglot_split, omniglot_split_with, ClassImages, FewShotSplit, Split, Task,
    TaskSampler,
};
pub use hub::fetch;
pub use hypercleaning::{hypercleaning_split, HypercleaningConfig, HypercleaningSplit};
pub use mnist::{ImageLayout, Mnist, MnistSplit};
pub use omniglot::{Omniglot, OmniglotCharacter, OmniglotOptions};
pub use resolve::locate;
pub use source::{Dataset, DatasetFiles, Located, Origin};
pub use tensor::{labels_to_tensor, one_hot, pixels_to_tensor};
