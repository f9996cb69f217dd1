//! AID-CG's relative-residual tolerance: CG stops once ‖g − Hv‖/‖g‖ ≤ tol, so on a problem
//! where it converges early it spends fewer HVPs than its cap N and stays at the implicit
//! gradient; with tol = 0 (the negative control) it spends all N. The setting parses from the
//! CLI's `--param`, and specs written before it existed keep their JSON and label.

mod common;

use common::*;
use hypergrad::check::relative_error;
use hypergrad::estimators::{AidCg, EstimatorSpec};
use hypergrad::problems::QuadraticConfig;
use hypergrad::{Estimator, Result, TaskDistribution};

#[test]
fn the_tolerance_stops_cg_once_converged() -> Result<()> {
    // dim φ = 24 and r = 200 steps of α = 0.3: φ_r is φ* to round-off, so AID's target is the
    // closed-form implicit gradient; CG solves the 24-dimensional system in ≤ 24 steps.
    let (p_dim, r, cap) = (24, 200, 40);
    let o = quadratic(QuadraticConfig {
        s: 4,
        p: p_dim,
        alphas: vec![0.3; r],
        lambda: 0.1,
        start_from_theta: true,
        seed: 11,
    })?;
    let p = o.inner().problem().clone();
    let task = p.sample_task(&mut rng(5))?;
    let values = [0.4, -0.3, 0.8, 0.1];
    let theta = p.theta(&values)?;
    let want = p.implicit_gradient(&values, &task);
    let run = |mut est: AidCg| -> Result<(u64, f64)> {
        let e = est.estimate(&o, &theta, &task, &mut rng(0))?;
        assert_eq!(e.calls.grad, r as u64 + 1);
        Ok((e.calls.hvp, relative_error(&e.grad.to_vec()?, &want, 1e-12)))
    };
    let (hvp_default, err_default) = run(AidCg::new(cap, false)?)?;
    let (hvp_tight, err_tight) = run(AidCg::new(cap, false)?.with_tol(1e-10)?)?;
    let (hvp_zero, err_zero) = run(AidCg::new(cap, false)?.with_tol(0.0)?)?;
    println!(
        "HVPs (cap {cap}): tol 1e-6 {hvp_default} (error {err_default:.1e}), \
         1e-10 {hvp_tight} ({err_tight:.1e}), 0 {hvp_zero} ({err_zero:.1e})"
    );
    assert!(hvp_default < cap as u64, "{hvp_default}");
    assert!(
        hvp_default < hvp_tight && hvp_tight < cap as u64,
        "{hvp_tight}"
    );
    // Negative control: without a tolerance every step of the cap is spent.
    assert_eq!(hvp_zero, cap as u64);
    // The estimate stays at the implicit gradient: κ·tol-close with the default, round-off
    // close with a tight tolerance or none.
    assert!(err_default < 1e-4, "{err_default:e}");
    assert!(
        err_tight < 1e-8 && err_zero < 1e-8,
        "{err_tight:e} {err_zero:e}"
    );

    // Warm start at the same point: the previous solution already meets the tolerance, so the
    // second call spends only the HVP of its first residual.
    let mut warm = AidCg::new(cap, true)?;
    let first = warm.estimate(&o, &theta, &task, &mut rng(0))?;
    let second = warm.estimate(&o, &theta, &task, &mut rng(0))?;
    assert_eq!((first.calls.hvp, second.calls.hvp), (hvp_default, 1));
    assert!(relative_error(&second.grad.to_vec()?, &want, 1e-12) < 1e-4);
    Ok(())
}

#[test]
fn the_tolerance_is_a_setting_with_a_default_that_keeps_old_specs() -> Result<()> {
    let with = |params: Vec<(&str, serde_json::Value)>| {
        let params = params.into_iter().map(|(k, v)| (k.into(), v)).collect();
        EstimatorSpec::parse_with("aid_cg", params)
    };
    let plain = with(vec![("cg_steps", 10.into())])?;
    assert_eq!(plain.label(), "aid_cg_n10");
    // A spec written before the setting existed parses, and writes back the same JSON.
    let old = r#"{"kind":"aid_cg","cg_steps":10,"warm_start":true}"#;
    let parsed: EstimatorSpec = serde_json::from_str(old).expect("old spec");
    assert_eq!(parsed, plain);
    assert_eq!(serde_json::to_string(&parsed).expect("json"), old);
    // The default, given explicitly, keeps the label; another value names itself.
    let default = with(vec![("cg_steps", 10.into()), ("tol", 1e-6.into())])?;
    assert_eq!(default.label(), "aid_cg_n10");
    let tight = with(vec![("cg_steps", 10.into()), ("tol", 1e-9.into())])?;
    assert_eq!(tight.label(), "aid_cg_n10_tol1e-9");
    let zero = with(vec![("cg_steps", 5.into()), ("tol", 0.into())])?;
    assert_eq!(zero.label(), "aid_cg_n5_tol0");
    for bad in [-1e-3, f64::NAN] {
        let spec = EstimatorSpec::AidCg {
            cg_steps: 5,
            warm_start: true,
            tol: Some(bad),
        };
        assert!(spec.validate().is_err(), "tol = {bad}");
    }
    Ok(())
}
