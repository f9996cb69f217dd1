//! One block of the few-shot [`ConvNet`](crate::problems::ConvNet) by hand — forward pass,
//! backward pass, and the R-operator R{·} = d/dε ·(φ + εv) of both — on plain row-major
//! slices whose P rows are the output pixels (n, i, j) of NHWC data and whose f columns are the
//! channels. Products by [`super::kernels`]; each elementwise stage is one pass over the rows
//! with per-channel coefficients. (Over 300 lines: the block's three passes share their
//! derivation and buffers, and its finite-difference test with its negative control lives here.)
//!
//! **Conv** (3×3, stride 2, TF 'same'). C = im2col(X): P × 9c, the taps (di, dj, channel) in the
//! kernel's (3, 3, c, f) order, zero where a tap falls in the padding; Z = C K. Backward:
//! dK = Cᵀ dZ, dX = col2im(dZ Kᵀ) (col2im, the adjoint of im2col, adds each tap back onto the
//! pixel it came from). R-op (bilinear in X and K): R{Z} = im2col(R{X}) K + C V_K;
//! R{dK} = R{C}ᵀ dZ + Cᵀ R{dZ}, R{dX} = col2im(R{dZ} Kᵀ + dZ V_Kᵀ).
//!
//! **Batch norm** per channel over the P rows, m(·) the mean over rows: μ = m(Z),
//! σ² = m((Z − μ)²) (biased), s = (σ² + ε)^(−1/2), X̂ = (Z − μ) s, Y = γ X̂ + β. As
//! ∂σ²/∂Z = 2(Z − μ)/P, the Jacobian ∂X̂/∂Z is the symmetric operator
//! B(u) = s (u − m(u) − X̂ m(X̂ u)), so:
//! - backward, G = γ dY: dZ = B(G) = sγ (dY − m(dY) − X̂ m(dY X̂)), dγ = Σ dY X̂, dβ = Σ dY;
//! - R-op: R{X̂} = B(R{Z}) = s (R{Z} − m(R{Z}) − X̂ ρ) with ρ = m(X̂ R{Z}),
//!   R{Y} = γ R{X̂} + v_γ X̂ + v_β, and R{s} = −s³ m((Z − μ) R{Z}) = −s² ρ;
//! - R-op of the backward, by the product rule on dZ = s (G − m(G) − X̂ m(G X̂)) with
//!   R{G} = v_γ dY + γ R{dY}:
//!   R{dZ} = (R{s}/s) dZ + s (R{G} − m(R{G}) − R{X̂} m(G X̂) − X̂ m(R{G} X̂ + G R{X̂}))
//!   = s v_γ dY + sγ R{dY} − sρ dZ − sγ m(dY X̂) R{X̂} − s m(R{G})
//!   − s (m(R{G} X̂) + γ m(dY R{X̂})) X̂,
//!   R{dγ} = Σ (R{dY} X̂ + dY R{X̂}), R{dβ} = Σ R{dY}.
//!
//! **ReLU**: A = Y ⊙ M, M = 1[Y ≥ 0] (candle's relu derivative, a constant for the R-op):
//! dY = dA ⊙ M, R{A} = R{Y} ⊙ M, R{dY} = R{dA} ⊙ M.

use super::kernels::{col2im, gemm, im2col, matmul, Geom, Real};
use crate::problems::convnet::BN_EPS;

/// One block's forward pass over a batch, kept for its backward and R passes.
pub(crate) struct Block<T> {
    pub g: Geom,
    /// C = im2col(X).
    cols: Vec<T>,
    xhat: Vec<T>,
    /// s per channel.
    s: Vec<T>,
    /// M in T (1 or 0).
    mask: Vec<T>,
}

/// A block's R-forward, kept for the R-op of its backward: R{C} (none when the input is
/// data), R{X̂} and ρ = m(X̂ R{Z}).
pub(crate) struct BlockTangent<T> {
    rcols: Option<Vec<T>>,
    rxhat: Vec<T>,
    rho: Vec<T>,
}

/// A block's backward pass: ∂/∂[K, γ, β] — their R-ops when given a tangent — and, when
/// asked, ∂/∂X and (with a tangent) R{∂/∂X}.
pub(crate) struct BlockGrad<T> {
    pub params: [Vec<T>; 3],
    pub input: Option<Vec<T>>,
    pub rinput: Option<Vec<T>>,
}

/// What the R-op of a block's backward pass runs along: the block's tangent, R{dA} and
/// v = [V_K, v_γ, v_β].
pub(crate) type Along<'a, T> = (&'a BlockTangent<T>, &'a [T], &'a [Vec<T>]);

