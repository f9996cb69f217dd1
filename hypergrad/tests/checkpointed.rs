//! Checkpointing: calls and memory as the schedule says. Its value equals stored exact
//! (checked to 1e-9 with the other exact estimators in verify's equivalence proptest; here to
//! 1e-12, with checks of cost): r HVPs for every slot count; gradient calls = r + 1 + the
//! schedule's planned recomputation F(r, s); no recomputation when slots ≥ r − 1; at most s + 2
//! states; fewer states and more gradient calls as s shrinks.

mod common;

use common::*;
use hypergrad::estimators::{Checkpointed, RecomputeExact, StoredExact};
use hypergrad::problems::QuadraticConfig;
use hypergrad::{Estimator, Result, TaskDistribution};

#[test]
fn gradient_calls_are_the_forward_pass_plus_the_planned_recomputation() -> Result<()> {
    for r in [1usize, 2, 3, 7, 10, 29, 40] {
        let o = quadratic(QuadraticConfig {
            alphas: vec![0.1; r],
            ..QuadraticConfig::default()
        })?;
        let p = o.inner().problem().clone();
        let mut g = rng(3);
        let task = p.sample_task(&mut g)?;
        let theta = p.theta(&[0.5, -1.0, 0.25])?;
        let want = StoredExact
            .estimate(&o, &theta, &task, &mut g)?
            .grad
            .to_vec()?;
        for slots in [None, Some(1), Some(2), Some(3), Some(6)] {
            let mut est = Checkpointed::new(slots)?;
            let planned = est.recomputation(r);
            // Twice: the second estimate reuses the schedule kept by the first.
            for _ in 0..2 {
                let e = est.estimate(&o, &theta, &task, &mut g)?;
                let ctx = format!("r = {r}, slots = {slots:?}");
                assert_eq!(e.calls.grad, r as u64 + 1 + planned, "{ctx}");
                assert_eq!(e.calls.hvp, r as u64, "{ctx}");
                let err = hypergrad::check::relative_error(&e.grad.to_vec()?, &want, 1e-12);
                assert!(err < 1e-12, "{ctx}: {err:e}");
            }
        }
    }
    // The cost model's schedule, not the binomial one (34 and 161 recomputed steps there).
    assert_eq!(Checkpointed::new(Some(6))?.recomputation(29), 22);
    assert_eq!(Checkpointed::new(Some(2))?.recomputation(40), 95);
    Ok(())
}

#[test]
fn checkpointing_trades_recomputation_for_memory() -> Result<()> {
    let o = quadratic(QuadraticConfig {
        alphas: vec![0.1; 30],
        ..QuadraticConfig::default()
    })?;
    let p = o.inner().problem().clone();
    let r = steps(&o) as u64;
    let mut g = rng(9);
    let task = p.sample_task(&mut g)?;
    let theta = p.theta(&[0.5, -1.0, 0.25])?;
    let stored = StoredExact.estimate(&o, &theta, &task, &mut g)?;
    let recompute = RecomputeExact::new().estimate(&o, &theta, &task, &mut g)?;
    let want = stored.grad.to_vec()?;
    let mut previous_grad_calls = 0;
    for slots in [29usize, 12, 6, 3, 2, 1] {
        let e = Checkpointed::new(Some(slots))?.estimate(&o, &theta, &task, &mut g)?;
        let err = hypergrad::check::relative_error(&e.grad.to_vec()?, &want, 1e-12);
        assert!(err < 1e-12, "slots {slots}: {err:e}");
        assert_eq!(e.calls.hvp, r, "slots {slots}");
        assert!(
            e.peak_states <= slots + 2,
            "slots {slots}: {}",
            e.peak_states
        );
        assert!(e.calls.grad >= previous_grad_calls, "slots {slots}");
        assert!(e.calls.grad <= recompute.calls.grad, "slots {slots}");
        if slots + 1 >= r as usize {
            assert_eq!(e.calls.grad, r + 1, "no recomputation with r − 1 slots");
        }
        println!(
            "slots {slots}: {} gradient calls, {} states (stored exact: {}, {}; recompute: {}, 1)",
            e.calls.grad,
            e.peak_states,
            stored.calls.grad,
            stored.peak_states,
            recompute.calls.grad
        );
        previous_grad_calls = e.calls.grad;
    }
    // Default ⌈√30⌉ = 6 slots.
    let e = Checkpointed::new(None)?.estimate(&o, &theta, &task, &mut g)?;
    assert_eq!(e.diagnostics.get("slots"), Some(&6.0));
    assert!(e.peak_states < stored.peak_states);
    assert!(Checkpointed::new(Some(0)).is_err());
    Ok(())
}
