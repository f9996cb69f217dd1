//! Hand-derived oracles of the hypercleaning MLP: the analytic twin of
//! [`Autodiff`](crate::oracles::Autodiff)`<`[`MlpHypercleaning`]`>`, with the same semantics, computed by an explicit
//! backward pass and Pearlmutter's R-operator on plain (non-tracking) candle tensors.
//!
//! Notation (x W + b layout, n training rows): H = X W1 + b1, A = relu(H), M = 1[H ≥ 0] (candle's
//! relu backward), Z = A W2 + b2, P = softmax(Z) (max-shifted, as [`crate::nn::log_softmax`]),
//! E = P ⊙ ȳ − Y = ∂CE_i/∂Z_i (ȳ the row sums of Y: 1 for one-hot rows),
//! s_i = m_i σ(θ_i) / norm (norm = max(Σ m, 1) with a task mask, else n).
//!
//! Backward (∂L_in/∂φ): dZ = s ⊙ E, dW2 = Aᵀ dZ, db2 = Σ_rows dZ, dA = dZ W2ᵀ, dH = dA ⊙ M,
//! dW1 = Xᵀ dH, db1 = Σ_rows dH.
//!
//! R-pass along v = (V1, v_b1, V2, v_b2) (R{·} = d/dε ·(φ + εv), M constant):
//!
//! - R{H} = X V1 + v_b1, R{A} = R{H} ⊙ M, R{Z} = R{A} W2 + A V2 + v_b2,
//! - R{P} = P ⊙ (R{Z} − rowsum(P ⊙ R{Z})), R{dZ} = s ⊙ R{P} ⊙ ȳ,
//! - R{dW2} = R{A}ᵀ dZ + Aᵀ R{dZ}, R{db2} = Σ_rows R{dZ},
//! - R{dA} = R{dZ} W2ᵀ + dZ V2ᵀ, R{dH} = R{dA} ⊙ M, R{dW1} = Xᵀ R{dH}, R{db1} = Σ_rows R{dH};
//!
//! so ∇²_φ L_in v = R{∂L_in/∂φ}, and (∂²L_in/∂θ∂φ)ᵀ v = ∂/∂θ ⟨∂L_in/∂φ, v⟩ has entries
//! σ'(θ_i) m_i / norm · ⟨E_i, R{Z}_i⟩. The gradient costs two (n × d × h) products (X W1, Xᵀ dH),
//! the HVP three (X W1, X V1, Xᵀ R{dH}).
//!
//! With `fold_last_step`, L_out(θ, φ) = CE_val(φ'), φ' = φ − α ∂L_in/∂φ; with u = ∂CE_val/∂φ at
//! φ': ∂L_out/∂φ = u − α ∇²_φ L_in u and ∂L_out/∂θ = −α (∂²L_in/∂θ∂φ)ᵀ u (the training forward
//! pass is shared by the gradient and the HVP). Without it ∂L_out/∂θ = 0.

use super::mlp::{MlpHypercleaning, MlpTask};
use crate::error::{invalid, Result};
use crate::nn::sigmoid;
use crate::oracles::{Autodiff, Kept, KeptPoint, Oracles, UnrolledReference};
use crate::params::ParamList;
use crate::problem::BilevelProblem;
use candle_core::{DType, Tensor, D};

/// Analytic oracles of [`MlpHypercleaning`]: the twin of
/// [`Autodiff`](crate::oracles::Autodiff)`<MlpHypercleaning>`
/// (same values to rounding, same call semantics), without autodiff graphs.
#[derive(Clone, Debug)]
pub struct MlpAnalytic {
    problem: MlpHypercleaning,
    /// Row sums ȳ of the training and validation targets, shape (rows, 1).
    train_ysum: Tensor,
    val_ysum: Tensor,
}

/// The tensors [W1, b1, W2, b2] of φ or of a direction, detached.
fn parts(p: &ParamList, name: &'static str) -> Result<[Tensor; 4]> {
    match p.tensors() {
        [w1, b1, w2, b2] => Ok([w1.detach(), b1.detach(), w2.detach(), b2.detach()]),
        t => Err(invalid(name, t.len(), "the MLP needs [W1, b1, W2, b2]")),
    }
}

/// One forward pass of g(φ, ·) over a data set, kept for the backward and R passes.
struct Forward {
    x: Tensor,
    ysum: Tensor,
    w2: Tensor,
    /// M = 1[H ≥ 0] in the data type.
    mask: Tensor,
    a: Tensor,
    p: Tensor,
    /// E = P ⊙ ȳ − Y.
    e: Tensor,
}