/// `n` zeros.
fn zeros<T: Real>(n: usize) -> Vec<T> {
    vec![T::zero(); n]
}

impl<T: Real> Block<T> {
    /// The block at p = [K, γ, β] on NHWC input x, and its output A (NHWC).
    pub fn forward(g: Geom, x: &[T], p: &[Vec<T>]) -> (Self, Vec<T>) {
        let (f, (zero, one)) = (g.f, (T::zero(), T::one()));
        let cols = im2col(&g, x);
        let mut xhat = matmul((&cols, false), (&p[0], false), (g.rows(), g.taps(), f));
        let inv = T::from_f64(1.0 / g.rows() as f64);
        let mut mu = zeros(f);
        for z in xhat.chunks_exact(f) {
            let (z, mu) = (&z[..f], &mut mu[..f]);
            (0..f).for_each(|c| mu[c] += z[c]);
        }
        mu.iter_mut().for_each(|m| *m *= inv);
        let mut var = zeros(f);
        for z in xhat.chunks_exact_mut(f) {
            let (z, mu, var) = (&mut z[..f], &mu[..f], &mut var[..f]);
            (0..f).for_each(|c| z[c] -= mu[c]);
            (0..f).for_each(|c| var[c] += z[c] * z[c]);
        }
        let sd = |v: &T| (v.to_f64() * inv.to_f64() + BN_EPS).sqrt();
        let s: Vec<T> = var.iter().map(|v| T::from_f64(1.0 / sd(v))).collect();
        let (mut a, mut mask) = (zeros(xhat.len()), zeros(xhat.len()));
        let out = a.chunks_exact_mut(f).zip(mask.chunks_exact_mut(f));
        for ((a, m), x) in out.zip(xhat.chunks_exact_mut(f)) {
            let (a, m, x, s) = (&mut a[..f], &mut m[..f], &mut x[..f], &s[..f]);
            let (gamma, beta) = (&p[1][..f], &p[2][..f]);
            // Separate simple loops: LLVM vectorises each, not their fusion.
            (0..f).for_each(|c| x[c] *= s[c]);
            (0..f).for_each(|c| a[c] = gamma[c] * x[c] + beta[c]);
            (0..f).for_each(|c| m[c] = if a[c] >= zero { one } else { zero });
            (0..f).for_each(|c| a[c] *= m[c]);
        }
        let block = Self {
            g,
            cols,
            xhat,
            s,
            mask,
        };
        (block, a)
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
        let mut rxhat = matmul((&self.cols, false), (&v[0], false), dims);
        let rcols = rx.map(|rx| im2col(g, rx));
        if let Some(rc) = &rcols {
            gemm(&mut rxhat, true, (rc, false), (&p[0], false), dims);
        }
        let inv = T::from_f64(1.0 / g.rows() as f64);
        let (mut mrz, mut rho) = (zeros(f), zeros(f));
        for (rz, x) in rxhat.chunks_exact(f).zip(self.xhat.chunks_exact(f)) {
            let (rz, x, m, r) = (&rz[..f], &x[..f], &mut mrz[..f], &mut rho[..f]);
            (0..f).for_each(|c| m[c] += rz[c]);
            (0..f).for_each(|c| r[c] += rz[c] * x[c]);
        }
        mrz.iter_mut().chain(rho.iter_mut()).for_each(|m| *m *= inv);
        let mut ra = zeros(rxhat.len());
        let rows = ra.chunks_exact_mut(f).zip(rxhat.chunks_exact_mut(f));
        for ((ra, rx), (x, m)) in rows.zip(self.xhat.chunks_exact(f).zip(self.mask.chunks_exact(f)))
        {
            let (ra, rx, x, m) = (&mut ra[..f], &mut rx[..f], &x[..f], &m[..f]);
            let (s, mrz, rho) = (&self.s[..f], &mrz[..f], &rho[..f]);
            let (gamma, vg, vb) = (&p[1][..f], &v[1][..f], &v[2][..f]);
            (0..f).for_each(|c| rx[c] = s[c] * (rx[c] - mrz[c] - x[c] * rho[c]));
            (0..f).for_each(|c| ra[c] = m[c] * (gamma[c] * rx[c] + vg[c] * x[c] + vb[c]));
        }
        (BlockTangent { rcols, rxhat, rho }, ra)
    }

