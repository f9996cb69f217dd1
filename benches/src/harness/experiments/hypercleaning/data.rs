//! The hypercleaning split as tensors: the corrupted training set with one-hot labels, the
//! validation set, the clean part of the training set and the test set.

use super::Sizes;
use anyhow::Result;
use candle_core::{DType, Device, Tensor};
use hypergrad::problems::MlpData;
use ufom_datasets::{hypercleaning_split, one_hot, HypercleaningConfig, Mnist};

/// The split as tensors.
pub(super) struct Data {
    pub(super) mlp: MlpData,
    pub(super) train_clean_x: Tensor,
    pub(super) train_clean_y: Tensor,
    pub(super) test_x: Tensor,
    pub(super) test_y: Tensor,
    pub(super) corrupted: Vec<bool>,
}

impl Data {
    pub(super) fn load(mnist: &Mnist, s: &Sizes, device: &Device) -> Result<Self> {
        let cfg = HypercleaningConfig {
            n_train: s.n_train,
            n_val: s.n_val,
            corruption: 0.5,
            seed: 0,
            ..Default::default()
        };
        let split = hypercleaning_split(mnist, &cfg, device, DType::F32)?;
        let clean: Vec<u32> = (0..s.n_train)
            .filter(|&i| !split.corrupted[i])
            .map(|i| i as u32)
            .collect();
        let clean_idx = Tensor::from_vec(clean.clone(), clean.len(), device)?;
        let clean_labels: Vec<u32> = clean
            .iter()
            .map(|&i| split.train_y_clean[i as usize])
            .collect();
        Ok(Self {
            mlp: MlpData {
                train_x: split.train_x.clone(),
                train_y: one_hot(&split.train_y, 10, device, DType::F32)?,
                val_x: split.val_x.clone(),
                val_y: one_hot(&split.val_y, 10, device, DType::F32)?,
            },
            train_clean_x: split.train_x.index_select(&clean_idx, 0)?,
            train_clean_y: one_hot(&clean_labels, 10, device, DType::F32)?,
            test_x: split.test_x.clone(),
            test_y: one_hot(&split.test_y, 10, device, DType::F32)?,
            corrupted: split.corrupted.clone(),
        })
    }
}