impl Forward {
    /// Owns (shares) its tensors so a training pass can be kept for later HVPs.
    fn new(phi: &[Tensor; 4], x: &Tensor, y: &Tensor, ysum: &Tensor) -> Result<Self> {
        let [w1, b1, w2, b2] = phi;
        let h = x.matmul(w1)?.broadcast_add(b1)?;
        let mask = h.ge(0.0)?.to_dtype(h.dtype())?;
        let a = h.relu()?;
        let z = a.matmul(w2)?.broadcast_add(b2)?;
        let shifted = z.broadcast_sub(&z.max_keepdim(D::Minus1)?)?;
        let ez = shifted.exp()?;
        let p = ez.broadcast_div(&ez.sum_keepdim(D::Minus1)?)?;
        let e = (p.broadcast_mul(ysum)? - y)?;
        Ok(Self {
            x: x.clone(),
            ysum: ysum.clone(),
            w2: w2.clone(),
            mask,
            a,
            p,
            e,
        })
    }

    /// Back-propagates dZ to [dW1, db1, dW2, db2]; `tangent` = (R{A}ᵀ dZ, dZ V2ᵀ) adds the R-pass
    /// terms into dW2 and dA.
    fn backward(&self, dz: &Tensor, tangent: Option<(Tensor, Tensor)>) -> Result<ParamList> {
        let mut dw2 = self.a.t()?.matmul(dz)?;
        let mut da = dz.matmul(&self.w2.t()?)?;
        if let Some((t_w2, t_a)) = tangent {
            dw2 = (dw2 + t_w2)?;
            da = (da + t_a)?;
        }
        let dh = (da * &self.mask)?;
        let dw1 = self.x.t()?.matmul(&dh)?;
        ParamList::new(vec![dw1, dh.sum(0)?, dw2, dz.sum(0)?])
    }
}

/// The training forward pass with its row scales s (n, 1), dZ = s ⊙ E, and
/// ∂s/∂θ = m σ(θ) σ(−θ) / norm (n) (σ' in a form exact in the tails).
struct Train {
    f: Forward,
    s: Tensor,
    ds: Tensor,
    dz: Tensor,
}

impl Train {
    /// [(∂²L_in/∂θ∂φ)ᵀ v, ∇²_φ L_in v] by the R-pass of the module documentation.
    fn hvp(&self, v: &[Tensor; 4]) -> Result<(ParamList, ParamList)> {
        let (f, [v1, vb1, v2, vb2]) = (&self.f, v);
        let ra = (f.x.matmul(v1)?.broadcast_add(vb1)? * &f.mask)?;
        let rz = (ra.matmul(&f.w2)? + f.a.matmul(v2)?)?.broadcast_add(vb2)?;
        let prz = (&f.p * &rz)?;
        let rp = (&prz - f.p.broadcast_mul(&prz.sum_keepdim(D::Minus1)?)?)?;
        let rdz = rp.broadcast_mul(&f.ysum)?.broadcast_mul(&self.s)?;
        let tangent = (ra.t()?.matmul(&self.dz)?, self.dz.matmul(&v2.t()?)?);
        let h_phi = f.backward(&rdz, Some(tangent))?;
        let h_theta = (&self.ds * (&f.e * &rz)?.sum(D::Minus1)?)?;
        Ok((ParamList::single(h_theta), h_phi))
    }
}

impl MlpAnalytic {
    /// Wraps `problem` (cheap: its tensors are shared).
    pub fn new(problem: MlpHypercleaning) -> Result<Self> {
        let d = problem.data();
        Ok(Self {
            train_ysum: d.train_y.sum_keepdim(1)?,
            val_ysum: d.val_y.sum_keepdim(1)?,
            problem,
        })
    }

    /// The problem.
    pub fn problem(&self) -> &MlpHypercleaning {
        &self.problem
    }

