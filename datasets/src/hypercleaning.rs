//! The data hypercleaning split (REFERENCE §5): MNIST train → `n_train` train + `n_val`
//! validation examples, a fraction of the train labels corrupted, MNIST test for testing.
//!
//! Procedure, all draws from one `ChaCha8Rng::seed_from_u64(seed)`:
//! 1. shuffle the indices `0..60000` of MNIST train; the first `n_train` are the train set,
//!    the next `n_val` the validation set;
//! 2. shuffle the train positions; the first `round(corruption * n_train)` are *corrupted*:
//!    their label is replaced by one drawn uniformly from `0..10`.
//!
//! Convention (that of the papers' code): `corrupted` marks **every resampled index**, even
//! when the uniform draw happens to give back the true label (probability 1/10), so
//! `corrupted_fraction() == round(p·n)/n` exactly; [`HypercleaningSplit::changed_fraction`]
//! reports the fraction whose label actually differs (≈ 0.9·p). The "clean part" on which the
//! benchmark reports train accuracy is `!corrupted`.

use candle_core::{DType, Device, Tensor};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{DataError, Result};
use crate::mnist::{ImageLayout, Mnist, CLASSES};
use crate::tensor::{labels_to_tensor, one_hot};

/// Configuration of the split.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HypercleaningConfig {
    /// Training examples (default 5000; stocBiO variant 20000).
    pub n_train: usize,
    /// Validation examples (default 5000).
    pub n_val: usize,
    /// Fraction of training labels resampled (default 0.5; stocBiO 0.1–0.2).
    pub corruption: f64,
    /// Seed of every random draw.
    pub seed: u64,
    /// Layout of the image tensors (default `(N, 784)`).
    pub layout: ImageLayout,
}

impl Default for HypercleaningConfig {
    fn default() -> Self {
        HypercleaningConfig {
            n_train: 5000,
            n_val: 5000,
            corruption: 0.5,
            seed: 0,
            layout: ImageLayout::Flat,
        }
    }
}

/// The hypercleaning data, tensors on the caller's device and dtype.
#[derive(Debug, Clone)]
pub struct HypercleaningSplit {
    /// Train images `(n_train, 784)` (or NCHW).
    pub train_x: Tensor,
    /// Train labels after corruption.
    pub train_y: Vec<u32>,
    /// True train labels.
    pub train_y_clean: Vec<u32>,
    /// `corrupted[i]`: label `i` was resampled (see the module docs for the convention).
    pub corrupted: Vec<bool>,
    /// Indices into MNIST train of the train examples.
    pub train_indices: Vec<usize>,
    /// Validation images.
    pub val_x: Tensor,
    /// Validation labels (clean).
    pub val_y: Vec<u32>,
    /// Indices into MNIST train of the validation examples.
    pub val_indices: Vec<usize>,
    /// Test images (all of MNIST test).
    pub test_x: Tensor,
    /// Test labels.
    pub test_y: Vec<u32>,
}

impl HypercleaningSplit {
    /// Positions (into the train set) of the corrupted examples, ascending.
    pub fn corrupted_indices(&self) -> Vec<usize> {
        (0..self.corrupted.len())
            .filter(|&i| self.corrupted[i])
            .collect()
    }

    /// Positions of the clean examples, ascending.
    pub fn clean_indices(&self) -> Vec<usize> {
        (0..self.corrupted.len())
            .filter(|&i| !self.corrupted[i])
            .collect()
    }

    /// Fraction of train labels resampled.
    pub fn corrupted_fraction(&self) -> f64 {
        self.corrupted.iter().filter(|&&c| c).count() as f64 / self.corrupted.len().max(1) as f64
    }

    /// Fraction of train labels that actually differ from the truth.
    pub fn changed_fraction(&self) -> f64 {
        let changed = self
            .train_y
            .iter()
            .zip(&self.train_y_clean)
            .filter(|(a, b)| a != b)
            .count();
        changed as f64 / self.train_y.len().max(1) as f64
    }

