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
//!   `pad_with_zeros`. 28 → 14 → 7 → 4 → 2 and 32 → 16 → 8 → 4 → 2.
//! - Images come in as NCHW (the datasets' layout) and are processed as NHWC, TF's layout, so
//!   the kernels are (3, 3, c_in, f) and the flattening before the dense layer is TF's.
//! - The TF conv bias is omitted: batch norm subtracts the per-channel mean right after, so the
//!   bias has no effect on the output (its gradient is identically zero).
//! - Batch norm: μ and σ² per channel over (N, H, W), biased variance, ε = 1e-3 (the default of
//!   `tf.layers.batch_normalization`), y = (x − μ)/√(σ² + ε)·γ + β. Only primitive ops whose
//!   first and second derivatives are verified (mean, sqr, sqrt, broadcast arithmetic).
//! - No max-pooling anywhere (candle's `max_pool2d` backward is wrong).
//! - Initialisation: Glorot-uniform kernels and dense weights (TF's default), γ = 1, β = 0,
//!   dense bias 0.
//!
//! Parameter order (TF layouts): for each layer `[kernel (3, 3, c_in, f), γ (f), β (f)]`, then
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
pub(crate) fn same_padding(h: usize) -> (usize, usize) {
    let out = h.div_ceil(2);
    let total = ((out - 1) * 2 + 3).saturating_sub(h);
    (total / 2, total - total / 2)
}

impl ConvNet {
    /// The paper's Omniglot network (28×28×1 input, 64 filters, 4 blocks).
    pub fn omniglot(classes: usize, filters: usize) -> Self {
        Self {
            channels: 1,
            filters,
            layers: 4,
            classes,
            in_hw: 28,
        }
    }

    /// The paper's CIFAR-100 network (32×32×3 input, 64 filters, 4 blocks).
    pub fn cifar100(classes: usize, filters: usize) -> Self {
        Self {
            channels: 3,
            filters,
            layers: 4,
            classes,
            in_hw: 32,
        }
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
            shapes.push(vec![3, 3, c_in, self.filters]);
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
                    (shape[2] * 9, shape[3] * 9)
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
        // NHWC inside (TF's layout: the dense layer sees features in TF's flattening order).
        let mut out = x.permute((0, 2, 3, 1))?;
        for l in 0..self.layers {
            out = conv_same_stride2(&out, &p[3 * l])?;
            out = batch_norm(&out, &p[3 * l + 1], &p[3 * l + 2])?;
            out = out.relu()?;
        }
        let flat = out.reshape((n, self.features()))?;
        linear(&flat, &p[3 * self.layers], &p[3 * self.layers + 1])
    }
}

/// 3×3 convolution, stride 2, TF 'same' padding, on NHWC input x (N, H, W, C) with a TF-layout
/// kernel (3, 3, C, F); output (N, ⌈H/2⌉, ⌈W/2⌉, F).
///
/// Written as im2col by constant 0/1 selection matrices and matmuls, so the backward passes
/// (first and second order) are matmuls and copies too: candle's CPU `conv2d` backward (a
/// naive transposed convolution) and a narrow/cat im2col both made a meta-gradient many times
/// slower. The selection is separable: rows first (R: (3·⌈H/2⌉, H)), then columns; zero padding
/// is implicit (rows of R with no 1). [`conv_reference`] is the slow twin.
pub fn conv_same_stride2(x: &Tensor, kernel: &Tensor) -> Result<Tensor> {
    let (n, h, w, c) = x.dims4()?;
    let f = kernel.dim(3)?;
    let (oh, ow) = (h.div_ceil(2), w.div_ceil(2));
    let rows = selection(h, x.dtype(), x.device())?;
    let cols = selection(w, x.dtype(), x.device())?;
    // (H, W·N·C) → R → (3·oh, W, N·C) → (W, 3·oh·N·C) → C → (3·ow, 3·oh·N·C).
    let a = rows.matmul(&x.permute((1, 2, 0, 3))?.reshape((h, w * n * c))?)?;
    let a = a
        .reshape((3 * oh, w, n * c))?
        .permute((1, 0, 2))?
        .reshape((w, 3 * oh * n * c))?;
    let b = cols.matmul(&a)?.reshape(vec![3, ow, 3, oh, n, c])?;
    // (dj, j, di, i, n, c) → rows (n, i, j) of 9·C taps ordered (di, dj, c) like the kernel.
    let taps = b
        .permute(vec![4, 3, 1, 2, 0, 5])?
        .reshape((n * oh * ow, 9 * c))?;
    let out = taps.matmul(&kernel.reshape((9 * c, f))?)?;
    Ok(out.reshape((n, oh, ow, f))?)
}

