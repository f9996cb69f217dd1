//! The blocks of the few-shot [`ConvNet`](super::ConvNet) by hand — forward pass, backward pass,
//! and Pearlmutter's R-operator R{·} = d/dε ·(φ + εv) of both — on plain slices (row-major, rows
//! the N·H·W pixels of NHWC data), for [`MamlAnalytic`](super::MamlAnalytic). Products go to
//! `gemm` (candle's CPU matmul kernel) on the slices, without tensors.
//!
//! **Conv** (3×3, stride 2, TF 'same'). C = im2col(X): P × 9c, one row per output pixel
//! (n, i, j), the taps (di, dj, channel) in the kernel's (3, 3, c, f) order, zero where a tap
//! falls in the padding; Z = C K. Backward: dK = Cᵀ dZ, dX = col2im(dZ Kᵀ), col2im (the adjoint
//! of im2col) adding each tap back onto the pixel it was copied from. R-op (linear in X and K):
//! R{Z} = im2col(R{X}) K + C V_K; R{dK} = R{C}ᵀ dZ + Cᵀ R{dZ}, R{dX} = col2im(R{dZ} Kᵀ + dZ V_Kᵀ).
//!
//! **Batch norm** per channel over the P rows, m(·) the mean over rows: μ = m(Z),
//! σ² = m((Z − μ)²) (biased), s = (σ² + ε)^(−1/2), X̂ = (Z − μ) s, Y = γ X̂ + β. With
//! ∂σ²/∂Z = 2(Z − μ)/P, the Jacobian ∂X̂/∂Z is the symmetric operator
//! B(u) = s (u − m(u) − X̂ m(X̂ u)), so:
//! - backward, G = γ dY: dZ = B(G), dγ = Σ_rows dY X̂, dβ = Σ_rows dY;
//! - R-op: R{X̂} = B(R{Z}), R{Y} = γ R{X̂} + v_γ X̂ + v_β, and R{s} = −s³ m((Z − μ) R{Z})
//!   = −s² ρ with ρ = m(X̂ R{Z});
//! - R-op of the backward, by the product rule on dZ = s (G − m(G) − X̂ m(G X̂)):
//!   R{G} = v_γ dY + γ R{dY},
//!   R{dZ} = (R{s}/s) dZ + s (R{G} − m(R{G}) − R{X̂} m(G X̂) − X̂ m(R{G} X̂ + G R{X̂}))
//!   = B(R{G}) − s ρ dZ − s (R{X̂} m(G X̂) + X̂ m(G R{X̂})),
//!   R{dγ} = Σ_rows (R{dY} X̂ + dY R{X̂}), R{dβ} = Σ_rows R{dY}.
//!
//! **ReLU**: A = Y ⊙ M, M = 1[Y ≥ 0] (candle's relu derivative; a constant for the R-op):
//! dY = dA ⊙ M, R{A} = R{Y} ⊙ M, R{dY} = R{dA} ⊙ M.

use super::convnet::{same_padding, BN_EPS};
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
    let threads = candle_core::utils::get_num_threads();
    let par = match threads {
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
            sum.iter_mut()
                .zip(r.iter().zip(q))
                .for_each(|(s, (x, y))| *s += *x * *y);
        }),
    }
    sum
}

/// Per-channel mean over the rows of a ⊙ b (or of a).
fn channel_mean<T: Real>(a: &[T], b: Option<&[T]>, f: usize) -> Vec<T> {
    let inv = T::from_f64(f as f64 / a.len() as f64);
    channel_sum(a, b, f).into_iter().map(|s| s * inv).collect()
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
    /// (offset in im2col, offset in X) of every tap that is not padding.
    fn each_tap(&self, mut visit: impl FnMut(usize, usize)) {
        let (h, c, oh, top) = (self.h, self.c, self.oh(), same_padding(self.h).0);
        let inside = |o: usize, d: usize| (2 * o + d).checked_sub(top).filter(|&r| r < h);
        for n in 0..self.n {
            for i in 0..oh {
                for j in 0..oh {
                    let row = ((n * oh + i) * oh + j) * 9 * c;
                    for di in 0..3 {
                        let Some(r) = inside(i, di) else { continue };
                        for dj in 0..3 {
                            let Some(q) = inside(j, dj) else { continue };
                            visit(row + (3 * di + dj) * c, ((n * h + r) * h + q) * c);
                        }
                    }
                }
            }
        }
    }
}

