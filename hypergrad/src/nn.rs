//! Small functional building blocks written from candle primitives whose first and second
//! derivatives are verified in the operator checks. `candle_nn::ops::{log_softmax, sigmoid}`
//! pass the same checks and give the same values, but cost more in every gradient and HVP
//! (measured; README "Dependencies"), so these stay, with candle-nn's as their reference in the
//! tests. Cross-entropy is a one-hot product because the engine needs per-example (weighted)
//! losses and soft targets, which `candle_nn::loss::cross_entropy` (a mean over class indices,
//! through `gather`) does not give. One-hot targets are candle-nn's.

use crate::error::Result;
use candle_core::{Tensor, D};

/// log softmax over the last dimension; the max shift is a constant (detached), so no gradient
/// flows through the max (candle-nn's differentiates through it, to the same values).
pub fn log_softmax(logits: &Tensor) -> Result<Tensor> {
    let max = logits.max_keepdim(D::Minus1)?.detach();
    let shifted = logits.broadcast_sub(&max)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    Ok(shifted.broadcast_sub(&lse)?)
}

/// σ(x) = 1 / (1 + e^{−x}).
pub fn sigmoid(x: &Tensor) -> Result<Tensor> {
    Ok((x.neg()?.exp()? + 1.0)?.recip()?)
}

/// Per-example cross-entropy −Σ_c y_c log softmax(logits)_c for one-hot (or soft) targets.
pub fn cross_entropy_per_example(logits: &Tensor, one_hot: &Tensor) -> Result<Tensor> {
    Ok((log_softmax(logits)? * one_hot)?.sum(D::Minus1)?.neg()?)
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

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// candle-nn's ops are the reference: the same values, bitwise.
    #[test]
    fn log_softmax_and_sigmoid_equal_candle_nn() -> Result<()> {
        let x = Tensor::new(
            &[[0.3f64, -1.2, 2.5, 0.0], [4.0, 4.0, -3.0, 1e-3]],
            &Device::Cpu,
        )?;
        let ours = log_softmax(&x)?.flatten_all()?.to_vec1::<f64>()?;
        let theirs = candle_nn::ops::log_softmax(&x, D::Minus1)?
            .flatten_all()?
            .to_vec1::<f64>()?;
        assert_eq!(ours, theirs);
        let ours = sigmoid(&x)?.flatten_all()?.to_vec1::<f64>()?;
        let theirs = candle_nn::ops::sigmoid(&x)?
            .flatten_all()?
            .to_vec1::<f64>()?;
        assert_eq!(ours, theirs);
        Ok(())
    }

    /// One-hot rows through candle-nn: a 1 at each label, 0 elsewhere; out-of-range refused.
    #[test]
    fn one_hot_rows() -> Result<()> {
        let t = one_hot(&[2, 0, 1], 3, candle_core::DType::F32, &Device::Cpu)?;
        assert_eq!(
            t.to_vec2::<f32>()?,
            vec![
                vec![0.0, 0.0, 1.0],
                vec![1.0, 0.0, 0.0],
                vec![0.0, 1.0, 0.0]
            ]
        );
        assert!(one_hot(&[3], 3, candle_core::DType::F32, &Device::Cpu).is_err());
        Ok(())
    }
}