thread_local! {
    static SELECTIONS: std::cell::RefCell<std::collections::HashMap<(usize, DType, String), Tensor>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// R[(d, i), r] = 1 when input row r is tap d of output row i under TF 'same' padding, i.e.
/// r = 2i + d − pad_before (cached per thread, size, dtype and device).
fn selection(h: usize, dtype: DType, device: &Device) -> Result<Tensor> {
    let key = (h, dtype, format!("{:?}", device.location()));
    if let Some(t) = SELECTIONS.with(|m| m.borrow().get(&key).cloned()) {
        return Ok(t);
    }
    let (oh, top) = (h.div_ceil(2), same_padding(h).0);
    let mut v = vec![0f32; 3 * oh * h];
    for d in 0..3 {
        for i in 0..oh {
            if let Some(r) = (2 * i + d).checked_sub(top).filter(|&r| r < h) {
                v[(d * oh + i) * h + r] = 1.0;
            }
        }
    }
    let t = Tensor::from_vec(v, (3 * oh, h), device)?.to_dtype(dtype)?;
    SELECTIONS.with(|m| m.borrow_mut().insert(key, t.clone()));
    Ok(t)
}

/// The same convolution by candle's `conv2d` on explicitly padded NCHW data (the slow
/// reference of [`conv_same_stride2`]; NHWC in and out).
pub fn conv_reference(x: &Tensor, kernel: &Tensor) -> Result<Tensor> {
    let (_, h, w, _) = x.dims4()?;
    let (top, bottom) = same_padding(h);
    let (left, right) = same_padding(w);
    let nchw = x
        .permute((0, 3, 1, 2))?
        .pad_with_zeros(2, top, bottom)?
        .pad_with_zeros(3, left, right)?;
    let k = kernel.permute((3, 2, 0, 1))?.contiguous()?;
    Ok(nchw
        .contiguous()?
        .conv2d(&k, 0, 2, 1, 1)?
        .permute((0, 2, 3, 1))?)
}

/// Per-channel batch norm of NHWC x with the batch's own statistics (over N, H, W).
pub fn batch_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    let c = dims[dims.len() - 1];
    let flat = x.reshape(((), c))?;
    let mu = flat.mean_keepdim(0)?;
    let centred = flat.broadcast_sub(&mu)?;
    let var = centred.sqr()?.mean_keepdim(0)?;
    let std = (var + BN_EPS)?.sqrt()?;
    let y = centred
        .broadcast_div(&std)?
        .broadcast_mul(gamma)?
        .broadcast_add(beta)?;
    Ok(y.reshape(dims)?)
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
    fn im2col_conv_matches_candle_conv2d() -> Result<()> {
        for (h, c, f) in [(28, 1, 3), (7, 2, 4), (8, 3, 2), (5, 2, 2), (2, 4, 3)] {
            let x = Tensor::randn(0f64, 1.0, (2, h, h, c), &Device::Cpu)?;
            let k = Tensor::randn(0f64, 1.0, (3, 3, c, f), &Device::Cpu)?;
            let fast = conv_same_stride2(&x, &k)?;
            let slow = conv_reference(&x, &k)?;
            assert_eq!(fast.dims(), slow.dims());
            let diff = (fast - slow)?.abs()?.max_all()?.to_scalar::<f64>()?;
            assert!(diff < 1e-12, "h = {h}: {diff}");
        }
        Ok(())
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