    /// One-hot `(n, 10)` of the (corrupted) train labels.
    pub fn train_y_one_hot(&self, device: &Device, dtype: DType) -> Result<Tensor> {
        one_hot(&self.train_y, CLASSES, device, dtype)
    }

    /// One-hot validation labels.
    pub fn val_y_one_hot(&self, device: &Device, dtype: DType) -> Result<Tensor> {
        one_hot(&self.val_y, CLASSES, device, dtype)
    }

    /// One-hot test labels.
    pub fn test_y_one_hot(&self, device: &Device, dtype: DType) -> Result<Tensor> {
        one_hot(&self.test_y, CLASSES, device, dtype)
    }

    /// Train labels as a `u32` tensor.
    pub fn train_y_tensor(&self, device: &Device) -> Result<Tensor> {
        labels_to_tensor(&self.train_y, device)
    }
}

/// Index-level split: (train indices, val indices, corrupted labels, corrupted flags).
type IndexSplit = (Vec<usize>, Vec<usize>, Vec<u32>, Vec<bool>);

/// The random part of the split, independent of tensors: indices, corrupted labels, flags.
pub fn split_indices(labels: &[u8], cfg: &HypercleaningConfig) -> Result<IndexSplit> {
    let n = labels.len();
    if cfg.n_train == 0 || cfg.n_train.saturating_add(cfg.n_val) > n {
        return Err(DataError::Config(format!(
            "n_train {} + n_val {} must be positive and at most the {n} MNIST training images",
            cfg.n_train, cfg.n_val
        )));
    }
    if !(0.0..=1.0).contains(&cfg.corruption) {
        return Err(DataError::Config(format!(
            "corruption rate {} outside [0, 1]",
            cfg.corruption
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut perm: Vec<usize> = (0..n).collect();
    perm.shuffle(&mut rng);
    let train: Vec<usize> = perm[..cfg.n_train].to_vec();
    let val: Vec<usize> = perm[cfg.n_train..cfg.n_train + cfg.n_val].to_vec();
    let n_corrupt = ((cfg.corruption * cfg.n_train as f64).round() as usize).min(cfg.n_train);
    let mut positions: Vec<usize> = (0..cfg.n_train).collect();
    positions.shuffle(&mut rng);
    let mut corrupted = vec![false; cfg.n_train];
    let mut y: Vec<u32> = train.iter().map(|&i| u32::from(labels[i])).collect();
    let mut chosen = positions[..n_corrupt].to_vec();
    chosen.sort_unstable();
    for p in chosen {
        corrupted[p] = true;
        y[p] = rng.random_range(0..CLASSES as u32);
    }
    Ok((train, val, y, corrupted))
}

/// Builds the hypercleaning split from MNIST.
pub fn hypercleaning_split(
    mnist: &Mnist,
    cfg: &HypercleaningConfig,
    device: &Device,
    dtype: DType,
) -> Result<HypercleaningSplit> {
    let (train_indices, val_indices, train_y, corrupted) = split_indices(&mnist.train.labels, cfg)?;
    let lab = |idx: &[usize]| -> Vec<u32> {
        idx.iter()
            .map(|&i| u32::from(mnist.train.labels[i]))
            .collect()
    };
    let split = HypercleaningSplit {
        train_x: mnist
            .train
            .select_images(&train_indices, cfg.layout, device, dtype)?,
        train_y_clean: lab(&train_indices),
        train_y,
        corrupted,
        val_x: mnist
            .train
            .select_images(&val_indices, cfg.layout, device, dtype)?,
        val_y: lab(&val_indices),
        train_indices,
        val_indices,
        test_x: mnist.test.images_tensor(cfg.layout, device, dtype)?,
        test_y: mnist.test.labels_u32(),
    };
    tracing::info!(
        n_train = cfg.n_train,
        n_val = cfg.n_val,
        corrupted = split.corrupted_fraction(),
        changed = split.changed_fraction(),
        "hypercleaning split"
    );
    Ok(split)
}
