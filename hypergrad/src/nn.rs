//! Small functional building blocks whose first and second derivatives are verified in the
//! operator checks. log-softmax and sigmoid are candle-nn's (`candle_nn::ops`, checked there);
//! cross-entropy is a one-hot product over candle-nn's log-softmax because the engine needs
//! per-example (weighted) losses and soft targets, which `candle_nn::loss::cross_entropy`
//! (a mean over class indices, through `gather`) does not give.

use crate::error::Result;
use candle_core::{Tensor, D};

/// σ(x) = 1 / (1 + e^{−x}): candle-nn's fused op (first and second order checked).
pub use candle_nn::ops::sigmoid;

/// Per-example cross-entropy −Σ_c y_c log softmax(logits)_c for one-hot (or soft) targets.
pub fn cross_entropy_per_example(logits: &Tensor, one_hot: &Tensor) -> Result<Tensor> {
    let log_p = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    Ok((log_p * one_hot)?.sum(D::Minus1)?.neg()?)
}

/// Mean cross-entropy over the batch.
pub fn cross_entropy(logits: &Tensor, one_hot: &Tensor) -> Result<Tensor> {
    Ok(cross_entropy_per_example(logits, one_hot)?.mean_all()?)
}

/// x W + b for x of shape (n, d_in), W (d_in, d_out), b (d_out).
pub fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    Ok(x.matmul(w)?.broadcast_add(b)?)
}

/// One-hot rows (in `dtype`, on `device`) for labels in 0..classes: candle-nn's `one_hot`;
/// a label out of range is an error naming it.
pub fn one_hot(
    labels: &[u32],
    classes: usize,
    dtype: candle_core::DType,
    device: &candle_core::Device,
) -> Result<Tensor> {
    let indices = Tensor::from_slice(labels, labels.len(), device)?;
    Ok(candle_nn::encoding::one_hot(indices, classes, 1f64, 0f64)?.to_dtype(dtype)?)
}

/// Fraction of rows whose arg-max matches the one-hot target's.
pub fn accuracy(logits: &Tensor, one_hot: &Tensor) -> Result<f64> {
    let pred = logits.argmax(D::Minus1)?;
    let truth = one_hot.argmax(D::Minus1)?;
    let hits = pred
        .eq(&truth)?
        .to_dtype(candle_core::DType::F64)?
        .mean_all()?
        .to_scalar::<f64>()?;
    Ok(hits)
}
