//! Slice kernels of the analytic conv net: products by `gemm` (candle's CPU matmul kernel,
//! called on the slices, transposes by strides), im2col for the 3×3 stride-2 TF-'same'
//! convolution and its adjoint col2im, per-channel sums over rows.

use crate::problems::convnet::same_padding;
use candle_core::WithDType;

/// The float types of the kernels (gemm's f32 and f64).
pub(crate) trait Real: WithDType {}
impl Real for f32 {}
impl Real for f64 {}

/// dst (m × n) = [dst +] op(a) op(b) for row-major op(a) (m × k) and op(b) (k × n); `a_t`: a
/// is stored transposed (k × m), `b_t`: b is (n × k). Threads as candle's matmul.
pub(crate) fn gemm<T: Real>(
    dst: &mut [T],
    add: bool,
    (a, a_t): (&[T], bool),
    (b, b_t): (&[T], bool),
    (m, k, n): (usize, usize, usize),
) {
    assert!(
        dst.len() == m * n && a.len() == m * k && b.len() == k * n,
        "gemm: ({m} × {k}) ({k} × {n}) with buffers {}, {}, {}",
        a.len(),
        b.len(),
        dst.len()
    );
    if m * n == 0 {
        return;
    }
    let (a_rs, a_cs) = if a_t { (1, m) } else { (k, 1) };
    let (b_rs, b_cs) = if b_t { (1, k) } else { (n, 1) };
    let par = match candle_core::utils::get_num_threads() {
        0 | 1 => gemm::Parallelism::None,
        t => gemm::Parallelism::Rayon(t),
    };
    // SAFETY: T is f32 or f64 (`Real`); the buffers hold exactly the m×k, k×n and m×n elements
    // that these strides address (asserted above), and dst, a &mut, aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            add,
            a.as_ptr(),
            a_cs as isize,
            a_rs as isize,
            b.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            T::one(),
            T::one(),
            false,
            false,
            false,
            par,
        )
    }
}

/// [`gemm`] into a fresh buffer.
pub(crate) fn matmul<T: Real>(
    a: (&[T], bool),
    b: (&[T], bool),
    mkn: (usize, usize, usize),
) -> Vec<T> {
    let mut out = vec![T::zero(); mkn.0 * mkn.2];
    gemm(&mut out, false, a, b, mkn);
    out
}

/// Per-channel Σ_rows of a ⊙ b (b = None: of a) over row-major (rows × f) data.
pub(crate) fn channel_sum<T: Real>(a: &[T], b: Option<&[T]>, f: usize) -> Vec<T> {
    let mut sum = vec![T::zero(); f];
    match b {
        None => a.chunks_exact(f).for_each(|r| {
            sum.iter_mut().zip(r).for_each(|(s, x)| *s += *x);
        }),
        Some(b) => a.chunks_exact(f).zip(b.chunks_exact(f)).for_each(|(r, q)| {
            let pairs = r.iter().zip(q);
            sum.iter_mut()
                .zip(pairs)
                .for_each(|(s, (x, y))| *s += *x * *y);
        }),
    }
    sum
}

/// Shape of one block: N images of h × h × c in, f filters, ⌈h/2⌉ × ⌈h/2⌉ out.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geom {
    pub n: usize,
    pub h: usize,
    pub c: usize,
    pub f: usize,
}

impl Geom {
    /// Output side.
    pub fn oh(&self) -> usize {
        self.h.div_ceil(2)
    }

    /// Output pixels P = N·oh².
    pub fn rows(&self) -> usize {
        self.n * self.oh() * self.oh()
    }

    /// Taps per output pixel, 9c.
    pub fn taps(&self) -> usize {
        9 * self.c
    }

    /// (offset in im2col, offset in X, length) of every run of taps that are not padding:
    /// for one output pixel and kernel row, the valid columns' taps are contiguous in both.
    fn each_run(&self, mut visit: impl FnMut(usize, usize, usize)) {
        let (h, c, oh, top) = (self.h, self.c, self.oh(), same_padding(self.h).0);
        // Valid taps d ∈ [lo, hi) of output o, and the input index of the first.
        let span = |o: usize| {
            let lo = top.saturating_sub(2 * o);
            let hi = (h + top - 2 * o).min(3);
            (lo, hi.max(lo), 2 * o + lo - top)
        };
        for n in 0..self.n {
            for i in 0..oh {
                let (di0, di1, r0) = span(i);
                for j in 0..oh {
                    let (dj0, dj1, q0) = span(j);
                    let row = ((n * oh + i) * oh + j) * 9 * c;
                    for (di, r) in (di0..di1).zip(r0..) {
                        let at = row + (3 * di + dj0) * c;
                        visit(at, ((n * h + r) * h + q0) * c, (dj1 - dj0) * c);
                    }
                }
            }
        }
    }
}

/// im2col of NHWC X: (P × 9c).
pub(crate) fn im2col<T: Real>(g: &Geom, x: &[T]) -> Vec<T> {
    let mut cols = vec![T::zero(); g.rows() * g.taps()];
    g.each_run(|at, from, len| cols[at..at + len].copy_from_slice(&x[from..from + len]));
    cols
}

/// The adjoint of [`im2col`]: NHWC (N × h × h × c).
pub(crate) fn col2im<T: Real>(g: &Geom, cols: &[T]) -> Vec<T> {
    let mut x = vec![T::zero(); g.n * g.h * g.h * g.c];
    g.each_run(|at, to, len| {
        let pairs = x[to..to + len].iter_mut().zip(&cols[at..at + len]);
        pairs.for_each(|(d, s)| *d += *s)
    });
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problems::convnet::conv_same_stride2;
    use candle_core::{Device, Tensor};

    /// Deterministic values in [−1, 1).
    fn draw(n: usize, seed: usize) -> Vec<f64> {
        let v = |i: usize| ((i * 7919 + seed * 104_729) % 1013) as f64 / 500.0 - 1.0;
        (0..n).map(v).collect()
    }

    /// im2col · K is the engine's convolution; col2im is im2col's adjoint.
    #[test]
    fn im2col_conv_and_its_adjoint() -> crate::Result<()> {
        for (n, h, c, f) in [(2, 7, 2, 3), (1, 28, 1, 4), (3, 4, 3, 2), (2, 1, 2, 2)] {
            let g = Geom { n, h, c, f };
            let (x, k) = (draw(n * h * h * c, 1), draw(9 * c * f, 2));
            let ours = matmul(
                (&im2col(&g, &x), false),
                (&k, false),
                (g.rows(), g.taps(), f),
            );
            let (xt, kt) = (
                Tensor::from_slice(&x, (n, h, h, c), &Device::Cpu)?,
                Tensor::from_slice(&k, (3, 3, c, f), &Device::Cpu)?,
            );
            let engine = conv_same_stride2(&xt, &kt)?
                .flatten_all()?
                .to_vec1::<f64>()?;
            let diff = ours.iter().zip(&engine).map(|(a, b)| (a - b).abs());
            let diff = diff.fold(0.0, f64::max);
            assert!(diff < 1e-12, "h = {h}: {diff}");
            let cols = draw(g.rows() * g.taps(), 3);
            let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(a, b)| a * b).sum::<f64>();
            let (lhs, rhs) = (dot(&im2col(&g, &x), &cols), dot(&x, &col2im(&g, &cols)));
            assert!(
                (lhs - rhs).abs() < 1e-10 * lhs.abs().max(1.0),
                "{lhs} vs {rhs}"
            );
        }
        Ok(())
    }
}
