//! A quadratic ABLO family with a closed-form hypergradient:
//!
//! L_in(θ, φ, T) = ½ φᵀAφ − φᵀ(Bθ + c_T),
//! L_out(θ, φ, T) = ½‖φ − y_T‖² + ½λ‖θ‖² + φᵀKθ,
//! V(θ) = Eθ + e (or V = e, independent of θ); tasks T = (c_T, y_T) with standard normal entries.
//!
//! Inner GD is linear, so J_j = dφ_j/dθ follows the forward recurrence J_0 = E (or 0),
//! J_j = (I − α_j A) J_{j−1} + α_j B, and d/dθ L_out(θ, φ_r) = λθ + Kᵀφ_r + J_rᵀ(φ_r − y + Kθ):
//! an independent check of every reverse-mode estimator.

use crate::error::{invalid, Result};
use crate::params::ParamList;
use crate::problem::{BilevelProblem, TaskDistribution};
use candle_core::{DType, Device, Tensor};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Sizes and settings of a quadratic problem.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuadraticConfig {
    /// dim θ.
    pub s: usize,
    /// dim φ.
    pub p: usize,
    /// α_1..α_r (r = length).
    pub alphas: Vec<f64>,
    /// L2 weight λ on θ in L_out.
    pub lambda: f64,
    /// Whether V(θ) = Eθ + e (true) or V = e.
    pub start_from_theta: bool,
    /// Seed of A, B, K, E, e.
    pub seed: u64,
}

impl Default for QuadraticConfig {
    fn default() -> Self {
        Self {
            s: 3,
            p: 4,
            alphas: vec![0.1; 5],
            lambda: 0.1,
            start_from_theta: true,
            seed: 0,
        }
    }
}

/// A task: the inner linear term c and the outer target y.
#[derive(Clone, Debug)]
pub struct QuadraticTask {
    /// c_T (length p).
    pub c: Vec<f64>,
    /// y_T (length p).
    pub y: Vec<f64>,
    c_t: Tensor,
    y_t: Tensor,
}

/// Row-major dense matrix helpers for the closed form.
fn matvec(m: &[f64], rows: usize, x: &[f64]) -> Vec<f64> {
    let cols = x.len();
    (0..rows)
        .map(|i| (0..cols).map(|k| m[i * cols + k] * x[k]).sum())
        .collect()
}

fn matvec_t(m: &[f64], cols: usize, x: &[f64]) -> Vec<f64> {
    let rows = x.len();
    (0..cols)
        .map(|k| (0..rows).map(|i| m[i * cols + k] * x[i]).sum())
        .collect()
}

/// The problem; matrices are stored row-major (for the closed form) and as tensors.
#[derive(Clone, Debug)]
pub struct Quadratic {
    cfg: QuadraticConfig,
    a: Vec<f64>,
    b: Vec<f64>,
    k: Vec<f64>,
    e: Vec<f64>,
    e0: Vec<f64>,
    t: [Tensor; 5], // A, B, K, E, e
    dtype: DType,
    device: Device,
}

impl Quadratic {
    /// Draws A (symmetric positive definite, α_j·λ_max(A) < 2 enforced), B, K, E, e from the seed.
    pub fn new(cfg: QuadraticConfig, dtype: DType, device: Device) -> Result<Self> {
        if cfg.s == 0 || cfg.p == 0 {
            return Err(invalid(
                "s, p",
                format!("{}, {}", cfg.s, cfg.p),
                "need positive sizes",
            ));
        }
        if cfg.alphas.is_empty() || cfg.alphas.iter().any(|&a| !(a > 0.0 && a < 0.4)) {
            return Err(invalid(
                "alphas",
                format!("{:?}", cfg.alphas),
                "need 1..r values in (0, 0.4)",
            ));
        }
        let (s, p) = (cfg.s, cfg.p);
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut normal = |n: usize, scale: f64| -> Vec<f64> {
            (0..n)
                .map(|_| scale * super::normal(&mut rng))
                .collect::<Vec<f64>>()
        };
        // A = MᵀM / (4p) + 0.5 I: eigenvalues in [0.5, ~1.5] for moderate p.
        let m = normal(p * p, 1.0);
        let mut a = vec![0.0; p * p];
        for i in 0..p {
            for j in 0..p {
                a[i * p + j] = (0..p).map(|k| m[k * p + i] * m[k * p + j]).sum::<f64>()
                    / (4.0 * p as f64)
                    + if i == j { 0.5 } else { 0.0 };
            }
        }
        let b = normal(p * s, 1.0 / (s as f64).sqrt());
        let k = normal(p * s, 0.3 / (s as f64).sqrt());
        let e = normal(p * s, 1.0 / (s as f64).sqrt());
        let e0 = normal(p, 1.0);
        let tensor = |v: &[f64], shape: &[usize]| -> Result<Tensor> {
            Ok(Tensor::from_slice(v, shape, &device)?.to_dtype(dtype)?)
        };
        let t = [
            tensor(&a, &[p, p])?,
            tensor(&b, &[p, s])?,
            tensor(&k, &[p, s])?,
            tensor(&e, &[p, s])?,
            tensor(&e0, &[p])?,
        ];
        Ok(Self {
            cfg,
            a,
            b,
            k,
            e,
            e0,
            t,
            dtype,
            device,
        })
    }

