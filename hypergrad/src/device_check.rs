//! The engine's oracles on another device against the CPU: every built-in problem (so every op
//! the engine uses: matmul, broadcasts, relu, log-softmax, sigmoid, conv2d, avg-pool, batch
//! norm from primitives...) built twice from the same seeds, once per device, and each oracle —
//! ∂L_in/∂φ, (∂L_out/∂θ, ∂L_out/∂φ), the HVP (second order), (∂V/∂θ)ᵀv — and the stored-exact
//! hypergradient compared. Used by `ufom doctor` and by the verify suite when a CUDA device is
//! present.

use crate::check::relative_error;
use crate::error::Result;
use crate::estimators::{Estimator, StoredExact};
use crate::oracles::{Autodiff, Counted, Oracles};
use crate::params::ParamList;
use crate::problem::{BilevelProblem, TaskDistribution};
use crate::problems::{
    synthetic_source, ConvNet, Counterexample, CounterexampleConfig, Maml, MlpConfig, MlpData,
    MlpHypercleaning, MlpTask, Quadratic, QuadraticConfig,
};
use candle_core::{DType, Device};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// One quantity computed on both devices.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// The problem (`quadratic`, `counterexample`, `mlp`, `convnet`).
    pub problem: &'static str,
    /// `f64` or `f32`.
    pub dtype: DType,
    /// Which oracle (`inner_grad`, `outer_grads`, `inner_hvp`, `start_vjp`, `stored_exact`).
    pub quantity: &'static str,
    /// Max abs difference over the CPU value's max abs value (floor 1e-12).
    pub rel_error: f64,
    /// Max abs value of the CPU result (to see the check is not vacuous).
    pub scale: f64,
}

impl Comparison {
    /// The tolerance for its dtype: 1e-9 in f64, 1e-3 in f32 (other summation orders).
    pub fn tolerance(&self) -> f64 {
        if self.dtype == DType::F64 {
            1e-9
        } else {
            1e-3
        }
    }

    /// Whether it agrees.
    pub fn ok(&self) -> bool {
        self.rel_error <= self.tolerance()
    }
}

fn values(p: &ParamList) -> Result<Vec<f64>> {
    p.to_vec()
}

/// Every oracle of one problem at (θ, T) on both devices: `make(device)` builds the problem,
/// θ and the task identically on each.
fn compare<P, F>(
    name: &'static str,
    dtype: DType,
    device: &Device,
    make: F,
) -> Result<Vec<Comparison>>
where
    P: BilevelProblem + 'static,
    F: Fn(&Device) -> Result<(P, ParamList, P::Task)>,
{
    let mut out = Vec::new();
    let mut results: Vec<Vec<Vec<f64>>> = Vec::new();
    for dev in [&Device::Cpu, device] {
        let (problem, theta, task) = make(dev)?;
        let o = Counted::new(Autodiff::new(problem)?);
        let phi0 = o.start(&theta, &task)?;
        let direction: Vec<f64> = (0..phi0.numel())
            .map(|i| ((i * 7919) % 23) as f64 / 23.0 - 0.5)
            .collect();
        let v = phi0.with_values(&direction)?;
        let (b1, b2) = o.outer_grads(&theta, &phi0, &task)?;
        let (h_theta, h_phi) = o.inner_hvp(&theta, &phi0, &task, &v)?;
        let exact = StoredExact.estimate(&o, &theta, &task, &mut ChaCha8Rng::seed_from_u64(0))?;
        let mut outer = values(&b1)?;
        outer.extend(values(&b2)?);
        let mut hvp = values(&h_theta)?;
        hvp.extend(values(&h_phi)?);
        results.push(vec![
            values(&o.inner_grad(&theta, &phi0, &task)?)?,
            outer,
            hvp,
            values(&o.start_vjp(&theta, &task, &v)?)?,
            values(&exact.grad)?,
        ]);
    }
    let names = [
        "inner_grad",
        "outer_grads",
        "inner_hvp",
        "start_vjp",
        "stored_exact",
    ];
    for (i, quantity) in names.into_iter().enumerate() {
        let (cpu, dev) = (&results[0][i], &results[1][i]);
        out.push(Comparison {
            problem: name,
            dtype,
            quantity,
            rel_error: relative_error(dev, cpu, 1e-12),
            scale: cpu.iter().fold(0.0f64, |m, x| m.max(x.abs())),
        });
    }
    Ok(out)
}

/// All problems in f64 and f32 on `device` against the CPU.
pub fn compare_with_cpu(device: &Device) -> Result<Vec<Comparison>> {
    let mut out = Vec::new();
    for dtype in [DType::F64, DType::F32] {
        out.extend(compare("quadratic", dtype, device, |dev| {
            let cfg = QuadraticConfig {
                alphas: vec![0.1; 6],
                ..QuadraticConfig::default()
            };
            let p = Quadratic::new(cfg, dtype, dev.clone())?;
            let task = p.sample_task(&mut ChaCha8Rng::seed_from_u64(1))?;
            let theta = p.theta(&[0.3, -0.7, 1.1])?;
            Ok((p, theta, task))
        })?);
        out.extend(compare("counterexample", dtype, device, |dev| {
            let p = Counterexample::from_config(&CounterexampleConfig::default())?
                .on(dtype, dev.clone());
            let theta = p.theta(3.0)?;
            Ok((p, theta, 1))
        })?);
        out.extend(compare("mlp", dtype, device, |dev| {
            let (data, _) = MlpData::synthetic(24, 16, 5, 3, 0.5, 7, dtype, dev)?;
            let p = MlpHypercleaning::new(data, MlpConfig::default())?;
            let zero = p.theta_zero()?;
            let theta = zero.with_values(
                &(0..zero.numel())
                    .map(|i| (i as f64 * 0.37).sin())
                    .collect::<Vec<_>>(),
            )?;
            Ok((p, theta, MlpTask::default()))
        })?);
        out.extend(compare("convnet", dtype, device, |dev| {
            let net = ConvNet::omniglot(3, 4);
            let source = synthetic_source(net.clone(), 1, 1, dtype, dev.clone());
            let task = source(&mut ChaCha8Rng::seed_from_u64(2))?;
            let theta = net.init(0, dtype, dev)?;
            let p = Maml::new(net, 2, 0.1)?.with_source(source);
            Ok((p, theta, task))
        })?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CPU against CPU: every quantity identical and non-vacuous (the harness itself works).
    #[test]
    fn cpu_against_itself_agrees() -> Result<()> {
        let all = compare_with_cpu(&Device::Cpu)?;
        assert_eq!(all.len(), 2 * 4 * 5);
        for c in &all {
            assert!(c.ok(), "{c:?}");
            let vacuous = c.quantity == "start_vjp" && c.problem == "mlp";
            assert!(c.scale > 0.0 || vacuous, "{c:?}");
        }
        Ok(())
    }
}
