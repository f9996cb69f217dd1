//! The few-shot network of the Reptile codebase the authors forked (REFERENCE §6), written
//! functionally so that its parameters are the engine's [`ParamList`]:
//!
//! `layers` × [conv 3×3, `filters` filters, stride 2, TF 'same' padding → batch norm from the
//! statistics of the batch being evaluated (transductive), learnable scale γ and shift β →
//! ReLU] → flatten → dense to `classes` logits.
//!
//! Details the papers leave implicit, fixed here:
//! - TF 'same' padding with stride 2 and a 3×3 kernel gives ⌈h/2⌉ outputs and pads
//!   `max((⌈h/2⌉−1)·2 + 3 − h, 0)` rows, the smaller half *before* (top/left). For even h that
//!   is 0 before and 1 after, which candle's symmetric `padding = 1` would not reproduce (same
//!   shape, sampling grid shifted by one pixel), so the padding is applied explicitly with
//!   `pad_with_zeros` and the convolution runs unpadded. 28 → 14 → 7 → 4 → 2 and
//!   32 → 16 → 8 → 4 → 2.
//! - The TF conv bias is omitted: batch norm subtracts the per-channel mean right after, so the
//!   bias has no effect on the output (its gradient is identically zero).
//! - Batch norm: μ and σ² per channel over (N, H, W), biased variance, ε = 1e-3 (the default of
//!   `tf.layers.batch_normalization`), y = (x − μ)/√(σ² + ε)·γ + β. Only primitive ops whose
//!   first and second derivatives are verified (mean, sqr, sqrt, broadcast arithmetic).
//! - No max-pooling anywhere (candle's `max_pool2d` backward is wrong).
//! - Initialisation: Glorot-uniform kernels and dense weights (TF's default), γ = 1, β = 0,
//!   dense bias 0.
//!
//! Parameter order: for each layer `[kernel (f, c_in, 3, 3), γ (f), β (f)]`, then
//! `[W (features, classes), b (classes)]`.

