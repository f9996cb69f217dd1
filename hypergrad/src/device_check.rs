//! The engine's oracles on another device against the CPU: every built-in problem (so every op
//! the engine uses: matmul, broadcasts, relu, log-softmax, sigmoid, conv2d, avg-pool, batch
//! norm from primitives...) built twice from the same seeds, once per device, and each oracle —
//! ∂L_in/∂φ, (∂L_out/∂θ, ∂L_out/∂φ), the HVP (second order), (∂V/∂θ)ᵀv — and every
//! estimator's hypergradient ([`estimators_compared`], the same seed on both devices) compared.
//! Since exact ≡ recompute ≡ checkpointed on the CPU (verify's equivalence tests), agreement
//! here carries that equivalence to the device. Used by `ufom doctor` and by the verify suite
//! when a CUDA device is present.

use crate::check::relative_error;
use crate::error::Result;
use crate::estimators::EstimatorSpec;
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
    /// Which oracle (`inner_grad`, `outer_grads`, `inner_hvp`, `start_vjp`) or estimator (its
    /// label: `stored_exact`, `ufom_q0.5`, ...).
    pub quantity: String,
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

/// Every catalog estimator the device check runs (all but the unrolled reference, which needs
/// its own oracles), at its small setting: each takes its every branch on r = 2..6 inner steps;
/// UFOM and adaptive UFOM draw from the same seed on both devices.
pub fn estimators_compared() -> Vec<EstimatorSpec> {
    crate::estimators::catalog::runs_in(crate::estimators::Consumer::DeviceCheck)
        .map(|e| e.small)
        .collect()
}

/// Where and in which precision one side of a comparison runs.
type Side<'a> = (&'a Device, DType);

/// Every oracle and estimator of one problem at (θ, T) on both sides: `make(device, dtype)`
/// builds the problem, θ and the task identically on each. Reported under `other`'s dtype.
fn compare<P, F>(
    name: &'static str,
    reference: Side,
    other: Side,
    make: F,
) -> Result<Vec<Comparison>>
where
    P: BilevelProblem + 'static,
    F: Fn(&Device, DType) -> Result<(P, ParamList, P::Task)>,
{
    let specs = estimators_compared();
    let mut results: Vec<Vec<Vec<f64>>> = Vec::new();
    for (dev, dtype) in [reference, other] {
        let (problem, theta, task) = make(dev, dtype)?;
        let o = Counted::new(Autodiff::new(problem)?);
        let phi0 = o.start(&theta, &task)?;
        let direction: Vec<f64> = (0..phi0.numel())
            .map(|i| ((i * 7919) % 23) as f64 / 23.0 - 0.5)
            .collect();
        let v = phi0.with_values(&direction)?;
        let (b1, b2) = o.outer_grads(&theta, &phi0, &task)?;
        let (h_theta, h_phi) = o.inner_hvp(&theta, &phi0, &task, &v)?;
        let mut outer = values(&b1)?;
        outer.extend(values(&b2)?);
        let mut hvp = values(&h_theta)?;
        hvp.extend(values(&h_phi)?);
        let mut row = vec![
            values(&o.inner_grad(&theta, &phi0, &task)?)?,
            outer,
            hvp,
            values(&o.start_vjp(&theta, &task, &v)?)?,
        ];
        for spec in &specs {
            let mut estimator = spec.build::<Autodiff<P>>()?;
            let e = estimator.estimate(&o, &theta, &task, &mut ChaCha8Rng::seed_from_u64(0))?;
            row.push(values(&e.grad)?);
        }
        results.push(row);
    }
    let names = ["inner_grad", "outer_grads", "inner_hvp", "start_vjp"]
        .map(String::from)
        .into_iter()
        .chain(specs.iter().map(EstimatorSpec::label));
    Ok(names
        .enumerate()
        .map(|(i, quantity)| {
            let (cpu, dev) = (&results[0][i], &results[1][i]);
            Comparison {
                problem: name,
                dtype: other.1,
                quantity,
                rel_error: relative_error(dev, cpu, 1e-12),
                scale: cpu.iter().fold(0.0f64, |m, x| m.max(x.abs())),
            }
        })
        .collect())
}

/// All problems in f64 and f32 on `device` against the CPU.
pub fn compare_with_cpu(device: &Device) -> Result<Vec<Comparison>> {
    let mut out = Vec::new();
    for dtype in [DType::F64, DType::F32] {
        out.extend(compare_all((&Device::Cpu, dtype), (device, dtype))?);
    }
    Ok(out)
}

