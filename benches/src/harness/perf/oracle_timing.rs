//! One inner gradient and one HVP on the engine's reference cases ([`super::cases`]), on a
//! device and on the CPU: `ufom doctor --time`, for a GPU machine where the criterion bench
//! (which needs cargo) cannot run. Medians of `reps` calls after a warm-up, each call followed
//! by a device synchronisation; measurements, never assertions.

use super::cases::{bind, BoundOracles, ReferenceCase, REFERENCE_CASES};
use anyhow::{bail, Result};
use candle_core::Device;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Calls before the timed ones (kernel loading, allocator warm-up).
pub const WARM_UP: usize = 3;

/// Median times of one case on one device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// One inner gradient ∂L_in/∂φ, ms.
    pub gradient_ms: f64,
    /// One HVP pair [(∂²L_in/∂θ∂φ)ᵀv, ∇²_φ L_in v], ms.
    pub hvp_ms: f64,
}

/// One case on the device and on the CPU.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimedCase {
    /// `mlp_n1000`, `mlp_n5000`, `conv_f8`, `conv_f64`.
    pub case: String,
    /// `autodiff` or `analytic`.
    pub oracles: String,
    /// On the device (absent when the device is the CPU).
    pub device: Option<Timing>,
    /// Why the device failed this case, if it did (the other cases still run).
    pub device_error: Option<String>,
    /// On the CPU.
    pub cpu: Timing,
}

/// What `ufom doctor --time --time-json FILE` writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimingReport {
    /// Commit, device, threads... of the run.
    pub environment: crate::harness::record::Environment,
    /// Untimed calls before each measurement.
    pub warm_up: usize,
    /// Timed calls per measurement (the median is reported).
    pub reps: usize,
    /// Per case and oracle implementation.
    pub cases: Vec<TimedCase>,
}

/// [`time_oracles`] with the run's environment.
pub fn report(device: &Device, reps: usize) -> Result<TimingReport> {
    Ok(TimingReport {
        environment: crate::harness::env::capture(device, candle_core::DType::F32),
        warm_up: WARM_UP,
        reps,
        cases: time_oracles(device, reps)?,
    })
}

/// The median of `reps` timed calls of `f` after `warm_up` untimed ones, ms; each call is
/// followed by a device synchronisation.
pub fn median_ms<T>(
    device: &Device,
    warm_up: usize,
    reps: usize,
    mut f: impl FnMut() -> hypergrad::Result<T>,
) -> Result<f64> {
    if reps == 0 {
        bail!("timing needs at least one call");
    }
    for _ in 0..warm_up {
        f()?;
    }
    device.synchronize()?;
    let mut ms = Vec::with_capacity(reps);
    for _ in 0..reps {
        let start = Instant::now();
        f()?;
        device.synchronize()?;
        ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    Ok(ms[ms.len() / 2])
}

/// One gradient and one HVP pair of `o` (v = its gradient), [`WARM_UP`] untimed calls first.
pub fn time_bound(o: &dyn BoundOracles, device: &Device, reps: usize) -> Result<Timing> {
    let v = o.gradient()?;
    Ok(Timing {
        gradient_ms: median_ms(device, WARM_UP, reps, || o.gradient())?,
        hvp_ms: median_ms(device, WARM_UP, reps, || o.hvp(&v))?,
    })
}

/// Builds `case` on `device` and times it through `oracles` (one of [`ReferenceCase::oracles`]).
pub fn time_case(
    case: ReferenceCase,
    oracles: &str,
    device: &Device,
    reps: usize,
) -> Result<Timing> {
    time_bound(bind(case, oracles, device)?.as_ref(), device, reps)
}

/// Every reference case with each of its oracle implementations on `device` and on the CPU
/// (`reps` ≥ 1 timed calls each).
pub fn time_oracles(device: &Device, reps: usize) -> Result<Vec<TimedCase>> {
    if reps == 0 {
        bail!("--reps must be at least 1");
    }
    let mut out = Vec::new();
    for (name, case) in REFERENCE_CASES {
        for &oracles in case.oracles() {
            let (on_device, device_error) = if device.is_cpu() {
                (None, None)
            } else {
                match time_case(case, oracles, device, reps) {
                    Ok(t) => (Some(t), None),
                    Err(e) => (None, Some(format!("{e:#}"))),
                }
            };
            out.push(TimedCase {
                case: name.into(),
                oracles: oracles.into(),
                device: on_device,
                device_error,
                cpu: time_case(case, oracles, &Device::Cpu, reps)?,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every case builds and runs (one timed call; the smallest cases only, to stay quick).
    #[test]
    fn the_small_cases_run_on_the_cpu() -> Result<()> {
        let small = [
            (REFERENCE_CASES[0].1, "analytic"),
            (REFERENCE_CASES[2].1, "autodiff"),
            (REFERENCE_CASES[2].1, "analytic"),
        ];
        for (case, oracles) in small {
            let t = time_case(case, oracles, &Device::Cpu, 1)?;
            assert!(
                t.gradient_ms > 0.0 && t.hvp_ms > 0.0,
                "{case:?} {oracles}: {t:?}"
            );
        }
        let conv = ReferenceCase::Conv { filters: 8 };
        assert!(time_case(conv, "no_such_oracles", &Device::Cpu, 1).is_err());
        assert!(time_oracles(&Device::Cpu, 0).is_err());
        Ok(())
    }
}