use crate::error::{invalid, Result};
use crate::nn::linear;
use crate::params::ParamList;
use candle_core::{DType, Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Batch-norm ε (TF's default).
pub const BN_EPS: f64 = 1e-3;

/// Shape of the few-shot conv network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvNet {
    /// Input channels (1 for Omniglot, 3 for CIFAR-100).
    pub channels: usize,
    /// Filters per conv layer (64 in the paper).
    pub filters: usize,
    /// Conv blocks (4 in the paper).
    pub layers: usize,
    /// Output classes m.
    pub classes: usize,
    /// Input height = width (28 Omniglot, 32 CIFAR-100).
    pub in_hw: usize,
}

/// (before, after) zero rows of TF 'same' padding for a 3×3 kernel with stride 2.
fn same_padding(h: usize) -> (usize, usize) {
    let out = h.div_ceil(2);
    let total = ((out - 1) * 2 + 3).saturating_sub(h);
    (total / 2, total - total / 2)
}

impl ConvNet {
    /// The paper's Omniglot network (28×28×1 input, 64 filters, 4 blocks).
    pub fn omniglot(classes: usize, filters: usize) -> Self {
        Self { channels: 1, filters, layers: 4, classes, in_hw: 28 }
    }

    /// The paper's CIFAR-100 network (32×32×3 input, 64 filters, 4 blocks).
    pub fn cifar100(classes: usize, filters: usize) -> Self {
        Self { channels: 3, filters, layers: 4, classes, in_hw: 32 }
    }

    fn validate(&self) -> Result<()> {
        if self.channels == 0 || self.filters == 0 || self.layers == 0 || self.classes < 2 {
            return Err(invalid(
                "convnet",
                format!("{self:?}"),
                "needs channels, filters, layers >= 1 and >= 2 classes",
            ));
        }
        if self.in_hw == 0 {
            return Err(invalid("in_hw", 0, "needs a positive input side"));
        }
        Ok(())
    }

    /// Side of the feature map after the conv blocks (⌈h/2⌉ per block).
    pub fn out_hw(&self) -> usize {
        (0..self.layers).fold(self.in_hw, |h, _| h.div_ceil(2))
    }

    /// Inputs of the dense layer.
    pub fn features(&self) -> usize {
        self.filters * self.out_hw() * self.out_hw()
    }

    /// Shapes of the parameter tensors, in [`ParamList`] order.
    pub fn param_shapes(&self) -> Vec<Vec<usize>> {
        let mut shapes = Vec::with_capacity(3 * self.layers + 2);
        for l in 0..self.layers {
            let c_in = if l == 0 { self.channels } else { self.filters };
            shapes.push(vec![self.filters, c_in, 3, 3]);
            shapes.push(vec![self.filters]);
            shapes.push(vec![self.filters]);
        }
        shapes.push(vec![self.features(), self.classes]);
        shapes.push(vec![self.classes]);
        shapes
    }

    /// Parameters drawn from `seed`: Glorot-uniform kernels and dense weights, γ = 1, β = 0, b = 0.
    pub fn init(&self, seed: u64, dtype: DType, device: &Device) -> Result<ParamList> {
        self.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut out = Vec::new();
        for (i, shape) in self.param_shapes().into_iter().enumerate() {
            let n: usize = shape.iter().product();
            let is_weight = shape.len() > 1;
            let values: Vec<f64> = if is_weight {
                // fan_in/fan_out as TF computes them: kernel (kh, kw, in, out) → kh·kw·in, kh·kw·out.
                let (fan_in, fan_out) = if shape.len() == 4 {
                    (shape[1] * 9, shape[0] * 9)
                } else {
                    (shape[0], shape[1])
                };
                let limit = (6.0 / (fan_in + fan_out) as f64).sqrt();
                (0..n).map(|_| rng.random_range(-limit..limit)).collect()
            } else {
                // γ (second of each block) = 1; β and the dense bias = 0.
                let gamma = i < 3 * self.layers && i % 3 == 1;
                vec![if gamma { 1.0 } else { 0.0 }; n]
            };
            out.push(Tensor::from_vec(values, shape, device)?.to_dtype(dtype)?);
        }
        ParamList::new(out)
    }

    /// Logits (N, classes) for images x of shape (N, channels, in_hw, in_hw).
    pub fn forward(&self, params: &ParamList, x: &Tensor) -> Result<Tensor> {
        let p = params.tensors();
        if p.len() != 3 * self.layers + 2 {
            return Err(invalid(
                "params",
                p.len(),
                &format!("the network needs {} tensors", 3 * self.layers + 2),
            ));
        }
        let (n, c, h, w) = x.dims4()?;
        if c != self.channels || h != self.in_hw || w != self.in_hw {
            return Err(invalid(
                "input",
                format!("{:?}", x.dims()),
                &format!("expected (N, {}, {s}, {s})", self.channels, s = self.in_hw),
            ));
        }
        let mut out = x.clone();
        for l in 0..self.layers {
            out = conv_same_stride2(&out, &p[3 * l])?;
            out = batch_norm(&out, &p[3 * l + 1], &p[3 * l + 2])?;
            out = out.relu()?;
        }
        let flat = out.reshape((n, self.features()))?;
        linear(&flat, &p[3 * self.layers], &p[3 * self.layers + 1])
    }
}

/// 3×3 convolution, stride 2, TF 'same' padding (see the module docs).
pub fn conv_same_stride2(x: &Tensor, kernel: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let (top, bottom) = same_padding(h);
    let (left, right) = same_padding(w);
    let padded = x.pad_with_zeros(2, top, bottom)?.pad_with_zeros(3, left, right)?;
    Ok(padded.conv2d(kernel, 0, 2, 1, 1)?)
}

/// Per-channel batch norm of x (N, C, H, W) with the batch's own statistics.
pub fn batch_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor) -> Result<Tensor> {
    let c = x.dim(1)?;
    let mean_nhw = |t: &Tensor| -> candle_core::Result<Tensor> {
        t.mean_keepdim(0)?.mean_keepdim(2)?.mean_keepdim(3)
    };
    let mu = mean_nhw(x)?;
    let centred = x.broadcast_sub(&mu)?;
    let var = mean_nhw(&centred.sqr()?)?;
    let std = (var + BN_EPS)?.sqrt()?;
    let normed = centred.broadcast_div(&std)?;
    Ok(normed
        .broadcast_mul(&gamma.reshape((1, c, 1, 1))?)?
        .broadcast_add(&beta.reshape((1, c, 1, 1))?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_matches_tensorflow() {
        // TF: out = ceil(h / 2), pad_total = max((out − 1)·2 + 3 − h, 0), before = total / 2.
        assert_eq!(same_padding(28), (0, 1));
        assert_eq!(same_padding(7), (1, 1));
        assert_eq!(same_padding(4), (0, 1));
        assert_eq!(same_padding(2), (0, 1));
        assert_eq!(ConvNet::omniglot(20, 64).out_hw(), 2);
        assert_eq!(ConvNet::cifar100(20, 64).out_hw(), 2);
        assert_eq!(ConvNet::omniglot(20, 64).features(), 256);
    }

    #[test]
    fn forward_shapes() -> Result<()> {
        let net = ConvNet::omniglot(5, 4);
        let p = net.init(0, DType::F32, &Device::Cpu)?;
        let x = Tensor::ones((3, 1, 28, 28), DType::F32, &Device::Cpu)?;
        let y = net.forward(&p, &x)?;
        assert_eq!(y.dims(), &[3, 5]);
        let net = ConvNet::cifar100(4, 4);
        let p = net.init(0, DType::F32, &Device::Cpu)?;
        let x = Tensor::ones((2, 3, 32, 32), DType::F32, &Device::Cpu)?;
        assert_eq!(net.forward(&p, &x)?.dims(), &[2, 4]);
        Ok(())
    }
}