/// im2col of NHWC X: (P × 9c).
pub(crate) fn im2col<T: Real>(g: &Geom, x: &[T]) -> Vec<T> {
    let mut cols = vec![T::zero(); g.rows() * g.taps()];
    g.each_tap(|at, from| cols[at..at + g.c].copy_from_slice(&x[from..from + g.c]));
    cols
}

/// The adjoint of [`im2col`]: NHWC (N × h × h × c).
pub(crate) fn col2im<T: Real>(g: &Geom, cols: &[T]) -> Vec<T> {
    let mut x = vec![T::zero(); g.n * g.h * g.h * g.c];
    g.each_tap(|at, to| {
        x[to..to + g.c]
            .iter_mut()
            .zip(&cols[at..at + g.c])
            .for_each(|(d, s)| *d += *s)
    });
    x
}

/// A batch-normalised (P × f) matrix: X̂ and s per channel.
pub(crate) struct Norm<T> {
    pub xhat: Vec<T>,
    pub s: Vec<T>,
}

impl<T: Real> Norm<T> {
    pub fn new(z: &[T], f: usize) -> Self {
        let mu = channel_mean(z, None, f);
        let mut xhat = z.to_vec();
        xhat.chunks_exact_mut(f).for_each(|r| {
            r.iter_mut().zip(&mu).for_each(|(x, m)| *x -= *m);
        });
        let var = channel_mean(&xhat, Some(&xhat), f);
        let s: Vec<T> = var
            .iter()
            .map(|v| T::from_f64(1.0 / (v.to_f64() + BN_EPS).sqrt()))
            .collect();
        xhat.chunks_exact_mut(f).for_each(|r| {
            r.iter_mut().zip(&s).for_each(|(x, s)| *x *= *s);
        });
        Self { xhat, s }
    }

    /// B(u) = s (u − m(u) − X̂ m(X̂ u)), the symmetric Jacobian ∂X̂/∂Z applied to u.
    pub fn project(&self, u: &[T]) -> Vec<T> {
        let f = self.s.len();
        let (mu, mxu) = (
            channel_mean(u, None, f),
            channel_mean(&self.xhat, Some(u), f),
        );
        let mut out = u.to_vec();
        out.chunks_exact_mut(f)
            .zip(self.xhat.chunks_exact(f))
            .for_each(|(o, x)| {
                for c in 0..f {
                    o[c] = self.s[c] * (o[c] - mu[c] - x[c] * mxu[c]);
                }
            });
        out
    }

    /// Per-channel mean of a ⊙ b (a helper for the R-ops).
    pub fn mean(&self, a: &[T], b: &[T]) -> Vec<T> {
        channel_mean(a, Some(b), self.s.len())
    }
}

/// One block's forward pass over a batch, kept for its backward and R passes.
pub(crate) struct Block<T> {
    pub g: Geom,
    cols: Vec<T>,
    norm: Norm<T>,
    mask: Vec<bool>,
}

/// A block's R-forward kept for the R-op of its backward: R{C} (none when the input is data),
/// R{X̂} and ρ = m(X̂ R{Z}).
pub(crate) struct BlockTangent<T> {
    rcols: Option<Vec<T>>,
    rxhat: Vec<T>,
    rho: Vec<T>,
}

/// ∂/∂[K, γ, β] of a block and ∂/∂X (when asked), or their R-ops.
pub(crate) struct BlockGrad<T> {
    pub params: [Vec<T>; 3],
    pub input: Option<Vec<T>>,
}

/// The primal terms an R-op of [`Block::grads`] adds: (R{C}, R{X̂}) of the tangent, and dY,
/// dZ, V_K.
type Cross<'a, T> = (&'a BlockTangent<T>, &'a [T], &'a [T], &'a [T]);

impl<T: Real> Block<T> {
    /// The block at p = [K, γ, β] on NHWC input x, and its output A (NHWC).
    pub fn forward(g: Geom, x: &[T], p: &[Vec<T>]) -> (Self, Vec<T>) {
        let cols = im2col(&g, x);
        let mut a = matmul((&cols, false), (&p[0], false), (g.rows(), g.taps(), g.f));
        let norm = Norm::new(&a, g.f);
        let mut mask = vec![false; a.len()];
        let rows = a.chunks_exact_mut(g.f).zip(mask.chunks_exact_mut(g.f));
        for ((a, m), x) in rows.zip(norm.xhat.chunks_exact(g.f)) {
            for c in 0..g.f {
                let y = p[1][c] * x[c] + p[2][c];
                m[c] = y >= T::zero();
                a[c] = if m[c] { y } else { T::zero() };
            }
        }
        let block = Self {
            g,
            cols,
            norm,
            mask,
        };
        (block, a)
    }