    /// Back-propagates dA through the block at p; with `r` = (tangent, R{dA}, v), the R-op of
    /// the backward pass instead (see the module documentation). `input`: whether to form dX
    /// (and R{dX}).
    pub fn backward(
        &self,
        da: &[T],
        p: &[Vec<T>],
        input: bool,
        r: Option<Along<T>>,
    ) -> BlockGrad<T> {
        let (g, f) = (&self.g, self.g.f);
        let (rows, taps) = (g.rows(), g.taps());
        let inv = T::from_f64(1.0 / rows as f64);
        // dY = dA ⊙ M, with dβ = Σ dY and dγ = Σ dY X̂.
        let (mut dy, mut dbeta, mut dgamma) = (da.to_vec(), zeros(f), zeros(f));
        for (d, (m, x)) in dy
            .chunks_exact_mut(f)
            .zip(self.mask.chunks_exact(f).zip(self.xhat.chunks_exact(f)))
        {
            let (d, m, x) = (&mut d[..f], &m[..f], &x[..f]);
            let (sb, sg) = (&mut dbeta[..f], &mut dgamma[..f]);
            (0..f).for_each(|c| d[c] *= m[c]);
            (0..f).for_each(|c| sb[c] += d[c]);
            (0..f).for_each(|c| sg[c] += d[c] * x[c]);
        }
        // dZ = a dY − b + cx X̂ (a = sγ, b = sγ m(dY), cx = −sγ m(dY X̂)).
        let a: Vec<T> = (0..f).map(|c| self.s[c] * p[1][c]).collect();
        let b: Vec<T> = (0..f).map(|c| a[c] * dbeta[c] * inv).collect();
        let cx: Vec<T> = (0..f).map(|c| T::zero() - a[c] * dgamma[c] * inv).collect();
        let mut dz = zeros(dy.len());
        self.combine(&mut dz, &[(&a, &dy), (&cx, &self.xhat)], &b);
        let Some((t, rda, v)) = r else {
            let dk = matmul((&self.cols, true), (&dz, false), (taps, rows, f));
            let input =
                input.then(|| col2im(g, &matmul((&dz, false), (&p[0], true), (rows, f, taps))));
            return BlockGrad {
                params: [dk, dgamma, dbeta],
                input,
                rinput: None,
            };
        };
        // R{dY} = R{dA} ⊙ M, with Σ R{dY}, Σ R{dY} X̂ and Σ dY R{X̂}.
        let (mut rdy, mut srdy, mut srdyx, mut sdyrx) =
            (rda.to_vec(), zeros(f), zeros(f), zeros(f));
        let rows_in = dy.chunks_exact(f).zip(t.rxhat.chunks_exact(f));
        for ((rd, (m, x)), (d, rx)) in rdy
            .chunks_exact_mut(f)
            .zip(self.mask.chunks_exact(f).zip(self.xhat.chunks_exact(f)))
            .zip(rows_in)
        {
            let (rd, m, x, d, rx) = (&mut rd[..f], &m[..f], &x[..f], &d[..f], &rx[..f]);
            let (s1, s2, s3) = (&mut srdy[..f], &mut srdyx[..f], &mut sdyrx[..f]);
            (0..f).for_each(|c| rd[c] *= m[c]);
            (0..f).for_each(|c| s1[c] += rd[c]);
            (0..f).for_each(|c| s2[c] += rd[c] * x[c]);
            (0..f).for_each(|c| s3[c] += d[c] * rx[c]);
        }
        // R{dZ} = s v_γ dY + sγ R{dY} − sρ dZ − sγ m(dY X̂) R{X̂} − s m(R{G})
        //        − s (m(R{G} X̂) + γ m(dY R{X̂})) X̂, with m(R{G}) = v_γ m(dY) + γ m(R{dY}) and
        //        m(R{G} X̂) = v_γ m(dY X̂) + γ m(R{dY} X̂).
        let (s, gamma, vg) = (&self.s, &p[1], &v[1]);
        let c_dy: Vec<T> = (0..f).map(|c| s[c] * vg[c]).collect();
        let c_dz: Vec<T> = (0..f).map(|c| T::zero() - s[c] * t.rho[c]).collect();
        let c_0: Vec<T> = (0..f)
            .map(|c| s[c] * (vg[c] * dbeta[c] + gamma[c] * srdy[c]) * inv)
            .collect();
        let c_x: Vec<T> = (0..f)
            .map(|c| s[c] * (vg[c] * dgamma[c] + gamma[c] * (srdyx[c] + sdyrx[c])) * inv)
            .map(|x| T::zero() - x)
            .collect();
        let mut rdz = zeros(dy.len());
        self.combine(
            &mut rdz,
            &[
                (&c_dy, &dy),
                (&a, &rdy),
                (&c_dz, &dz),
                (&cx, &t.rxhat),
                (&c_x, &self.xhat),
            ],
            &c_0,
        );
        let mut rdk = matmul((&self.cols, true), (&rdz, false), (taps, rows, f));
        if let Some(rc) = &t.rcols {
            gemm(&mut rdk, true, (rc, true), (&dz, false), (taps, rows, f));
        }
        srdyx.iter_mut().zip(&sdyrx).for_each(|(a, b)| *a += *b);
        let (input, rinput) = if input {
            let dx = matmul((&dz, false), (&p[0], true), (rows, f, taps));
            let mut rdx = matmul((&rdz, false), (&p[0], true), (rows, f, taps));
            gemm(&mut rdx, true, (&dz, false), (&v[0], true), (rows, f, taps));
            (Some(col2im(g, &dx)), Some(col2im(g, &rdx)))
        } else {
            (None, None)
        };
        BlockGrad {
            params: [rdk, srdyx, srdy],
            input,
            rinput,
        }
    }

