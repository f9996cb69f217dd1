//! First and second derivatives of a candle expression against central finite differences.
//!
//! For inputs x (one or more tensors, flattened into one vector) and a fixed random weight w
//! of the output's shape, the scalar L(x) = Σ w ⊙ f(x) is differentiated:
//! - first order: ∇L by candle's backward vs (L(x + h e_i) − L(x − h e_i)) / 2h, h = 1e-6;
//! - second order: H v by reverse-over-reverse (backward of ⟨∇L, v⟩ with the graph kept, see
//!   `hypergrad::autodiff::backward_keep_graph`) vs (∇L(x + h v) − ∇L(x − h v)) / 2h,
//!   h = 1e-5, for a fixed random direction v.
//!
//! Errors are [`hypergrad::check::relative_error`]s (max abs difference over the reference's
//! max abs value, floor 1e-8).

use crate::stats::standard_normal;
use candle_core::{Tensor, Var};
use hypergrad::autodiff::{backward_keep_graph, ensure_second_order};
use hypergrad::check::relative_error;
use hypergrad::Result;
use rand::Rng;

/// Where inputs are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// ±U[0.2, 1.2]: any sign, away from the kinks of relu/abs at 0.
    Real,
    /// U[0.5, 1.5] (log, sqrt, recip, powf).
    Positive,
}

/// The measured errors of one op.
#[derive(Clone, Copy, Debug)]
pub struct OpErrors {
    /// Relative error of ∇L.
    pub first: f64,
    /// Relative error of H v.
    pub second: f64,
    /// ‖∇L‖∞ of the finite-difference reference (to see the check is not vacuous).
    pub grad_scale: f64,
    /// ‖H v‖∞ of the finite-difference reference.
    pub hvp_scale: f64,
}

/// Inputs of the given shapes drawn from `domain` with `seed`.
pub fn inputs(shapes: &[&[usize]], domain: Domain, seed: u64) -> Result<Vec<Tensor>> {
    let mut r = crate::fixtures::rng(seed);
    shapes
        .iter()
        .map(|s| {
            let n: usize = s.iter().product();
            let v: Vec<f64> = (0..n)
                .map(|_| match domain {
                    Domain::Real => {
                        let m = r.random_range(0.2..1.2);
                        if r.random_bool(0.5) {
                            m
                        } else {
                            -m
                        }
                    }
                    Domain::Positive => r.random_range(0.5..1.5),
                })
                .collect();
            Ok(Tensor::from_vec(v, *s, &candle_core::Device::Cpu)?)
        })
        .collect()
}

/// A checker of one function of fixed inputs.
pub struct OpCheck<'a> {
    f: &'a dyn Fn(&[Tensor]) -> candle_core::Result<Tensor>,
    x: Vec<Tensor>,
    w: Tensor,
    v: Vec<f64>,
}

impl<'a> OpCheck<'a> {
    /// Prepares L(x) = Σ w ⊙ f(x) at `x`, with w and the direction v drawn from `seed`.
    pub fn new(
        f: &'a dyn Fn(&[Tensor]) -> candle_core::Result<Tensor>,
        x: Vec<Tensor>,
        seed: u64,
    ) -> Result<Self> {
        ensure_second_order()?;
        let out = f(&x)?;
        let mut r = crate::fixtures::rng(seed ^ 0x5eed);
        let wv: Vec<f64> = (0..out.elem_count())
            .map(|_| standard_normal(&mut r))
            .collect();
        let w = Tensor::from_vec(wv, out.dims(), out.device())?;
        let n: usize = x.iter().map(Tensor::elem_count).sum();
        let v = (0..n).map(|_| standard_normal(&mut r)).collect();
        Ok(Self { f, x, w, v })
    }

    fn with_values(&self, flat: &[f64]) -> Result<Vec<Tensor>> {
        let mut off = 0;
        self.x
            .iter()
            .map(|t| {
                let n = t.elem_count();
                let out = Tensor::from_slice(&flat[off..off + n], t.dims(), t.device())?;
                off += n;
                Ok(out)
            })
            .collect()
    }