    /// d ⊙ M.
    fn masked(&self, d: &[T]) -> Vec<T> {
        let zero = T::zero();
        let pairs = d.iter().zip(&self.mask);
        pairs.map(|(d, &m)| if m { *d } else { zero }).collect()
    }

    /// R{A} along v = [V_K, v_γ, v_β] given R{X} (None: the input is data), and the tangent.
    pub fn tangent(
        &self,
        rx: Option<&[T]>,
        p: &[Vec<T>],
        v: &[Vec<T>],
    ) -> (BlockTangent<T>, Vec<T>) {
        let (g, f) = (&self.g, self.g.f);
        let dims = (g.rows(), g.taps(), f);
        let mut rz = matmul((&self.cols, false), (&v[0], false), dims);
        let rcols = rx.map(|rx| im2col(g, rx));
        if let Some(rc) = &rcols {
            gemm(&mut rz, true, (rc, false), (&p[0], false), dims);
        }
        let rho = self.norm.mean(&self.norm.xhat, &rz);
        let rxhat = self.norm.project(&rz);
        let mut ra = rz;
        let rows = ra.chunks_exact_mut(f).zip(self.mask.chunks_exact(f));
        for ((r, m), (rx, x)) in rows.zip(rxhat.chunks_exact(f).zip(self.norm.xhat.chunks_exact(f)))
        {
            for c in 0..f {
                r[c] = if m[c] {
                    p[1][c] * rx[c] + v[1][c] * x[c] + v[2][c]
                } else {
                    T::zero()
                };
            }
        }
        (BlockTangent { rcols, rxhat, rho }, ra)
    }

    /// [dK, dγ, dβ] and dX (when `input`) from dY and dZ; with `cross`, the R-op's extra terms
    /// R{C}ᵀ dZ, dY R{X̂} and dZ V_Kᵀ.
    fn grads(
        &self,
        dy: &[T],
        dz: &[T],
        k: &[T],
        input: bool,
        cross: Option<Cross<T>>,
    ) -> BlockGrad<T> {
        let (g, f, xhat) = (&self.g, self.g.f, &self.norm.xhat);
        let (rows, taps) = (g.rows(), g.taps());
        let mut dk = matmul((&self.cols, true), (dz, false), (taps, rows, f));
        let mut dgamma = channel_sum(dy, Some(xhat), f);
        let dx_cols = input.then(|| {
            let mut d = matmul((dz, false), (k, true), (rows, f, taps));
            if let Some((_, _, dz0, vk)) = cross {
                gemm(&mut d, true, (dz0, false), (vk, true), (rows, f, taps));
            }
            d
        });
        if let Some((t, dy0, dz0, _)) = cross {
            if let Some(rc) = &t.rcols {
                gemm(&mut dk, true, (rc, true), (dz0, false), (taps, rows, f));
            }
            let extra = channel_sum(dy0, Some(&t.rxhat), f);
            dgamma.iter_mut().zip(extra).for_each(|(d, e)| *d += e);
        }
        BlockGrad {
            params: [dk, dgamma, channel_sum(dy, None, f)],
            input: dx_cols.map(|d| col2im(g, &d)),
        }
    }

    /// Back-propagates dA through the block at p; with `r` = (tangent, R{dA}, v), also the R-op
    /// of the backward pass (see the module documentation). `input`: whether to form dX.
    #[allow(clippy::type_complexity)]
    pub fn backward(
        &self,
        da: &[T],
        p: &[Vec<T>],
        input: bool,
        r: Option<(&BlockTangent<T>, &[T], &[Vec<T>])>,
    ) -> (BlockGrad<T>, Option<BlockGrad<T>>) {
        let f = self.g.f;
        let dy = self.masked(da);
        let gy = scale_channels(&dy, &p[1]);
        let dz = self.norm.project(&gy);
        let grad = self.grads(&dy, &dz, &p[0], input, None);
        let Some((t, rda, v)) = r else {
            return (grad, None);
        };
        let rdy = self.masked(rda);
        let mut rg = scale_channels(&rdy, &p[1]);
        rg.iter_mut()
            .zip(scale_channels(&dy, &v[1]))
            .for_each(|(r, d)| *r += d);
        let mut rdz = self.norm.project(&rg);
        let (xhat, s) = (&self.norm.xhat, &self.norm.s);
        let (m_gx, m_grx) = (self.norm.mean(&gy, xhat), self.norm.mean(&gy, &t.rxhat));
        let rows = rdz.chunks_exact_mut(f).zip(dz.chunks_exact(f));
        for ((r, d), (x, rx)) in rows.zip(xhat.chunks_exact(f).zip(t.rxhat.chunks_exact(f))) {
            for c in 0..f {
                r[c] -= s[c] * (t.rho[c] * d[c] + rx[c] * m_gx[c] + x[c] * m_grx[c]);
            }
        }
        let rgrad = self.grads(&rdy, &rdz, &p[0], input, Some((t, &dy, &dz, &v[0])));
        (grad, Some(rgrad))
    }