    /// out = Σ_i coef_i ⊙ x_i − minus, per channel coefficients over the rows of the x_i.
    fn combine(&self, out: &mut [T], terms: &[(&Vec<T>, &Vec<T>)], minus: &[T]) {
        let f = self.g.f;
        let minus = &minus[..f];
        for (i, o) in out.chunks_exact_mut(f).enumerate() {
            let o = &mut o[..f];
            (0..f).for_each(|c| o[c] = T::zero() - minus[c]);
            for (coef, x) in terms {
                let (coef, x) = (&coef[..f], &x[i * f..i * f + f]);
                (0..f).for_each(|c| o[c] += coef[c] * x[c]);
            }
        }
    }
}

impl<T: Real> Block<T> {
    /// The buffers it keeps (C, X̂, M), for memory accounting.
    pub fn buffers(&self) -> [&[T]; 3] {
        [&self.cols, &self.xhat, &self.mask]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [−1, 1).
    fn draw(n: usize, seed: usize) -> Vec<f64> {
        let v = |i: usize| ((i * 7919 + seed * 104_729) % 1013) as f64 / 500.0 - 1.0;
        (0..n).map(v).collect()
    }

    /// R{A} and R{X̂} = B(R{Z}) are the central differences of the forward pass along v; with
    /// batch norm's mean term dropped, R{X̂} is not (negative control).
    #[test]
    fn tangent_is_the_directional_derivative() {
        let g = Geom {
            n: 3,
            h: 7,
            c: 2,
            f: 4,
        };
        let x = draw(g.n * g.h * g.h * g.c, 1);
        let p = vec![draw(g.taps() * g.f, 2), draw(g.f, 3), draw(g.f, 4)];
        let v = vec![draw(g.taps() * g.f, 5), draw(g.f, 6), draw(g.f, 7)];
        let (block, _) = Block::forward(g, &x, &p);
        let (t, ra) = block.tangent(None, &p, &v);
        let h = 1e-6;
        let at = |e: f64| {
            let q: Vec<Vec<f64>> = p
                .iter()
                .zip(&v)
                .map(|(p, v)| p.iter().zip(v).map(|(p, v)| p + e * v).collect())
                .collect();
            let (b, a) = Block::forward(g, &x, &q);
            (b.xhat, a)
        };
        let ((xp, ap), (xm, am)) = (at(h), at(-h));
        let fd = |p: &[f64], m: &[f64]| -> Vec<f64> {
            p.iter().zip(m).map(|(p, m)| (p - m) / (2.0 * h)).collect()
        };
        let err = |a: &[f64], b: &[f64]| {
            a.iter()
                .zip(b)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max)
        };
        let (fd_x, fd_a) = (fd(&xp, &xm), fd(&ap, &am));
        assert!(
            err(&t.rxhat, &fd_x) < 1e-7,
            "R{{X̂}}: {}",
            err(&t.rxhat, &fd_x)
        );
        assert!(err(&ra, &fd_a) < 1e-7, "R{{A}}: {}", err(&ra, &fd_a));
        assert!(block.mask.contains(&0.0) && block.mask.contains(&1.0));
        // Dropping −m(R{Z}): add s·m(R{Z}) back.
        let rz = matmul(
            (&block.cols, false),
            (&v[0], false),
            (g.rows(), g.taps(), g.f),
        );
        let mean = super::super::kernels::channel_sum(&rz, None, g.f);
        let mut wrong = t.rxhat.clone();
        for r in wrong.chunks_exact_mut(g.f) {
            (0..g.f).for_each(|c| r[c] += block.s[c] * mean[c] / g.rows() as f64);
        }
        assert!(
            err(&wrong, &fd_x) > 1e-3,
            "a dropped mean term passes: {}",
            err(&wrong, &fd_x)
        );
    }
}