    /// The training forward pass at φ with the scales of θ and the task.
    fn train(&self, theta: &ParamList, phi: &[Tensor; 4], task: &MlpTask) -> Result<Train> {
        let d = self.problem.data();
        let n = d.train_x.dims2()?.0;
        let th = match theta.tensors() {
            [t] if t.dims() == [n] => t.detach(),
            t => {
                let shapes: Vec<_> = t.iter().map(|t| t.dims().to_vec()).collect();
                return Err(invalid(
                    "theta",
                    format!("{shapes:?}"),
                    &format!("needs [[{n}]]"),
                ));
            }
        };
        let norm = match &task.mask {
            Some(m) => m
                .sum_all()?
                .to_dtype(DType::F64)?
                .to_scalar::<f64>()?
                .max(1.0),
            None => n as f64,
        };
        let scale = |t: Tensor| -> Result<Tensor> {
            let t = match &task.mask {
                Some(m) => (t * m)?,
                None => t,
            };
            Ok(t.affine(1.0 / norm, 0.0)?)
        };
        let sig = sigmoid(&th)?;
        let ds = scale((&sig * sigmoid(&th.neg()?)?)?)?;
        let s = scale(sig)?.unsqueeze(1)?;
        let f = Forward::new(phi, &d.train_x, &d.train_y, &self.train_ysum)?;
        let dz = f.e.broadcast_mul(&s)?;
        Ok(Train { f, s, ds, dz })
    }
}

impl Oracles for MlpAnalytic {
    type Task = MlpTask;

    fn step_sizes(&self) -> &[f64] {
        self.problem.step_sizes()
    }

    fn start(&self, _theta: &ParamList, _task: &MlpTask) -> Result<ParamList> {
        Ok(self.problem.phi0().detach())
    }

    /// Zero: φ0 does not depend on θ.
    fn start_vjp(&self, theta: &ParamList, _task: &MlpTask, _v: &ParamList) -> Result<ParamList> {
        theta.zeros_like()
    }

    fn inner_grad(&self, theta: &ParamList, phi: &ParamList, task: &MlpTask) -> Result<ParamList> {
        let t = self.train(theta, &parts(phi, "phi")?, task)?;
        t.f.backward(&t.dz, None)
    }

    fn outer_grads(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &MlpTask,
    ) -> Result<(ParamList, ParamList)> {
        let (cfg, d) = (self.problem.config(), self.problem.data());
        let phi_p = parts(phi, "phi")?;
        let (train, phi_eval) = if cfg.fold_last_step {
            let t = self.train(theta, &phi_p, task)?;
            let g = t.f.backward(&t.dz, None)?;
            let phi_eval = parts(
                &ParamList::new(phi_p.to_vec())?.axpy(-cfg.alpha, &g)?,
                "phi",
            )?;
            (Some(t), phi_eval)
        } else {
            (None, phi_p)
        };
        let val = Forward::new(&phi_eval, &d.val_x, &d.val_y, &self.val_ysum)?;
        let n_val = d.val_x.dims2()?.0 as f64;
        let u = val.backward(&val.e.affine(1.0 / n_val, 0.0)?, None)?;
        match train {
            None => Ok((theta.zeros_like()?, u)),
            Some(t) => {
                let (h_theta, h_phi) = t.hvp(&parts(&u, "u")?)?;
                Ok((h_theta.scale(-cfg.alpha)?, u.axpy(-cfg.alpha, &h_phi)?))
            }
        }
    }

    fn inner_hvp(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &MlpTask,
        v: &ParamList,
    ) -> Result<(ParamList, ParamList)> {
        let v = parts(v, "v")?;
        self.train(theta, &parts(phi, "phi")?, task)?.hvp(&v)
    }

    /// Keeps the training forward pass, so a later HVP at this point skips it.
    fn inner_grad_kept(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &MlpTask,
    ) -> Result<(ParamList, Kept)> {
        let t = self.train(theta, &parts(phi, "phi")?, task)?;
        Ok((t.f.backward(&t.dz, None)?, Kept::new(t)))
    }
}

impl KeptPoint for Train {
    fn hvp(&self, v: &ParamList) -> Result<(ParamList, ParamList)> {
        Train::hvp(self, &parts(v, "v")?)
    }

    /// The forward pass's results and the row scales; not the training data (x, ȳ).
    fn held(&self) -> Vec<Tensor> {
        let f = &self.f;
        [
            &f.w2, &f.mask, &f.a, &f.p, &f.e, &self.s, &self.ds, &self.dz,
        ]
        .map(Tensor::clone)
        .to_vec()
    }
}

/// The slow reference is autodiff's: back-propagation through the whole inner loop.
impl UnrolledReference for MlpAnalytic {
    fn unrolled_gradient(&self, theta: &ParamList, task: &MlpTask) -> Result<ParamList> {
        Autodiff::new(&self.problem)?.unrolled_gradient(theta, task)
    }
}
