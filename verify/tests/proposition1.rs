//! Test 5 — Proposition 1: one UFOM(q) estimate costs r + 1 + q·r(r−1)/2 gradient calls and
//! q·r HVP calls in expectation, counted by the engine's `Counted` oracles.
//!
//! Every draw must cost exactly (r + 1, 0) (ξ = 0) or (r + 1 + r(r−1)/2, r) (ξ = 1) (checked
//! draw by draw), so the mean
//! calls over N draws are affine in the number K of exact draws, K ~ Binomial(N, q). The check:
//! the exact (Clopper–Pearson) 99 % interval for q from K, mapped through that affine map, must
//! contain `hypergrad::theory::expected_calls(r, q)` for both counts (α = 0.01 per interval).
//! Counterexample of Fig. 1a–c (r = 10) and of Fig. 1d with r = 7 (inner step 0.05),
//! q ∈ {0.05, 0.2, 0.5}, N = 1000 each.
//! Negative control: the engine's UFOM drawing ξ with probability 1.5·q while claiming q
//! (`MisreportedQ`) must fall outside at the same N.

use hypergrad::estimators::Ufom;
use hypergrad::problems::Counterexample;
use hypergrad::theory::expected_calls;
use hypergrad::{Autodiff, BilevelProblem, Counted, Estimator, Result};
use verify::checks::ALPHA;
use verify::fixtures::{counterexample, draws, Problem};
use verify::report::{record_and_assert, Record, Verdict};
use verify::sabotage::MisreportedQ;
use verify::stats::{clopper_pearson, interval_contains};

const N: usize = 1000;
const SEED: u64 = 5000;

type Est<P> = Box<dyn Estimator<Autodiff<P>>>;

fn family<P: BilevelProblem>(
    name: &str,
    o: &Problem<P>,
    theta: &hypergrad::ParamList,
    task: &P::Task,
) -> Result<Vec<Record>>
where
    P::Task: Clone,
{
    let r = o.inner().problem().step_sizes().len() as u64;
    let (lo_grad, extra_grad) = (r + 1, r * (r - 1) / 2);
    let mut out = Vec::new();
    for (i, q) in [0.05, 0.2, 0.5].into_iter().enumerate() {
        let seed = SEED + i as u64;
        let candidates: [(Est<P>, Verdict); 2] = [
            (Box::new(Ufom::new(q)?), Verdict::Pass),
            (Box::new(MisreportedQ { q, factor: 1.5 }), Verdict::Reject),
        ];
        for (mut est, expected) in candidates {
            let ds = draws(est.as_mut(), o, theta, |_| Ok(task.clone()), N, seed)?;
            let k = ds.iter().filter(|d| d.exact_drawn == Some(true)).count() as u64;
            let off_branch = ds
                .iter()
                .filter(|d| {
                    let want = if d.exact_drawn == Some(true) {
                        (lo_grad + extra_grad, r)
                    } else {
                        (lo_grad, 0)
                    };
                    (d.calls.grad, d.calls.hvp) != want
                })
                .count();
            out.push(
                Record {
                    n: N as u64,
                    seed,
                    detail: format!(
                        "{}: draws whose (grad, hvp) calls are neither ({lo_grad}, 0) nor ({}, {r})",
                        est.name(),
                        lo_grad + extra_grad
                    ),
                    ..Record::new(
                        &format!("proposition1/{name}/{}/per_draw_branches", est.name()),
                        "off_branch_draws",
                        off_branch as f64,
                        0.0,
                    )
                }
                .verdicts(Verdict::from_rejected(off_branch > 0), Verdict::Pass),
            );
            let [plo, phi] = clopper_pearson(k, N as u64, ALPHA);
            let mean_grad = ds.iter().map(|d| d.calls.grad as f64).sum::<f64>() / N as f64;
            let mean_hvp = ds.iter().map(|d| d.calls.hvp as f64).sum::<f64>() / N as f64;
            let expect = expected_calls(r as usize, q);
            let grad_iv = [
                lo_grad as f64 + plo * extra_grad as f64,
                lo_grad as f64 + phi * extra_grad as f64,
            ];
            let hvp_iv = [plo * r as f64, phi * r as f64];
            for (what, mean, iv, target) in [
                ("grad", mean_grad, grad_iv, expect.grad),
                ("hvp", mean_hvp, hvp_iv, expect.hvp),
            ] {
                out.push(
                    Record {
                        interval: Some(iv),
                        target: Some(target),
                        n: N as u64,
                        seed,
                        detail: format!("{}; {k} exact draws of {N}; 99% Clopper–Pearson interval mapped to mean calls", est.name()),
                        ..Record::new(&format!("proposition1/{name}/{}/{what}", est.name()), &format!("mean_{what}_calls"), mean, ALPHA)
                    }
                    .verdicts(Verdict::from_rejected(!interval_contains(iv, target)), expected),
                );
            }
        }
    }
    Ok(out)
}

#[test]
fn expected_calls_match_proposition1() -> Result<()> {
    let o = counterexample()?;
    let mut records = family("counterexample", &o, &o.inner().problem().theta(3.0)?, &1)?;
    let o7 = Counted::new(Autodiff::new(Counterexample::with_params(
        [0.5, 1.5],
        [0.0, 10.0],
        10.0,
        7,
        0.05,
    )?)?);
    records.extend(family(
        "counterexample_r7",
        &o7,
        &o7.inner().problem().theta(-2.0)?,
        &0,
    )?);
    record_and_assert(&records);
    Ok(())
}
