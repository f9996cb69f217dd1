//! Data hypercleaning (REFERENCE §5) with a one-hidden-layer MLP g(φ, x) = W2 relu(W1 x + b1) + b2:
//!
//! θ ∈ Rⁿ holds one weight per training example; L_in(θ, φ) = (1/n) Σ_i m_i σ(θ_i) CE(g(φ, X_i), Y_i)
//! (m_i = 1, or a task's mini-batch mask); L_out = CE on the validation set. φ0 is fixed
//! (independent of θ). Because neither L_out nor φ0 depends on θ, FOM would return zero, so
//! optionally (`fold_last_step`, the paper's setting) the last inner step is folded into the
//! outer loss: L_out(θ, φ) := CE_val(φ − α ∂L_in/∂φ(θ, φ)).
//!
//! The paper sums over examples; this uses the mean, so α = 1 stays a stable step.

use crate::autodiff::grad_through;
use crate::error::{invalid, is_positive, Result};
use crate::nn::{cross_entropy, cross_entropy_per_example, linear, sigmoid};
use crate::params::ParamList;
use crate::problem::{BilevelProblem, TaskDistribution};
use candle_core::{DType, Device, Tensor};
use rand::seq::index::sample;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Training and validation data: inputs (n, d) and one-hot targets (n, classes).
#[derive(Clone, Debug)]
pub struct MlpData {
    /// Training inputs.
    pub train_x: Tensor,
    /// Training targets (possibly corrupted), one-hot.
    pub train_y: Tensor,
    /// Validation inputs.
    pub val_x: Tensor,
    /// Validation targets, one-hot.
    pub val_y: Tensor,
}

impl MlpData {
    /// Synthetic data of the hypercleaning shape: Gaussian inputs labelled by a random linear
    /// teacher, a `corruption` fraction of training labels redrawn uniformly. Returns the data
    /// and which training labels were redrawn.
    #[allow(clippy::too_many_arguments)]
    pub fn synthetic(
        n_train: usize,
        n_val: usize,
        dim: usize,
        classes: usize,
        corruption: f64,
        seed: u64,
        dtype: DType,
        device: &Device,
    ) -> Result<(Self, Vec<bool>)> {
        if n_train == 0 || n_val == 0 || dim == 0 || classes < 2 {
            return Err(invalid(
                "synthetic sizes",
                format!("{n_train}/{n_val}/{dim}/{classes}"),
                "need n, d >= 1 and >= 2 classes",
            ));
        }
        if !(0.0..=1.0).contains(&corruption) {
            return Err(invalid("corruption", corruption, "needs a rate in [0, 1]"));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let teacher: Vec<f64> = (0..dim * classes)
            .map(|_| super::normal(&mut rng))
            .collect();
        let mut make = |n: usize, corrupt: f64| -> (Vec<f64>, Vec<u32>, Vec<bool>) {
            let x: Vec<f64> = (0..n * dim).map(|_| super::normal(&mut rng)).collect();
            let mut labels = Vec::with_capacity(n);
            let mut redrawn = Vec::with_capacity(n);
            for i in 0..n {
                let row = &x[i * dim..(i + 1) * dim];
                let score = |c: usize| {
                    (0..dim)
                        .map(|k| row[k] * teacher[k * classes + c])
                        .sum::<f64>()
                };
                let best = (0..classes)
                    .max_by(|&a, &b| score(a).total_cmp(&score(b)))
                    .unwrap_or(0);
                let flip = rng.random_bool(corrupt);
                labels.push(if flip {
                    rng.random_range(0..classes as u32)
                } else {
                    best as u32
                });
                redrawn.push(flip);
            }
            (x, labels, redrawn)
        };
        let (tx, ty, redrawn) = make(n_train, corruption);
        let (vx, vy, _) = make(n_val, 0.0);
        let data = Self {
            train_x: Tensor::from_vec(tx, (n_train, dim), device)?.to_dtype(dtype)?,
            train_y: one_hot(&ty, classes, dtype, device)?,
            val_x: Tensor::from_vec(vx, (n_val, dim), device)?.to_dtype(dtype)?,
            val_y: one_hot(&vy, classes, dtype, device)?,
        };
        Ok((data, redrawn))
    }
}

pub use crate::nn::one_hot;

/// Settings of the MLP problem.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MlpConfig {
    /// Hidden units.
    pub hidden: usize,
    /// Inner steps r run by the estimators.
    pub steps: usize,
    /// Inner step size α.
    pub alpha: f64,
    /// Fold one more inner step into L_out (the paper's trick that makes FOM non-zero).
    pub fold_last_step: bool,
    /// Seed of φ0.
    pub init_seed: u64,
    /// Mini-batch size of a random task (`None`: the single task uses all examples).
    pub task_batch: Option<usize>,
}

impl Default for MlpConfig {
    fn default() -> Self {
        Self {
            hidden: 16,
            steps: 5,
            alpha: 1.0,
            fold_last_step: true,
            init_seed: 0,
            task_batch: None,
        }
    }
}

/// A task: which training examples the inner loss sees (all of them when `mask` is `None`).
#[derive(Clone, Debug, Default)]
pub struct MlpTask {
    /// 0/1 weights over the training examples, shape (n).
    pub mask: Option<Tensor>,
}

/// The hypercleaning problem with an MLP.
#[derive(Clone, Debug)]
pub struct MlpHypercleaning {
    data: MlpData,
    cfg: MlpConfig,
    alphas: Vec<f64>,
    phi0: ParamList,
}

