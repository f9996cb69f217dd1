//! `inner_grad_kept` / `inner_hvp_kept` (what stored exact uses to reuse each forward step's
//! work in its backward sweep) give bitwise the values of `inner_grad` / `inner_hvp`, for the
//! autodiff oracles and the analytic MLP twin, and are charged as one call each.

use candle_core::{DType, Device};
use hypergrad::problems::{MlpAnalytic, MlpConfig, MlpData, MlpHypercleaning, MlpTask};
use hypergrad::{Autodiff, Calls, Counted, Oracles, ParamList, Result};

fn problem() -> Result<MlpHypercleaning> {
    let (data, _) = MlpData::synthetic(25, 10, 5, 3, 0.3, 4, DType::F64, &Device::Cpu)?;
    MlpHypercleaning::new(
        data,
        MlpConfig {
            hidden: 7,
            steps: 2,
            ..MlpConfig::default()
        },
    )
}

/// φ0 shifted by a deterministic pattern, θ and v likewise.
fn point(p: &MlpHypercleaning, shift: f64) -> Result<(ParamList, ParamList, ParamList)> {
    let wiggle = |l: &ParamList, a: f64| -> Result<ParamList> {
        let v: Vec<f64> = l
            .to_vec()?
            .iter()
            .enumerate()
            .map(|(i, x)| x + a * ((i * 13 % 7) as f64 - 3.0) / 3.0)
            .collect();
        l.with_values(&v)
    };
    Ok((
        wiggle(&p.theta_zero()?, 0.5)?,
        wiggle(p.phi0(), shift)?,
        wiggle(p.phi0(), 1.0)?,
    ))
}

fn check<O: Oracles<Task = MlpTask>>(
    make: impl Fn() -> Result<O>,
    p: &MlpHypercleaning,
) -> Result<()> {
    let task = MlpTask::default();
    let (theta, phi, v) = point(p, 0.2)?;
    let o = make()?;
    let c = Counted::new(make()?);
    let (g, kept) = c.inner_grad_kept(&theta, &phi, &task)?;
    let (h1, h2) = c.inner_hvp_kept(&theta, &phi, &task, &kept, &v)?;
    assert_eq!(c.calls(), Calls { grad: 1, hvp: 1 });
    assert_eq!(g.to_vec()?, o.inner_grad(&theta, &phi, &task)?.to_vec()?);
    let (r1, r2) = o.inner_hvp(&theta, &phi, &task, &v)?;
    assert_eq!(h1.to_vec()?, r1.to_vec()?);
    assert_eq!(h2.to_vec()?, r2.to_vec()?);
    // Negative control: what was kept at another φ answers for that φ, not this one.
    let (_, other, _) = point(p, 0.4)?;
    let (_, kept_elsewhere) = o.inner_grad_kept(&theta, &other, &task)?;
    let (_, wrong) = o.inner_hvp_kept(&theta, &phi, &task, &kept_elsewhere, &v)?;
    assert_ne!(wrong.to_vec()?, r2.to_vec()?);
    Ok(())
}

#[test]
fn kept_oracles_equal_fresh_ones_bitwise() -> Result<()> {
    let p = problem()?;
    check(|| Autodiff::new(p.clone()), &p)?;
    check(|| MlpAnalytic::new(p.clone()), &p)?;
    Ok(())
}
