//! MAML few-shot classification as an ABLO problem (REFERENCE §6, §5.3 of the paper):
//! V(θ, T) = θ, L_in = cross-entropy of the [`ConvNet`] on the K·m support images,
//! L_out = cross-entropy on the query images, r inner SGD steps of size α (paper: r = 10,
//! α = 0.005). Batch norm is transductive: the support batch normalises itself in L_in, the
//! query batch itself in L_out.
//!
//! Tasks come from a [`TaskSource`]: the experiments plug in the datasets' task sampler; the
//! default source draws synthetic m-way tasks (Gaussian class prototypes plus noise) so that
//! the problem is usable, and testable, without data.

use super::convnet::ConvNet;
use crate::error::{invalid, is_positive, Result};
use crate::nn::{accuracy, cross_entropy};
use crate::params::ParamList;
use crate::problem::{BilevelProblem, TaskDistribution};
use candle_core::{DType, Device, Tensor};
use rand::RngCore;
use std::sync::Arc;

/// One m-way task: images (N, C, H, W) and one-hot labels (N, m).
#[derive(Clone, Debug)]
pub struct MamlTask {
    /// Support images (K·m of them).
    pub support_x: Tensor,
    /// Support labels, one-hot.
    pub support_y: Tensor,
    /// Query images.
    pub query_x: Tensor,
    /// Query labels, one-hot.
    pub query_y: Tensor,
}

/// Draws tasks T ~ p(T).
pub type TaskSource = Arc<dyn Fn(&mut dyn RngCore) -> Result<MamlTask> + Send + Sync>;

/// The MAML problem on a conv network.
#[derive(Clone)]
pub struct Maml {
    net: ConvNet,
    alphas: Vec<f64>,
    source: TaskSource,
}

impl std::fmt::Debug for Maml {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Maml")
            .field("net", &self.net)
            .field("alphas", &self.alphas)
            .finish_non_exhaustive()
    }
}

impl Maml {
    /// r inner steps of size α; tasks from the synthetic source (1 shot, 1 query per class,
    /// f64 on the CPU) until [`Maml::with_source`] replaces it.
    pub fn new(net: ConvNet, steps: usize, alpha: f64) -> Result<Self> {
        if steps == 0 || !is_positive(alpha) {
            return Err(invalid(
                "maml",
                format!("r = {steps}, alpha = {alpha}"),
                "needs r >= 1 and alpha > 0",
            ));
        }
        let source = synthetic_source(net.clone(), 1, 1, DType::F64, Device::Cpu);
        Ok(Self {
            alphas: vec![alpha; steps],
            net,
            source,
        })
    }

    /// The same problem drawing its tasks from `source`.
    pub fn with_source(mut self, source: TaskSource) -> Self {
        self.source = source;
        self
    }

    /// The network.
    pub fn net(&self) -> &ConvNet {
        &self.net
    }

    /// φ_r after r inner SGD steps from θ on the task's support set (no calls counted; for
    /// meta-test evaluation).
    pub fn adapt(&self, theta: &ParamList, task: &MamlTask) -> Result<ParamList> {
        crate::oracles::rollout(&crate::Autodiff::new(self)?, theta, task, self.alphas.len())
    }

    /// (accuracy on the query images, query cross-entropy) of `phi`.
    pub fn query_metrics(&self, phi: &ParamList, task: &MamlTask) -> Result<(f64, f64)> {
        let logits = self.net.forward(phi, &task.query_x)?;
        let ce = cross_entropy(&logits, &task.query_y)?
            .to_dtype(DType::F64)?
            .to_scalar::<f64>()?;
        Ok((accuracy(&logits, &task.query_y)?, ce))
    }
}

impl BilevelProblem for Maml {
    type Task = MamlTask;

    fn start(&self, theta: &ParamList, _task: &MamlTask) -> Result<ParamList> {
        Ok(theta.clone())
    }

    fn inner_loss(&self, _theta: &ParamList, phi: &ParamList, task: &MamlTask) -> Result<Tensor> {
        cross_entropy(&self.net.forward(phi, &task.support_x)?, &task.support_y)
    }

    fn outer_loss(&self, _theta: &ParamList, phi: &ParamList, task: &MamlTask) -> Result<Tensor> {
        cross_entropy(&self.net.forward(phi, &task.query_x)?, &task.query_y)
    }

    fn step_sizes(&self) -> &[f64] {
        &self.alphas
    }
}

impl TaskDistribution for Maml {
    fn sample_task(&self, rng: &mut dyn RngCore) -> Result<MamlTask> {
        (self.source)(rng)
    }
}

/// Synthetic m-way tasks for `net`: per task, m class prototypes with N(0, 1) pixels; each
/// image is its prototype plus N(0, 0.5²) noise. `shots` support and `queries` query images
/// per class, labelled in class order.
pub fn synthetic_source(
    net: ConvNet,
    shots: usize,
    queries: usize,
    dtype: DType,
    device: Device,
) -> TaskSource {
    Arc::new(move |rng: &mut dyn RngCore| {
        let m = net.classes;
        let size = net.channels * net.in_hw * net.in_hw;
        let protos: Vec<Vec<f64>> = (0..m)
            .map(|_| (0..size).map(|_| super::normal(rng)).collect())
            .collect();
        let mut draw = |per_class: usize| -> Result<(Tensor, Tensor)> {
            let (mut x, mut y) = (Vec::new(), vec![0f64; m * per_class * m]);
            for (c, proto) in protos.iter().enumerate() {
                for j in 0..per_class {
                    x.extend(proto.iter().map(|p| p + 0.5 * super::normal(rng)));
                    y[(c * per_class + j) * m + c] = 1.0;
                }
            }
            let n = m * per_class;
            let shape = (n, net.channels, net.in_hw, net.in_hw);
            Ok((
                Tensor::from_vec(x, shape, &device)?.to_dtype(dtype)?,
                Tensor::from_vec(y, (n, m), &device)?.to_dtype(dtype)?,
            ))
        };
        let (support_x, support_y) = draw(shots)?;
        let (query_x, query_y) = draw(queries)?;
        Ok(MamlTask {
            support_x,
            support_y,
            query_x,
            query_y,
        })
    })
}