impl MlpHypercleaning {
    /// Builds the problem; φ0 is drawn from `cfg.init_seed` (He-scaled Gaussian weights, zero biases).
    pub fn new(data: MlpData, cfg: MlpConfig) -> Result<Self> {
        let (n, dim) = data.train_x.dims2()?;
        let classes = data.train_y.dims2()?.1;
        if cfg.hidden == 0 || cfg.steps == 0 || !is_positive(cfg.alpha) {
            return Err(invalid(
                "mlp config",
                format!("{cfg:?}"),
                "needs hidden >= 1, steps >= 1, alpha > 0",
            ));
        }
        if let Some(b) = cfg.task_batch {
            if b == 0 || b > n {
                return Err(invalid("task_batch", b, &format!("needs 1..={n}")));
            }
        }
        let (dtype, device) = (data.train_x.dtype(), data.train_x.device().clone());
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.init_seed);
        let mut gaussian = |rows: usize, cols: usize| -> Result<Tensor> {
            let scale = (2.0 / rows as f64).sqrt();
            let v: Vec<f64> = (0..rows * cols)
                .map(|_| scale * super::normal(&mut rng))
                .collect::<Vec<f64>>();
            Ok(Tensor::from_vec(v, (rows, cols), &device)?.to_dtype(dtype)?)
        };
        let phi0 = ParamList::new(vec![
            gaussian(dim, cfg.hidden)?,
            Tensor::zeros(cfg.hidden, dtype, &device)?,
            gaussian(cfg.hidden, classes)?,
            Tensor::zeros(classes, dtype, &device)?,
        ])?;
        Ok(Self {
            alphas: vec![cfg.alpha; cfg.steps],
            data,
            cfg,
            phi0,
        })
    }

    /// The data.
    pub fn data(&self) -> &MlpData {
        &self.data
    }

    /// The settings.
    pub fn config(&self) -> &MlpConfig {
        &self.cfg
    }

    /// θ = 0 (every example weighted σ(0) = ½).
    pub fn theta_zero(&self) -> Result<ParamList> {
        let n = self.data.train_x.dims2()?.0;
        Ok(ParamList::single(Tensor::zeros(
            n,
            self.data.train_x.dtype(),
            self.data.train_x.device(),
        )?))
    }

    /// φ0.
    pub fn phi0(&self) -> &ParamList {
        &self.phi0
    }

    /// g(φ, x): logits.
    pub fn logits(phi: &ParamList, x: &Tensor) -> Result<Tensor> {
        let [w1, b1, w2, b2] = phi.tensors() else {
            return Err(invalid(
                "phi",
                phi.tensors().len(),
                "the MLP needs [W1, b1, W2, b2]",
            ));
        };
        linear(&linear(x, w1, b1)?.relu()?, w2, b2)
    }

    fn weighted_train_loss(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &MlpTask,
    ) -> Result<Tensor> {
        let ce =
            cross_entropy_per_example(&Self::logits(phi, &self.data.train_x)?, &self.data.train_y)?;
        let mut w = sigmoid(&theta.tensors()[0])?;
        let mut norm = ce.dims1()? as f64;
        if let Some(mask) = &task.mask {
            w = (w * mask)?;
            norm = mask
                .sum_all()?
                .to_dtype(DType::F64)?
                .to_scalar::<f64>()?
                .max(1.0);
        }
        Ok((ce * w)?.sum_all()?.affine(1.0 / norm, 0.0)?)
    }
}

impl BilevelProblem for MlpHypercleaning {
    type Task = MlpTask;

    fn start(&self, _theta: &ParamList, _task: &MlpTask) -> Result<ParamList> {
        Ok(self.phi0.clone())
    }

    fn start_depends_on_theta(&self) -> bool {
        false
    }

    fn inner_loss(&self, theta: &ParamList, phi: &ParamList, task: &MlpTask) -> Result<Tensor> {
        self.weighted_train_loss(theta, phi, task)
    }

    fn outer_loss(&self, theta: &ParamList, phi: &ParamList, task: &MlpTask) -> Result<Tensor> {
        let phi_eval = if self.cfg.fold_last_step {
            let (_, g) = grad_through(|p| self.weighted_train_loss(theta, p, task), phi)?;
            phi.axpy(-self.cfg.alpha, &g)?
        } else {
            phi.clone()
        };
        cross_entropy(
            &Self::logits(&phi_eval, &self.data.val_x)?,
            &self.data.val_y,
        )
    }

    fn step_sizes(&self) -> &[f64] {
        &self.alphas
    }
}

impl TaskDistribution for MlpHypercleaning {
    /// With `task_batch = Some(b)`: b training examples drawn without replacement; else all.
    fn sample_task(&self, rng: &mut dyn RngCore) -> Result<MlpTask> {
        let Some(b) = self.cfg.task_batch else {
            return Ok(MlpTask::default());
        };
        let n = self.data.train_x.dims2()?.0;
        let mut m = vec![0f64; n];
        for i in sample(rng, n, b) {
            m[i] = 1.0;
        }
        let mask = Tensor::from_vec(m, n, self.data.train_x.device())?
            .to_dtype(self.data.train_x.dtype())?;
        Ok(MlpTask { mask: Some(mask) })
    }

    fn enumerate_tasks(&self) -> Option<Vec<(f64, MlpTask)>> {
        self.cfg
            .task_batch
            .is_none()
            .then(|| vec![(1.0, MlpTask::default())])
    }
}