    /// The settings.
    pub fn config(&self) -> &QuadraticConfig {
        &self.cfg
    }

    /// θ from values.
    pub fn theta(&self, values: &[f64]) -> Result<ParamList> {
        if values.len() != self.cfg.s {
            return Err(invalid(
                "theta",
                values.len(),
                &format!("needs {} values", self.cfg.s),
            ));
        }
        ParamList::from_slice(values, self.dtype, &self.device)
    }

    /// A task with the given c and y.
    pub fn task(&self, c: Vec<f64>, y: Vec<f64>) -> Result<QuadraticTask> {
        if c.len() != self.cfg.p || y.len() != self.cfg.p {
            return Err(invalid(
                "task",
                format!("{} / {}", c.len(), y.len()),
                "c and y need length p",
            ));
        }
        let c_t = Tensor::from_slice(&c, c.len(), &self.device)?.to_dtype(self.dtype)?;
        let y_t = Tensor::from_slice(&y, y.len(), &self.device)?.to_dtype(self.dtype)?;
        Ok(QuadraticTask { c, y, c_t, y_t })
    }

    fn rollout(&self, theta: &[f64], task: &QuadraticTask) -> (Vec<f64>, Vec<f64>) {
        let (s, p) = (self.cfg.s, self.cfg.p);
        let mut phi = if self.cfg.start_from_theta {
            let mut v = matvec(&self.e, p, theta);
            v.iter_mut().zip(&self.e0).for_each(|(x, e)| *x += e);
            v
        } else {
            self.e0.clone()
        };
        // J: p × s, row-major.
        let mut jac = if self.cfg.start_from_theta {
            self.e.clone()
        } else {
            vec![0.0; p * s]
        };
        let bt = matvec(&self.b, p, theta);
        for &al in &self.cfg.alphas {
            let ajac: Vec<f64> = (0..p * s)
                .map(|idx| {
                    (0..p)
                        .map(|k| self.a[(idx / s) * p + k] * jac[k * s + idx % s])
                        .sum()
                })
                .collect();
            for idx in 0..p * s {
                jac[idx] += -al * ajac[idx] + al * self.b[idx];
            }
            let aphi = matvec(&self.a, p, &phi);
            for i in 0..p {
                phi[i] -= al * (aphi[i] - bt[i] - task.c[i]);
            }
        }
        (phi, jac)
    }

    /// The ABLO hypergradient d/dθ L_out(θ, U^(r)(θ, T), T) in closed form.
    pub fn closed_form_gradient(&self, theta: &[f64], task: &QuadraticTask) -> Vec<f64> {
        let (s, p) = (self.cfg.s, self.cfg.p);
        let (phi, jac) = self.rollout(theta, task);
        let k_theta = matvec(&self.k, p, theta);
        let resid: Vec<f64> = (0..p).map(|i| phi[i] - task.y[i] + k_theta[i]).collect();
        let kt_phi = matvec_t(&self.k, s, &phi);
        let jt_resid = matvec_t(&jac, s, &resid);
        (0..s)
            .map(|j| self.cfg.lambda * theta[j] + kt_phi[j] + jt_resid[j])
            .collect()
    }

