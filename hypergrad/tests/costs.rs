//! Proposition 1 (calls) and the memory claims: recompute exact holds O(1) inner states in r,
//! stored exact holds r + 1 states and r kept gradient graphs (measured bytes).

mod common;

use common::*;
use hypergrad::estimators::{Fom, RecomputeExact, StoredExact, Truncated, Ufom, Unrolled};
use hypergrad::problems::{Counterexample, QuadraticConfig};
use hypergrad::theory::expected_calls;
use hypergrad::{Autodiff, Calls, Counted, Estimator, Result, TaskDistribution};

fn calls(grad: f64, hvp: f64) -> Calls {
    Calls {
        grad: grad as u64,
        hvp: hvp as u64,
    }
}

#[test]
fn proposition_one_exact_at_q_zero_and_one() -> Result<()> {
    for r in [1, 2, 5, 10, 17] {
        let o = Counted::new(Autodiff::new(Counterexample::with_params(
            [0.5, 1.5],
            [0.0, 10.0],
            10.0,
            r,
            0.1,
        )?)?);
        let theta = o.inner().problem().theta(3.0)?;
        let mut g = rng(1);
        let e0 = expected_calls(r, 0.0);
        let e1 = expected_calls(r, 1.0);
        // q → 0 is FOM; q = 1 is UFOM(1) = memory-efficient exact.
        assert_eq!(
            Fom.estimate(&o, &theta, &0, &mut g)?.calls,
            calls(e0.grad, e0.hvp),
            "r = {r}"
        );
        let u1 = Ufom::new(1.0)?.estimate(&o, &theta, &0, &mut g)?;
        assert_eq!(u1.calls, calls(e1.grad, e1.hvp), "r = {r}");
        assert_eq!(u1.exact_drawn(), Some(true));
        assert_eq!(
            RecomputeExact::new()
                .estimate(&o, &theta, &1, &mut g)?
                .calls,
            calls(e1.grad, e1.hvp)
        );
        // Stored exact: one forward pass and r HVPs.
        assert_eq!(
            StoredExact.estimate(&o, &theta, &1, &mut g)?.calls,
            calls(e0.grad, r as f64)
        );
    }
    Ok(())
}

#[test]
fn proposition_one_in_mean_for_fractional_q() -> Result<()> {
    let r = 6;
    let o = Counted::new(Autodiff::new(Counterexample::with_params(
        [0.5, 1.5],
        [0.0, 10.0],
        10.0,
        r,
        0.1,
    )?)?);
    let theta = o.inner().problem().theta(3.0)?;
    let (q, n) = (0.3, 400);
    let mut est = Ufom::new(q)?;
    let mut g = rng(7);
    let (mut total, mut drawn) = (Calls::default(), 0u64);
    for _ in 0..n {
        let e = est.estimate(&o, &theta, &0, &mut g)?;
        // Each draw costs exactly the ξ = 0 or ξ = 1 amount.
        let x = if e.exact_drawn() == Some(true) {
            1.0
        } else {
            0.0
        };
        let want = expected_calls(r, x);
        assert_eq!(e.calls, calls(want.grad, want.hvp));
        drawn += x as u64;
        total += e.calls;
    }
    // Mean calls = r + 1 + p̂ r(r−1)/2 with p̂ the drawn fraction; p̂ within 4 binomial s.d. of q.
    let p_hat = drawn as f64 / n as f64;
    let sd = (q * (1.0 - q) / n as f64).sqrt();
    assert!(
        (p_hat - q).abs() < 4.0 * sd,
        "exact branch frequency {p_hat} vs q = {q}"
    );
    let mean = expected_calls(r, p_hat);
    assert!((total.grad as f64 / n as f64 - mean.grad).abs() < 1e-9);
    assert!((total.hvp as f64 / n as f64 - mean.hvp).abs() < 1e-9);
    Ok(())
}

/// Peak memory: recompute exact holds one state whatever r (the negative control); stored exact
/// holds r + 1 states and r kept gradient graphs, measured, so its bytes exceed the states' and
/// grow by the same amount per step; truncated holds K of those steps whatever r.
#[test]
fn recompute_holds_constant_memory_stored_and_truncated_hold_states_and_graphs() -> Result<()> {
    let one_state = 4 * 8; // p = 4 values of f64
    let mut per_step = None;
    for r in [1, 4, 16, 32] {
        let o = quadratic(QuadraticConfig {
            alphas: vec![0.1; r],
            ..QuadraticConfig::default()
        })?;
        let p = o.inner().problem();
        let task = p.sample_task(&mut rng(0))?;
        let theta = p.theta(&[0.1, 0.2, 0.3])?;
        let mut g = rng(0);
        let rec = RecomputeExact::new().estimate(&o, &theta, &task, &mut g)?;
        let sto = StoredExact.estimate(&o, &theta, &task, &mut g)?;
        let tru = Truncated::new(3)?.estimate(&o, &theta, &task, &mut g)?;
        let unr = Unrolled.estimate(&o, &theta, &task, &mut g)?;
        assert_eq!(
            (rec.peak_states, rec.peak_state_bytes),
            (1, one_state),
            "r = {r}"
        );
        assert_eq!(sto.peak_states, r + 1);
        assert!(sto.peak_state_bytes > (r + 1) * one_state, "r = {r}");
        // One state for φ_r, then the same bytes per stored step (its state and its graph).
        let step = (sto.peak_state_bytes - one_state) / r;
        assert_eq!(sto.peak_state_bytes, one_state + r * step, "r = {r}");
        assert_eq!(*per_step.get_or_insert(step), step, "r = {r}");
        assert!(step > one_state, "the graph is counted: {step} B per step");
        assert_eq!(tru.peak_states, r.min(3) + 1);
        assert_eq!(tru.peak_state_bytes, one_state + r.min(3) * step, "r = {r}");
        println!(
            "r = {r}: stored {} B ({step} B per step), truncated(3) {} B, recompute {} B",
            sto.peak_state_bytes, tru.peak_state_bytes, rec.peak_state_bytes
        );
        assert_eq!(unr.peak_states, r + 1);
        let ufo = Ufom::new(1.0)?.estimate(&o, &theta, &task, &mut g)?;
        assert_eq!(ufo.peak_states, 1);
    }
    Ok(())
}
