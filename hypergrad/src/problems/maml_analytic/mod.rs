//! Hand-derived oracles of MAML on the few-shot conv net: the analytic twin of
//! [`Autodiff`]`<`[`Maml`]`>`, with the same semantics, computed by an explicit backward pass
//! and Pearlmutter's R-operator (R{·} = d/dε ·(φ + εv)) on plain slices, as
//! [`MlpAnalytic`](super::MlpAnalytic) is for the MLP.
//!
//! The network ([`ConvNet`]) is `layers` blocks [conv → batch norm → ReLU], whose forward,
//! backward and R-op equations are derived in [`block`], then the dense layer
//! Z = F W + b on the flattened output F of the last block (n × features, NHWC order) and the
//! mean cross-entropy over the n images. With P = softmax(Z) (max-shifted, as
//! [`crate::nn::log_softmax`]), ȳ the row sums of the one-hot targets Y (1 per row), and
//! E = P ⊙ ȳ − Y:
//!
//! - backward: dZ = E / n, dW = Fᵀ dZ, db = Σ_rows dZ, dF = dZ Wᵀ, then through the blocks
//!   from the last to the first (dA of block l is dX of block l + 1; the first block's input
//!   is data, so its dX is not formed);
//! - R-pass along v = (V_K, v_γ, v_β per block; V_W, v_b): R{X} = 0 into the first block, the
//!   blocks' R-ops give R{F}; R{Z} = R{F} W + F V_W + v_b,
//!   R{P} = P ⊙ (R{Z} − rowsum(P ⊙ R{Z})), R{dZ} = R{P} ⊙ ȳ / n;
//!   R{dW} = R{F}ᵀ dZ + Fᵀ R{dZ}, R{db} = Σ_rows R{dZ}, R{dF} = R{dZ} Wᵀ + dZ V_Wᵀ, then the
//!   blocks' backward R-ops from the last to the first.
//!
//! So ∇²_φ L_in v = R{∂L_in/∂φ}. MAML's L_in and L_out depend on φ only (θ enters through
//! V(θ) = θ), so (∂²L_in/∂θ∂φ)ᵀ v and ∂L_out/∂θ are zero lists of θ's shapes, as autodiff
//! returns them; φ0 = θ and (∂V/∂θ)ᵀ v = v.
//!
//! Cost: the gradient takes three products per block (C K, Cᵀ dZ, dZ Kᵀ), the HVP eight (C K,
//! C V_K, R{C} K, dZ Kᵀ, Cᵀ R{dZ}, R{C}ᵀ dZ, R{dZ} Kᵀ, dZ V_Kᵀ; three for the first block, whose
//! input is data), against autodiff's selection-matrix im2col, graph and reverse-over-reverse.
//! [`Oracles::inner_grad_kept`] keeps the forward pass for the HVP at the same point. Computed
//! on the CPU in the dtype of φ (f32 or f64); tensors on another device are refused.

mod block;
mod kernels;
mod network;

use super::convnet::ConvNet;
use super::maml::{Maml, MamlTask};
use crate::error::{invalid, Result};
use crate::oracles::{Autodiff, Kept, KeptPoint, Oracles, UnrolledReference};
use crate::params::ParamList;
use crate::problem::BilevelProblem;
use candle_core::{DType, Tensor};
use network::{params, to_list, Forward};

/// Analytic oracles of [`Maml`]: the twin of [`Autodiff`]`<Maml>` (same values to rounding,
/// same call semantics), without autodiff graphs. CPU only.
#[derive(Clone, Debug)]
pub struct MamlAnalytic {
    problem: Maml,
}

/// A forward pass in the dtype of φ.
enum Pass {
    F32(Forward<f32>),
    F64(Forward<f64>),
}

/// A kept training pass: its HVPs, with the zero θ part of θ's shapes.
struct KeptPass {
    pass: Pass,
    theta_zero: ParamList,
}

