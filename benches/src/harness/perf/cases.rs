//! The engine's reference cases, built on any device: the synthetic hypercleaning MLP
//! (MNIST-sized for the oracle timings, small for the estimator sweeps) and the few-shot conv
//! net (20-way 1-shot, 28×28 inputs, 4 blocks). The criterion perf bench times them on the CPU;
//! `ufom doctor --time` times them on a GPU against the CPU ([`super::oracle_timing`]).

use anyhow::{bail, Result};
use candle_core::{DType, Device};
use hypergrad::estimators::catalog::{self, Consumer};
use hypergrad::problems::{synthetic_source, ConvNet, Maml, MamlTask, MlpConfig, MlpData};
use hypergrad::problems::{MamlAnalytic, MlpAnalytic, MlpHypercleaning, MlpTask};
use hypergrad::{Autodiff, EstimatorSpec, Oracles, ParamList};
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

/// One oracle implementation bound to a case's point (θ, φ, task): what the perf bench, `ufom
/// doctor --time` and the JAX comparison time, whatever the oracles' type.
pub trait BoundOracles {
    /// θ.
    fn theta(&self) -> &ParamList;
    /// φ.
    fn phi(&self) -> &ParamList;
    /// One inner gradient ∂L_in/∂φ.
    fn gradient(&self) -> hypergrad::Result<ParamList>;
    /// One HVP pair [(∂²L_in/∂θ∂φ)ᵀv, ∇²_φ L_in v].
    fn hvp(&self, v: &ParamList) -> hypergrad::Result<(ParamList, ParamList)>;
}

struct Bound<O: Oracles> {
    oracles: O,
    theta: ParamList,
    phi: ParamList,
    task: O::Task,
}

impl<O: Oracles> BoundOracles for Bound<O> {
    fn theta(&self) -> &ParamList {
        &self.theta
    }
    fn phi(&self) -> &ParamList {
        &self.phi
    }
    fn gradient(&self) -> hypergrad::Result<ParamList> {
        self.oracles.inner_grad(&self.theta, &self.phi, &self.task)
    }
    fn hvp(&self, v: &ParamList) -> hypergrad::Result<(ParamList, ParamList)> {
        self.oracles
            .inner_hvp(&self.theta, &self.phi, &self.task, v)
    }
}

/// Binds `oracles` to the point (θ, φ, task): [`bind`] for oracles built elsewhere (a test's
/// small problem).
pub fn bind_oracles<O: Oracles + 'static>(
    oracles: O,
    theta: ParamList,
    phi: ParamList,
    task: O::Task,
) -> Box<dyn BoundOracles>
where
    O::Task: 'static,
{
    Box::new(Bound {
        oracles,
        theta,
        phi,
        task,
    })
}

/// `case` on `device` through the oracle implementation named `oracles` (one of
/// [`ReferenceCase::oracles`]), at its point: θ = 0 and φ = φ0 for the MLP, the initialiser's θ
/// and φ = θ for the conv net (MAML's V(θ) = θ).
pub fn bind(case: ReferenceCase, oracles: &str, device: &Device) -> Result<Box<dyn BoundOracles>> {
    Ok(match (case, oracles) {
        (ReferenceCase::Mlp { n_train }, "autodiff" | "analytic") => {
            let p = mnist_mlp(n_train, 1, device)?;
            let (theta, phi) = (p.theta_zero()?, p.phi0().clone());
            if oracles == "analytic" {
                bind_oracles(MlpAnalytic::new(p)?, theta, phi, MlpTask::default())
            } else {
                bind_oracles(Autodiff::new(p)?, theta, phi, MlpTask::default())
            }
        }
        (ReferenceCase::Conv { filters }, "autodiff" | "analytic") => {
            let (o, theta, task) = conv_case(filters, device)?;
            if oracles == "analytic" {
                // CPU only: on another device its constructor's first call fails, saying so.
                let analytic = MamlAnalytic::new(o.problem().clone())?;
                bind_oracles(analytic, theta.clone(), theta, task)
            } else {
                bind_oracles(o, theta.clone(), theta, task)
            }
        }
        _ => bail!("no {oracles} oracles for the reference case {case:?}"),
    })
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
