//! The engine's reference cases, built on any device: the synthetic hypercleaning MLP
//! (MNIST-sized for the oracle timings, small for the estimator sweeps) and the few-shot conv
//! net (20-way 1-shot, 28×28 inputs, 4 blocks). The criterion perf bench times them on the CPU;
//! `ufom doctor --time` times them on a GPU against the CPU ([`super::oracle_timing`]).

use anyhow::Result;
use candle_core::{DType, Device};
use hypergrad::estimators::catalog::{self, Consumer};
use hypergrad::problems::MlpHypercleaning;
use hypergrad::problems::{synthetic_source, ConvNet, Maml, MamlTask, MlpConfig, MlpData};
use hypergrad::{Autodiff, EstimatorSpec, ParamList};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Shape of a synthetic hypercleaning MLP.
#[derive(Clone, Copy, Debug)]
pub struct MlpShape {
    /// Training examples (= dim θ).
    pub n_train: usize,
    /// Validation examples.
    pub n_val: usize,
    /// Inputs.
    pub dim: usize,
    /// Hidden units.
    pub hidden: usize,
    /// Classes.
    pub classes: usize,
}

/// The hypercleaning shape with MNIST-sized inputs (784 → 256 → 10, n = 1000): the oracle
/// timings' case `mlp_n1000`; `mlp_n5000` has `n_train` 5000.
pub const MNIST_MLP: MlpShape = MlpShape {
    n_train: 1000,
    n_val: 100,
    dim: 784,
    hidden: 256,
    classes: 10,
};

/// One of the engine's four reference cases (the `engine` section of `reports/perf.json`,
/// `ufom doctor --time`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferenceCase {
    /// The hypercleaning MLP of [`MNIST_MLP`]'s shape with `n_train` training examples.
    Mlp {
        /// Training examples (= dim θ).
        n_train: usize,
    },
    /// The few-shot conv net of [`conv_case`] with `filters` filters per block.
    Conv {
        /// Filters per block.
        filters: usize,
    },
}

/// The reference cases by name, in the order they are timed and reported.
pub const REFERENCE_CASES: [(&str, ReferenceCase); 4] = [
    ("mlp_n1000", ReferenceCase::Mlp { n_train: 1000 }),
    ("mlp_n5000", ReferenceCase::Mlp { n_train: 5000 }),
    ("conv_f8", ReferenceCase::Conv { filters: 8 }),
    ("conv_f64", ReferenceCase::Conv { filters: 64 }),
];

impl ReferenceCase {
    /// The oracle implementations timed on it: candle autodiff and the hand-derived twin
    /// (`MlpAnalytic` for the MLP, `MamlAnalytic` for the conv net, CPU only).
    pub fn oracles(self) -> &'static [&'static str] {
        match self {
            ReferenceCase::Mlp { .. } | ReferenceCase::Conv { .. } => &["autodiff", "analytic"],
        }
    }
}

/// The hypercleaning MLP of [`MNIST_MLP`]'s shape with `n_train` examples (see
/// [`synthetic_mlp`]).
pub fn mnist_mlp(n_train: usize, steps: usize, device: &Device) -> Result<MlpHypercleaning> {
    synthetic_mlp(
        MlpShape {
            n_train,
            ..MNIST_MLP
        },
        steps,
        device,
    )
}

/// The synthetic hypercleaning MLP of `shape` in f32 on `device` (data seed 0, 10 % noisy
/// labels, r = `steps` inner steps of size 1 with the last one folded).
pub fn synthetic_mlp(shape: MlpShape, steps: usize, device: &Device) -> Result<MlpHypercleaning> {
    let (data, _) = MlpData::synthetic(
        shape.n_train,
        shape.n_val,
        shape.dim,
        shape.classes,
        0.1,
        0,
        DType::F32,
        device,
    )?;
    Ok(MlpHypercleaning::new(
        data,
        MlpConfig {
            hidden: shape.hidden,
            steps,
            alpha: 1.0,
            fold_last_step: true,
            init_seed: 0,
            task_batch: None,
        },
    )?)
}

/// The few-shot conv net with `filters` filters per block in f32 on `device`: θ from the
/// network's initialiser (seed 0), one synthetic 20-way 1-shot task (seed 3), one inner step.
/// MAML's V(θ) = θ, so the inner problem starts at φ = θ.
pub fn conv_case(filters: usize, device: &Device) -> Result<(Autodiff<Maml>, ParamList, MamlTask)> {
    let net = ConvNet::omniglot(20, filters);
    let source = synthetic_source(net.clone(), 1, 1, DType::F32, device.clone());
    let task = source(&mut ChaCha8Rng::seed_from_u64(3))?;
    let theta = net.init(0, DType::F32, device)?;
    let problem = Maml::new(net, 1, 0.1)?.with_source(source);
    Ok((Autodiff::new(problem)?, theta, task))
}

/// The estimators the perf bench times, by label: the catalog's perf settings
/// ([`hypergrad::estimators::catalog`]). `with_reference: false` leaves out the unrolled
/// reference, which needs oracles with an unrolled reference.
pub fn perf_estimators(with_reference: bool) -> Vec<(String, EstimatorSpec)> {
    catalog::runs_in(Consumer::Perf)
        .map(|e| e.setting)
        .filter(|s| with_reference || *s != EstimatorSpec::Unrolled)
        .map(|s| (s.label(), s))
        .collect()
}