impl Pass {
    fn new(net: &ConvNet, phi: &ParamList, x: &Tensor, y: &Tensor) -> Result<Self> {
        match phi.dtype() {
            DType::F32 => Ok(Pass::F32(Forward::new(
                net,
                params(net, phi, "phi")?,
                x,
                y,
            )?)),
            DType::F64 => Ok(Pass::F64(Forward::new(
                net,
                params(net, phi, "phi")?,
                x,
                y,
            )?)),
            d => Err(invalid(
                "dtype",
                format!("{d:?}"),
                "MamlAnalytic needs f32 or f64",
            )),
        }
    }

    fn gradient(&self) -> Result<ParamList> {
        match self {
            Pass::F32(f) => to_list(&f.net, f.backward(None)),
            Pass::F64(f) => to_list(&f.net, f.backward(None)),
        }
    }

    fn hvp(&self, v: &ParamList) -> Result<ParamList> {
        match self {
            Pass::F32(f) => to_list(&f.net, f.backward(Some(&params(&f.net, v, "v")?))),
            Pass::F64(f) => to_list(&f.net, f.backward(Some(&params(&f.net, v, "v")?))),
        }
    }
}

impl MamlAnalytic {
    /// Wraps `problem` (cheap: its tensors are shared).
    pub fn new(problem: Maml) -> Result<Self> {
        Ok(Self { problem })
    }

    /// The problem.
    pub fn problem(&self) -> &Maml {
        &self.problem
    }

    /// The training (support) pass at φ.
    fn train(&self, phi: &ParamList, task: &MamlTask) -> Result<Pass> {
        Pass::new(self.problem.net(), phi, &task.support_x, &task.support_y)
    }
}

impl Oracles for MamlAnalytic {
    type Task = MamlTask;

    fn step_sizes(&self) -> &[f64] {
        self.problem.step_sizes()
    }

    /// φ0 = V(θ) = θ.
    fn start(&self, theta: &ParamList, _task: &MamlTask) -> Result<ParamList> {
        Ok(theta.detach())
    }

    /// (∂V/∂θ)ᵀ v = v.
    fn start_vjp(&self, _theta: &ParamList, _task: &MamlTask, v: &ParamList) -> Result<ParamList> {
        Ok(v.detach())
    }

    fn inner_grad(
        &self,
        _theta: &ParamList,
        phi: &ParamList,
        task: &MamlTask,
    ) -> Result<ParamList> {
        self.train(phi, task)?.gradient()
    }

    /// (0, ∂CE_query/∂φ).
    fn outer_grads(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &MamlTask,
    ) -> Result<(ParamList, ParamList)> {
        let net = self.problem.net();
        let query = Pass::new(net, phi, &task.query_x, &task.query_y)?;
        Ok((theta.zeros_like()?, query.gradient()?))
    }

    fn inner_hvp(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &MamlTask,
        v: &ParamList,
    ) -> Result<(ParamList, ParamList)> {
        Ok((theta.zeros_like()?, self.train(phi, task)?.hvp(v)?))
    }

    /// Keeps the training forward pass, so a later HVP at this point skips it.
    fn inner_grad_kept(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &MamlTask,
    ) -> Result<(ParamList, Kept)> {
        let pass = self.train(phi, task)?;
        let grad = pass.gradient()?;
        let theta_zero = theta.zeros_like()?;
        Ok((grad, Kept::new(KeptPass { pass, theta_zero })))
    }
}

impl KeptPoint for KeptPass {
    fn hvp(&self, v: &ParamList) -> Result<(ParamList, ParamList)> {
        Ok((self.theta_zero.clone(), self.pass.hvp(v)?))
    }

    /// The forward pass's buffers (copied into tensors) and φ; not the task's data.
    fn held(&self) -> Vec<Tensor> {
        let held = match &self.pass {
            Pass::F32(f) => f.held(),
            Pass::F64(f) => f.held(),
        };
        held.expect("tensors from CPU buffers")
    }
}

/// The slow reference is autodiff's: back-propagation through the whole inner loop.
impl UnrolledReference for MamlAnalytic {
    fn unrolled_gradient(&self, theta: &ParamList, task: &MamlTask) -> Result<ParamList> {
        Autodiff::new(&self.problem)?.unrolled_gradient(theta, task)
    }
}