    /// The buffers kept (im2col, X̂, the mask), for memory accounting.
    pub fn buffers(&self) -> (&[T], &[T], &[bool]) {
        (&self.cols, &self.norm.xhat, &self.mask)
    }
}

/// Rows of (· × f) data times a per-channel vector.
fn scale_channels<T: Real>(d: &[T], by: &[T]) -> Vec<T> {
    let mut out = d.to_vec();
    out.chunks_exact_mut(by.len()).for_each(|r| {
        r.iter_mut().zip(by).for_each(|(x, b)| *x *= *b);
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problems::convnet::{batch_norm, conv_same_stride2};
    use candle_core::{Device, Tensor};

    fn draw(n: usize, seed: usize) -> Vec<f64> {
        (0..n)
            .map(|i| ((i * 7919 + seed * 104729) % 1013) as f64 / 500.0 - 1.0)
            .collect()
    }

    fn tensor(v: &[f64], shape: &[usize]) -> Tensor {
        Tensor::from_slice(v, shape, &Device::Cpu).unwrap()
    }

    /// im2col · K is the engine's convolution; col2im is im2col's adjoint.
    #[test]
    fn im2col_conv_and_its_adjoint() {
        for (n, h, c, f) in [(2, 7, 2, 3), (1, 28, 1, 4), (3, 4, 3, 2), (2, 1, 2, 2)] {
            let g = Geom { n, h, c, f };
            let (x, k) = (draw(n * h * h * c, 1), draw(9 * c * f, 2));
            let ours = matmul(
                (&im2col(&g, &x), false),
                (&k, false),
                (g.rows(), g.taps(), f),
            );
            let engine = conv_same_stride2(&tensor(&x, &[n, h, h, c]), &tensor(&k, &[3, 3, c, f]))
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap();
            let diff = ours
                .iter()
                .zip(&engine)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(diff < 1e-12, "h = {h}: {diff}");
            let cols = draw(g.rows() * g.taps(), 3);
            let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(a, b)| a * b).sum::<f64>();
            let (lhs, rhs) = (dot(&im2col(&g, &x), &cols), dot(&x, &col2im(&g, &cols)));
            assert!(
                (lhs - rhs).abs() < 1e-10 * lhs.abs().max(1.0),
                "{lhs} vs {rhs}"
            );
        }
    }

    /// X̂ is the engine's batch norm (γ = 1, β = 0), and B(u) is its directional derivative
    /// (central differences); without the mean term, B is not (negative control).
    #[test]
    fn batch_norm_and_its_jacobian() {
        let (rows, f) = (13, 3);
        let (z, u) = (draw(rows * f, 4), draw(rows * f, 5));
        let norm = Norm::new(&z, f);
        let ones = Tensor::ones(f, candle_core::DType::F64, &Device::Cpu).unwrap();
        let engine = batch_norm(&tensor(&z, &[rows, f]), &ones, &ones.zeros_like().unwrap())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let diff = norm
            .xhat
            .iter()
            .zip(&engine)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(diff < 1e-12, "{diff}");
        let h = 1e-6;
        let at = |s: f64| {
            Norm::new(
                &z.iter().zip(&u).map(|(z, u)| z + s * u).collect::<Vec<_>>(),
                f,
            )
            .xhat
        };
        let fd: Vec<f64> = at(h)
            .iter()
            .zip(at(-h))
            .map(|(a, b)| (a - b) / (2.0 * h))
            .collect();
        let err = |b: &[f64]| {
            b.iter()
                .zip(&fd)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max)
        };
        assert!(
            err(&norm.project(&u)) < 1e-7,
            "B(u): {}",
            err(&norm.project(&u))
        );
        // Dropping −m(u): add the mean back, s·m(u) per channel.
        let mu = channel_mean(&u, None, f);
        let mut wrong = norm.project(&u);
        wrong.chunks_exact_mut(f).for_each(|r| {
            (0..f).for_each(|c| r[c] += norm.s[c] * mu[c]);
        });
        assert!(
            err(&wrong) > 1e-3,
            "the check misses a dropped mean term: {}",
            err(&wrong)
        );
    }
}
