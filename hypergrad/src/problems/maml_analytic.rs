//! Hand-derived oracles of MAML on the few-shot conv net: the analytic twin of
//! [`Autodiff`]`<`[`Maml`]`>`, with the same semantics, computed by an explicit backward pass
//! and Pearlmutter's R-operator (R{·} = d/dε ·(φ + εv)) on plain slices, as
//! [`MlpAnalytic`](super::MlpAnalytic) is for the MLP.
//!
//! The network ([`ConvNet`]) is `layers` blocks [conv → batch norm → ReLU], whose forward,
//! backward and R-op equations are derived in [`super::convnet_analytic`], then the dense layer
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
//! returns them; φ0 = θ and (∂V/∂θ)ᵀ v = v. The gradient costs three products per block (the
//! forward's C K, and Cᵀ dZ, dZ Kᵀ), the HVP nine, against autodiff's selection-matrix im2col,
//! graph and reverse-over-reverse. Computed on the CPU, in f32 or f64 (the dtype of φ).

use super::convnet::ConvNet;
use super::convnet_analytic::{channel_sum, gemm, matmul, Block, BlockTangent, Geom, Real};
use super::maml::{Maml, MamlTask};
use crate::error::{invalid, Result};
use crate::oracles::{Autodiff, Kept, KeptPoint, Oracles, UnrolledReference};
use crate::params::ParamList;
use crate::problem::BilevelProblem;
use candle_core::{DType, Device, Tensor};

/// Analytic oracles of [`Maml`]: the twin of [`Autodiff`]`<Maml>` (same values to rounding,
/// same call semantics), without autodiff graphs. CPU only.
#[derive(Clone, Debug)]
pub struct MamlAnalytic {
    problem: Maml,
}

/// The network's forward pass and cross-entropy over one batch of n images, in T.
struct Forward<T> {
    net: ConvNet,
    phi: Vec<Vec<T>>,
    blocks: Vec<Block<T>>,
    /// F, the last block's output (n × features).
    flat: Vec<T>,
    /// softmax(Z) (n × classes).
    p: Vec<T>,
    ysum: Vec<T>,
    /// ∂CE/∂Z = E / n.
    dz: Vec<T>,
}

/// A tensor's values in T (its dtype must be T's).
fn values<T: Real>(t: &Tensor) -> Result<Vec<T>> {
    Ok(t.flatten_all()?.to_vec1::<T>()?)
}

/// The tensors of φ or of a direction as vectors, checked against the network's shapes.
fn params<T: Real>(net: &ConvNet, list: &ParamList, name: &'static str) -> Result<Vec<Vec<T>>> {
    let shapes: Vec<_> = list.tensors().iter().map(|t| t.dims().to_vec()).collect();
    if shapes != net.param_shapes() {
        return Err(invalid(
            name,
            format!("{shapes:?}"),
            "needs the conv net's shapes",
        ));
    }
    if !list.device().is_cpu() {
        return Err(invalid(
            name,
            format!("{:?}", list.device()),
            "MamlAnalytic runs on the CPU",
        ));
    }
    list.tensors().iter().map(values).collect()
}

/// Vectors in the network's shapes as a parameter list (CPU).
fn to_list<T: Real>(net: &ConvNet, grads: Vec<Vec<T>>) -> Result<ParamList> {
    let shapes = net.param_shapes();
    let tensors = grads.into_iter().zip(shapes);
    ParamList::new(
        tensors
            .map(|(g, s)| Ok(Tensor::from_vec(g, s, &Device::Cpu)?))
            .collect::<Result<_>>()?,
    )
}

impl<T: Real> Forward<T> {
    /// The pass at φ on images x (N, C, H, W) with one-hot targets y (N, classes).
    fn new(net: &ConvNet, phi: Vec<Vec<T>>, x: &Tensor, y: &Tensor) -> Result<Self> {
        let (n, c, h, w) = x.dims4()?;
        let (yn, m) = y.dims2()?;
        if (c, h, w, yn, m) != (net.channels, net.in_hw, net.in_hw, n, net.classes) {
            let dims = format!("{:?} and {:?}", x.dims(), y.dims());
            return Err(invalid("task", dims, "does not fit the conv net"));
        }
        let mut a = values::<T>(&x.permute((0, 2, 3, 1))?)?;
        let mut blocks = Vec::with_capacity(net.layers);
        let (mut h, mut c) = (net.in_hw, net.channels);
        for l in 0..net.layers {
            let g = Geom {
                n,
                h,
                c,
                f: net.filters,
            };
            let (block, out) = Block::forward(g, &a, &phi[3 * l..3 * l + 3]);
            (a, h, c) = (out, g.oh(), net.filters);
            blocks.push(block);
        }
        let (w, b) = (&phi[3 * net.layers], &phi[3 * net.layers + 1]);
        let mut p: Vec<T> = (0..n).flat_map(|_| b.iter().copied()).collect();
        gemm(
            &mut p,
            true,
            (&a, false),
            (w, false),
            (n, net.features(), m),
        );
        for row in p.chunks_exact_mut(m) {
            let max = row
                .iter()
                .copied()
                .fold(row[0], |a, b| if b > a { b } else { a });
            let e: Vec<f64> = row.iter().map(|z| (*z - max).to_f64().exp()).collect();
            let sum: f64 = e.iter().sum();
            row.iter_mut()
                .zip(e)
                .for_each(|(p, e)| *p = T::from_f64(e / sum));
        }
        let y = values::<T>(y)?;
        let ysum: Vec<T> = y
            .chunks_exact(m)
            .map(|r| r.iter().fold(T::zero(), |s, x| s + *x))
            .collect();
        let inv_n = T::from_f64(1.0 / n as f64);
        let dz = (p.chunks_exact(m).zip(&ysum).zip(y.chunks_exact(m)))
            .flat_map(|((p, s), y)| p.iter().zip(y).map(move |(p, y)| (*p * *s - *y) * inv_n))
            .collect();
        Ok(Self {
            net: net.clone(),
            phi,
            blocks,
            flat: a,
            p,
            ysum,
            dz,
        })
    }