/// Every built-in problem on `other` against `reference`.
fn compare_all(reference: Side, other: Side) -> Result<Vec<Comparison>> {
    let mut out = Vec::new();
    out.extend(compare("quadratic", reference, other, |dev, dtype| {
        let cfg = QuadraticConfig {
            alphas: vec![0.1; 6],
            ..QuadraticConfig::default()
        };
        let p = Quadratic::new(cfg, dtype, dev.clone())?;
        let task = p.sample_task(&mut ChaCha8Rng::seed_from_u64(1))?;
        let theta = p.theta(&[0.3, -0.7, 1.1])?;
        Ok((p, theta, task))
    })?);
    out.extend(compare(
        "counterexample",
        reference,
        other,
        |dev, dtype| {
            let p = Counterexample::from_config(&CounterexampleConfig::default())?
                .on(dtype, dev.clone());
            let theta = p.theta(3.0)?;
            Ok((p, theta, 1))
        },
    )?);
    out.extend(compare("mlp", reference, other, |dev, dtype| {
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
    out.extend(compare("convnet", reference, other, |dev, dtype| {
        let net = ConvNet::omniglot(3, 4);
        let source = synthetic_source(net.clone(), 1, 1, dtype, dev.clone());
        let task = source(&mut ChaCha8Rng::seed_from_u64(2))?;
        let theta = net.init(0, dtype, dev)?;
        let p = Maml::new(net, 2, 0.1)?.with_source(source);
        Ok((p, theta, task))
    })?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CPU against CPU: every quantity identical and non-vacuous (the harness itself works).
    #[test]
    fn cpu_against_itself_agrees() -> Result<()> {
        let all = compare_with_cpu(&Device::Cpu)?;
        assert_eq!(all.len(), 2 * 4 * (4 + estimators_compared().len()));
        for c in &all {
            assert!(c.ok(), "{c:?}");
            // Zero by construction: the MLP's φ0 does not depend on θ; on the counterexample
            // and MAML, θ enters only through φ0 = V(θ), which AID, Neumann and truncation
            // (K = 2 < r on the counterexample; MAML here has r = 2) ignore.
            let ignores_start = match c.problem {
                "counterexample" => ["truncated_k2", "aid_cg_n3_cold", "neumann_q3"].as_slice(),
                "convnet" => ["aid_cg_n3_cold", "neumann_q3"].as_slice(),
                _ => [].as_slice(),
            }
            .contains(&c.quantity.as_str());
            let vacuous = ignores_start || (c.quantity == "start_vjp" && c.problem == "mlp");
            assert_eq!(c.scale > 0.0, !vacuous, "{c:?}");
        }
        Ok(())
    }

    /// The f32 tolerance is not at the edge of rounding: f32 against f64 on the CPU (a bigger
    /// difference than two devices' f32 summation orders) stays 10× inside it, every estimator
    /// included — so a device failing the f32 check is wrong, not unlucky.
    #[test]
    fn f32_rounding_stays_well_inside_the_f32_tolerance() -> Result<()> {
        let all = compare_all((&Device::Cpu, DType::F64), (&Device::Cpu, DType::F32))?;
        let worst = all.iter().fold(0.0f64, |m, c| m.max(c.rel_error));
        println!(
            "f32 vs f64, worst relative error {worst:.2e} over {}",
            all.len()
        );
        for c in &all {
            assert!(c.rel_error <= c.tolerance() / 10.0, "{c:?}");
        }
        Ok(())
    }

    /// Negative control: a θ off by 1e-2 on one side is flagged by the HVP's mixed part, the
    /// outer gradient and every estimator.
    #[test]
    fn a_different_theta_is_flagged() -> Result<()> {
        let all = compare(
            "quadratic",
            (&Device::Cpu, DType::F64),
            (&Device::Cpu, DType::F64),
            {
                let calls = std::cell::Cell::new(0);
                move |dev: &Device, dtype| {
                    let p = Quadratic::new(QuadraticConfig::default(), dtype, dev.clone())?;
                    let task = p.sample_task(&mut ChaCha8Rng::seed_from_u64(1))?;
                    let shift = if calls.replace(1) == 0 { 0.0 } else { 1e-2 };
                    let theta = p.theta(&[0.3 + shift, -0.7, 1.1])?;
                    Ok((p, theta, task))
                }
            },
        )?;
        let flagged: Vec<&str> = all
            .iter()
            .filter(|c| !c.ok())
            .map(|c| c.quantity.as_str())
            .collect();
        for spec in estimators_compared() {
            assert!(flagged.contains(&spec.label().as_str()), "{flagged:?}");
        }
        Ok(())
    }
}