    /// The implicit-function hypergradient d/dθ L_out(θ, φ*(θ), T) at the inner minimiser
    /// φ* = A⁻¹(Bθ + c), which r → ∞ inner steps approach: λθ + Kᵀφ* + (A⁻¹B)ᵀ(φ* − y + Kθ).
    /// What AID and the Neumann series estimate (as N, Q → ∞ at φ_r → φ*).
    pub fn implicit_gradient(&self, theta: &[f64], task: &QuadraticTask) -> Vec<f64> {
        let (s, p) = (self.cfg.s, self.cfg.p);
        let rhs: Vec<f64> = matvec(&self.b, p, theta)
            .iter()
            .zip(&task.c)
            .map(|(b, c)| b + c)
            .collect();
        let phi = solve_spd(&self.a, &rhs);
        let k_theta = matvec(&self.k, p, theta);
        let resid: Vec<f64> = (0..p).map(|i| phi[i] - task.y[i] + k_theta[i]).collect();
        // (A⁻¹B)ᵀ resid = Bᵀ A⁻¹ resid (A symmetric).
        let bt_w = matvec_t(&self.b, s, &solve_spd(&self.a, &resid));
        let kt_phi = matvec_t(&self.k, s, &phi);
        (0..s)
            .map(|j| self.cfg.lambda * theta[j] + kt_phi[j] + bt_w[j])
            .collect()
    }

    /// L_out(θ, U^(r)(θ, T), T) in plain f64.
    pub fn objective(&self, theta: &[f64], task: &QuadraticTask) -> f64 {
        let p = self.cfg.p;
        let (phi, _) = self.rollout(theta, task);
        let k_theta = matvec(&self.k, p, theta);
        0.5 * (0..p).map(|i| (phi[i] - task.y[i]).powi(2)).sum::<f64>()
            + 0.5 * self.cfg.lambda * theta.iter().map(|x| x * x).sum::<f64>()
            + (0..p).map(|i| phi[i] * k_theta[i]).sum::<f64>()
    }
}

/// x with A x = b for symmetric positive definite A (row-major n × n), by Cholesky.
fn solve_spd(a: &[f64], b: &[f64]) -> Vec<f64> {
    let n = b.len();
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let sum: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            l[i * n + j] = if i == j {
                (a[i * n + i] - sum).sqrt()
            } else {
                (a[i * n + j] - sum) / l[j * n + j]
            };
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        y[i] = (b[i] - (0..i).map(|k| l[i * n + k] * y[k]).sum::<f64>()) / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        x[i] = (y[i] - (i + 1..n).map(|k| l[k * n + i] * x[k]).sum::<f64>()) / l[i * n + i];
    }
    x
}

fn col(t: &Tensor) -> Result<Tensor> {
    Ok(t.unsqueeze(1)?)
}

impl BilevelProblem for Quadratic {
    type Task = QuadraticTask;

    fn start(&self, theta: &ParamList, _task: &QuadraticTask) -> Result<ParamList> {
        let [_, _, _, e, e0] = &self.t;
        if !self.cfg.start_from_theta {
            return Ok(ParamList::single(e0.clone()));
        }
        let v = (e.matmul(&col(&theta.tensors()[0])?)?.squeeze(1)? + e0)?;
        Ok(ParamList::single(v))
    }

    fn start_depends_on_theta(&self) -> bool {
        self.cfg.start_from_theta
    }

    fn inner_loss(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &QuadraticTask,
    ) -> Result<Tensor> {
        let [a, b, _, _, _] = &self.t;
        let (th, ph) = (col(&theta.tensors()[0])?, col(&phi.tensors()[0])?);
        let quad = ph.t()?.matmul(&a.matmul(&ph)?)?.affine(0.5, 0.0)?;
        let lin = ph.t()?.matmul(&(b.matmul(&th)? + col(&task.c_t)?)?)?;
        Ok((quad - lin)?.sum_all()?)
    }

    fn outer_loss(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &QuadraticTask,
    ) -> Result<Tensor> {
        let [_, _, k, _, _] = &self.t;
        let (th, ph) = (&theta.tensors()[0], &phi.tensors()[0]);
        let fit = (ph - &task.y_t)?.sqr()?.sum_all()?.affine(0.5, 0.0)?;
        let reg = th.sqr()?.sum_all()?.affine(0.5 * self.cfg.lambda, 0.0)?;
        let coupling = col(ph)?.t()?.matmul(&k.matmul(&col(th)?)?)?.sum_all()?;
        Ok(((fit + reg)? + coupling)?)
    }

    fn step_sizes(&self) -> &[f64] {
        &self.cfg.alphas
    }
}

impl TaskDistribution for Quadratic {
    fn sample_task(&self, rng: &mut dyn RngCore) -> Result<QuadraticTask> {
        let mut draw =
            || -> Vec<f64> { (0..self.cfg.p).map(|_| super::normal(&mut *rng)).collect() };
        let c = draw();
        let y = draw();
        self.task(c, y)
    }
}