    /// ∂CE/∂φ; with v, its R-op ∇²_φ CE v instead.
    fn backward(&self, v: Option<&[Vec<T>]>) -> Vec<Vec<T>> {
        let (net, phi) = (&self.net, &self.phi);
        let (n, feat, m, layers) = (
            self.p.len() / net.classes,
            net.features(),
            net.classes,
            net.layers,
        );
        let (w, dz) = (&phi[3 * layers], &self.dz);
        let r = v.map(|v| self.tangent(v));
        let mut dw = matmul((&self.flat, true), (dz, false), (feat, n, m));
        let mut db = channel_sum(dz, None, m);
        let mut da = matmul((dz, false), (w, true), (n, m, feat));
        let mut rda = None;
        if let (Some(v), Some((_, rflat, rdz))) = (v, &r) {
            let mut rdw = matmul((rflat, true), (dz, false), (feat, n, m));
            gemm(
                &mut rdw,
                true,
                (&self.flat, true),
                (rdz, false),
                (feat, n, m),
            );
            (dw, db) = (rdw, channel_sum(rdz, None, m));
            let mut d = matmul((rdz, false), (w, true), (n, m, feat));
            gemm(
                &mut d,
                true,
                (dz, false),
                (&v[3 * layers], true),
                (n, m, feat),
            );
            rda = Some(d);
        }
        let mut out = vec![Vec::new(); 3 * layers];
        out.extend([dw, db]);
        for (l, block) in self.blocks.iter().enumerate().rev() {
            let ps = 3 * l..3 * l + 3;
            let tangent = match (v, &r, &rda) {
                (Some(v), Some((t, _, _)), Some(rda)) => Some((&t[l], &rda[..], &v[ps.clone()])),
                _ => None,
            };
            let (grad, rgrad) = block.backward(&da, &phi[ps.clone()], l > 0, tangent);
            let g = match rgrad {
                Some(rg) => {
                    rda = rg.input;
                    rg.params
                }
                None => grad.params,
            };
            out.splice(ps, g);
            da = grad.input.unwrap_or_default();
        }
        out
    }

    /// The R-forward along v: the blocks' tangents, R{F} and R{dZ}.
    fn tangent(&self, v: &[Vec<T>]) -> (Vec<BlockTangent<T>>, Vec<T>, Vec<T>) {
        let (net, phi) = (&self.net, &self.phi);
        let (n, feat, m, layers) = (
            self.p.len() / net.classes,
            net.features(),
            net.classes,
            net.layers,
        );
        let mut tangents = Vec::with_capacity(layers);
        let mut ra: Option<Vec<T>> = None;
        for (l, block) in self.blocks.iter().enumerate() {
            let ps = 3 * l..3 * l + 3;
            let (t, next) = block.tangent(ra.as_deref(), &phi[ps.clone()], &v[ps]);
            tangents.push(t);
            ra = Some(next);
        }
        let rflat = ra.unwrap_or_default();
        let mut rz: Vec<T> = (0..n)
            .flat_map(|_| v[3 * layers + 1].iter().copied())
            .collect();
        gemm(
            &mut rz,
            true,
            (&rflat, false),
            (&phi[3 * layers], false),
            (n, feat, m),
        );
        gemm(
            &mut rz,
            true,
            (&self.flat, false),
            (&v[3 * layers], false),
            (n, feat, m),
        );
        let inv_n = T::from_f64(1.0 / n as f64);
        let rows = rz
            .chunks_exact_mut(m)
            .zip(self.p.chunks_exact(m))
            .zip(&self.ysum);
        for ((r, p), s) in rows {
            let dot = r.iter().zip(p).fold(T::zero(), |a, (r, p)| a + *r * *p);
            r.iter_mut()
                .zip(p)
                .for_each(|(r, p)| *r = *p * (*r - dot) * *s * inv_n);
        }
        (tangents, rflat, rz)
    }

    /// Every buffer it keeps, as tensors (copies), for memory accounting.
    fn held(&self) -> Result<Vec<Tensor>> {
        let cpu = &Device::Cpu;
        let mut out = Vec::new();
        for b in &self.blocks {
            let (cols, xhat, mask) = b.buffers();
            out.push(Tensor::from_slice(cols, cols.len(), cpu)?);
            out.push(Tensor::from_slice(xhat, xhat.len(), cpu)?);
            let bytes: Vec<u8> = mask.iter().map(|&m| m as u8).collect();
            out.push(Tensor::from_vec(bytes, mask.len(), cpu)?);
        }
        for x in [&self.flat, &self.p, &self.ysum, &self.dz]
            .into_iter()
            .chain(&self.phi)
        {
            out.push(Tensor::from_slice(x, x.len(), cpu)?);
        }
        Ok(out)
    }
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
