//! The whole network on one batch: the blocks ([`super::block`]) in sequence, the dense layer
//! and the mean cross-entropy, forward, backward and R-pass (equations in [`super`]).

use super::block::{Block, BlockTangent};
use super::kernels::{channel_sum, gemm, matmul, Geom, Real};
use crate::error::{invalid, Result};
use crate::params::ParamList;
use crate::problems::convnet::ConvNet;
use candle_core::{Device, Tensor};

/// The network's forward pass and cross-entropy over one batch of n images, in T.
pub(super) struct Forward<T> {
    pub net: ConvNet,
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
pub(super) fn params<T: Real>(
    net: &ConvNet,
    list: &ParamList,
    name: &'static str,
) -> Result<Vec<Vec<T>>> {
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
pub(super) fn to_list<T: Real>(net: &ConvNet, grads: Vec<Vec<T>>) -> Result<ParamList> {
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
    pub fn new(net: &ConvNet, phi: Vec<Vec<T>>, x: &Tensor, y: &Tensor) -> Result<Self> {
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
    pub fn backward(&self, v: Option<&[Vec<T>]>) -> Vec<Vec<T>> {
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
            let grad = block.backward(&da, &phi[ps.clone()], l > 0, tangent);
            out.splice(ps, grad.params);
            (da, rda) = (grad.input.unwrap_or_default(), grad.rinput);
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
    pub fn held(&self) -> Result<Vec<Tensor>> {
        let cpu = &Device::Cpu;
        let mut out = Vec::new();
        let blocks = self.blocks.iter().flat_map(|b| b.buffers());
        let rest = [&self.flat, &self.p, &self.ysum, &self.dz]
            .into_iter()
            .chain(&self.phi);
        for x in blocks.chain(rest.map(|x| &x[..])) {
            out.push(Tensor::from_slice(x, x.len(), cpu)?);
        }
        Ok(out)
    }
}
