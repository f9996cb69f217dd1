//! Shared fixtures of the engine's integration tests.
#![allow(dead_code)]

use candle_core::{DType, Device};
use hypergrad::estimators::{Fom, RecomputeExact, StoredExact, Unrolled};
use hypergrad::problems::{
    Counterexample, CounterexampleConfig, MlpConfig, MlpData, MlpHypercleaning, Quadratic,
    QuadraticConfig,
};
use hypergrad::{Autodiff, Counted, Estimator, Oracles, ParamList, Result, UnrolledReference};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

pub fn counterexample() -> Result<Counted<Autodiff<Counterexample>>> {
    let p = Counterexample::from_config(&CounterexampleConfig::default())?;
    Ok(Counted::new(Autodiff::new(p)?))
}

pub fn quadratic(cfg: QuadraticConfig) -> Result<Counted<Autodiff<Quadratic>>> {
    Ok(Counted::new(Autodiff::new(Quadratic::new(
        cfg,
        DType::F64,
        Device::Cpu,
    )?)?))
}

pub fn mlp(cfg: MlpConfig) -> Result<Counted<Autodiff<MlpHypercleaning>>> {
    let (data, _) = MlpData::synthetic(24, 16, 5, 3, 0.5, 7, DType::F64, &Device::Cpu)?;
    Ok(Counted::new(Autodiff::new(MlpHypercleaning::new(
        data, cfg,
    )?)?))
}

/// (FOM, stored exact, recompute exact, unrolled) gradients at θ for one task.
pub fn four_gradients<O: UnrolledReference>(
    o: &Counted<O>,
    theta: &ParamList,
    task: &O::Task,
) -> Result<[Vec<f64>; 4]> {
    let mut r = rng(0);
    Ok([
        Fom.estimate(o, theta, task, &mut r)?.grad.to_vec()?,
        StoredExact
            .estimate(o, theta, task, &mut r)?
            .grad
            .to_vec()?,
        RecomputeExact::new()
            .estimate(o, theta, task, &mut r)?
            .grad
            .to_vec()?,
        Unrolled.estimate(o, theta, task, &mut r)?.grad.to_vec()?,
    ])
}

pub fn steps<O: Oracles>(o: &Counted<O>) -> usize {
    o.step_sizes().len()
}
