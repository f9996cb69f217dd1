//! Small functional building blocks written from candle primitives whose first and second
//! derivatives are verified (matmul, relu, exp, log, ...). Cross-entropy uses one-hot products
//! because stock candle's `gather` has no working double backward.

use crate::error::Result;
use candle_core::{Tensor, D};

/// log softmax over the last dimension; the max shift is a constant (detached).
pub fn log_softmax(logits: &Tensor) -> Result<Tensor> {
    let max = logits.max_keepdim(D::Minus1)?.detach();
    let shifted = logits.broadcast_sub(&max)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    Ok(shifted.broadcast_sub(&lse)?)
}

/// Per-example cross-entropy −Σ_c y_c log softmax(logits)_c for one-hot (or soft) targets.
pub fn cross_entropy_per_example(logits: &Tensor, one_hot: &Tensor) -> Result<Tensor> {
    Ok((log_softmax(logits)? * one_hot)?.sum(D::Minus1)?.neg()?)
}

/// Mean cross-entropy over the batch.
pub fn cross_entropy(logits: &Tensor, one_hot: &Tensor) -> Result<Tensor> {
    Ok(cross_entropy_per_example(logits, one_hot)?.mean_all()?)
}

/// σ(x) = 1 / (1 + e^{−x}).
pub fn sigmoid(x: &Tensor) -> Result<Tensor> {
    Ok((x.neg()?.exp()? + 1.0)?.recip()?)
}

/// x W + b for x of shape (n, d_in), W (d_in, d_out), b (d_out).
pub fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    Ok(x.matmul(w)?.broadcast_add(b)?)
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
