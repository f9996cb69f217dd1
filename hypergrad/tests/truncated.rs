//! Truncated back-propagation: K = r is stored exact (bitwise); K < r drops terms, and its bias
//! against the exact hypergradient is measured (printed per K; nonzero below K = r, zero at it —
//! it need not shrink monotonically, since the cut also drops the (∂V/∂θ)ᵀ b2 term). Calls:
//! r + 1 gradients and K HVPs; K + 1 states.

mod common;

use common::*;
use hypergrad::estimators::{StoredExact, Truncated};
use hypergrad::problems::QuadraticConfig;
use hypergrad::{Calls, Estimator, Result, TaskDistribution};

fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

#[test]
fn k_equal_r_is_stored_exact_and_smaller_k_is_measurably_biased() -> Result<()> {
    let o = quadratic(QuadraticConfig::default())?;
    let p = o.inner().problem().clone();
    let r = steps(&o);
    let mut g = rng(4);
    for _ in 0..3 {
        let task = p.sample_task(&mut g)?;
        let theta = p.theta(&vec![0.7; p.config().s])?;
        let exact = StoredExact.estimate(&o, &theta, &task, &mut g)?;
        let full = Truncated::new(r)?.estimate(&o, &theta, &task, &mut g)?;
        assert_eq!(full.grad.to_vec()?, exact.grad.to_vec()?, "K = r is Alg. 2");
        let want = exact.grad.to_vec()?;
        let mut biases = Vec::new();
        for k in 1..=r {
            let e = Truncated::new(k)?.estimate(&o, &theta, &task, &mut g)?;
            assert_eq!(
                e.calls,
                Calls {
                    grad: r as u64 + 1,
                    hvp: k as u64
                },
                "K = {k}"
            );
            assert_eq!(e.peak_states, k + 1);
            assert_eq!(e.diagnostics.get("k"), Some(&(k as f64)));
            let bias = dist(&e.grad.to_vec()?, &want);
            if k < r {
                // Negative control: cutting the path changes the estimate.
                assert!(bias > 1e-8, "K = {k}: no bias measured");
            } else {
                assert_eq!(bias, 0.0);
            }
            biases.push(bias);
        }
        println!("‖G_trunc(K) − G_exact‖ for K = 1..{r}: {biases:.4?}");
    }
    // K beyond r is the same as K = r.
    let task = p.sample_task(&mut g)?;
    let theta = p.theta(&vec![-0.2; p.config().s])?;
    let a = Truncated::new(r + 5)?.estimate(&o, &theta, &task, &mut g)?;
    let b = StoredExact.estimate(&o, &theta, &task, &mut g)?;
    assert_eq!(a.grad.to_vec()?, b.grad.to_vec()?);
    assert!(Truncated::new(0).is_err());
    Ok(())
}

#[test]
fn k_equal_r_is_exact_on_the_mlp_and_the_counterexample() -> Result<()> {
    let o = mlp(hypergrad::problems::MlpConfig::default())?;
    let theta = o.inner().problem().theta_zero()?;
    let task = hypergrad::problems::MlpTask::default();
    let r = steps(&o);
    let mut g = rng(1);
    let a = Truncated::new(r)?.estimate(&o, &theta, &task, &mut g)?;
    let b = StoredExact.estimate(&o, &theta, &task, &mut g)?;
    assert_eq!(a.grad.to_vec()?, b.grad.to_vec()?);
    let c = counterexample()?;
    let theta = c.inner().problem().theta(3.0)?;
    let r = steps(&c);
    for task in [0, 1] {
        let a = Truncated::new(r)?.estimate(&c, &theta, &task, &mut g)?;
        let b = StoredExact.estimate(&c, &theta, &task, &mut g)?;
        assert_eq!(a.grad.to_vec()?, b.grad.to_vec()?);
    }
    Ok(())
}