    fn flat(&self) -> Result<Vec<f64>> {
        let mut out = Vec::new();
        for t in &self.x {
            out.extend(t.flatten_all()?.to_vec1::<f64>()?);
        }
        Ok(out)
    }

    /// L(x).
    pub fn loss(&self, x: &[Tensor]) -> Result<f64> {
        Ok(((self.f)(x)? * &self.w)?.sum_all()?.to_scalar::<f64>()?)
    }

    /// (∇L, H v) by autodiff at `x`.
    pub fn autodiff(&self, x: &[Tensor]) -> Result<(Vec<f64>, Vec<f64>)> {
        let vars: Vec<Var> = x
            .iter()
            .map(Var::from_tensor)
            .collect::<candle_core::Result<_>>()?;
        let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let loss = ((self.f)(&ts)? * &self.w)?.sum_all()?;
        let grads = backward_keep_graph(&loss)?;
        let mut g = Vec::new();
        let mut dot: Option<Tensor> = None;
        let mut off = 0;
        for t in &ts {
            let n = t.elem_count();
            let gi = match grads.get(t) {
                Some(gi) => gi.clone(),
                None => t.zeros_like()?,
            };
            g.extend(gi.flatten_all()?.to_vec1::<f64>()?);
            let vi = Tensor::from_slice(&self.v[off..off + n], t.dims(), t.device())?;
            let s = (gi * vi)?.sum_all()?;
            dot = Some(match dot {
                None => s,
                Some(d) => (d + s)?,
            });
            off += n;
        }
        let mut hv = Vec::new();
        let second = dot.map(|d| d.backward()).transpose()?;
        for t in &ts {
            match second.as_ref().and_then(|s| s.get(t)) {
                Some(h) => hv.extend(h.flatten_all()?.to_vec1::<f64>()?),
                None => hv.extend(vec![0.0; t.elem_count()]),
            }
        }
        Ok((g, hv))
    }

    /// First-derivative check only (for ops whose double backward is known broken).
    pub fn first_order(&self) -> Result<(Vec<f64>, Vec<f64>)> {
        let vars: Vec<Var> = self
            .x
            .iter()
            .map(Var::from_tensor)
            .collect::<candle_core::Result<_>>()?;
        let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let grads = ((self.f)(&ts)? * &self.w)?.sum_all()?.backward()?;
        let mut g = Vec::new();
        for t in &ts {
            match grads.get(t) {
                Some(gi) => g.extend(gi.flatten_all()?.to_vec1::<f64>()?),
                None => g.extend(vec![0.0; t.elem_count()]),
            }
        }
        Ok((g, self.fd_gradient()?))
    }

    /// Central finite differences of L, coordinate by coordinate.
    pub fn fd_gradient(&self) -> Result<Vec<f64>> {
        let (base, h) = (self.flat()?, 1e-6);
        (0..base.len())
            .map(|i| {
                let (mut p, mut m) = (base.clone(), base.clone());
                p[i] += h;
                m[i] -= h;
                Ok(
                    (self.loss(&self.with_values(&p)?)? - self.loss(&self.with_values(&m)?)?)
                        / (2.0 * h),
                )
            })
            .collect()
    }

    /// Both checks.
    pub fn run(&self) -> Result<OpErrors> {
        let (g, hv) = self.autodiff(&self.x)?;
        let fd_g = self.fd_gradient()?;
        let (base, h) = (self.flat()?, 1e-5);
        let shifted = |sign: f64| -> Result<Vec<f64>> {
            let x: Vec<f64> = base
                .iter()
                .zip(&self.v)
                .map(|(b, v)| b + sign * h * v)
                .collect();
            Ok(self.autodiff(&self.with_values(&x)?)?.0)
        };
        let (gp, gm) = (shifted(1.0)?, shifted(-1.0)?);
        let fd_hv: Vec<f64> = gp
            .iter()
            .zip(&gm)
            .map(|(a, b)| (a - b) / (2.0 * h))
            .collect();
        let inf = |v: &[f64]| v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        Ok(OpErrors {
            first: relative_error(&g, &fd_g, 1e-8),
            second: relative_error(&hv, &fd_hv, 1e-8),
            grad_scale: inf(&fd_g),
            hvp_scale: inf(&fd_hv),
        })
    }
}
