//! Test 4 — Theorems 1 and 2 on the counterexample (REFERENCE §4, Fig. 1a–c settings: D = 0.06,
//! r = 10, inner step 0.1, a = (0.5, 1.5) ⇒ b2 ≈ 17.395, A ≈ 12.597; outer SGD γ_k = 10/k,
//! θ0 ~ U[−10, 30]; 8 seeds, K = 2000 iterations, tasks drawn uniformly).
//!
//! |∂M/∂θ| at the final θ is computed exactly (`exact_gradient_closed_form`, both tasks).
//! - Theorem 2 (negative control of Theorem 1): FOM-SGD ends with |∂M/∂θ| > √D on every seed.
//! - Theorem 1: UFOM-SGD (q = 0.1) drives it towards 0: mean over seeds < √D / 2, and the mean
//!   at k = K is below the mean at k = K/10 (it is still decreasing).
//! - The gap: mean FOM − mean UFOM > √D / 2.
//! - Negative controls: the Theorem-1 criterion (mean < √D / 2) must fail for FOM and for UFOM
//!   without the 1/q factor.

use hypergrad::driver::{train, Budget, EstimatorStep, Observer, StepRecord};
use hypergrad::estimators::{Fom, Ufom};
use hypergrad::optim::{OuterConfig, OuterOptimizer, StepSchedule};
use hypergrad::problems::Counterexample;
use hypergrad::problems::CounterexampleConfig;
use hypergrad::{Autodiff, Estimator, Result, TaskDistribution};
use rand::Rng;
use verify::fixtures::{counterexample, rng};
use verify::report::{record_and_assert, Record, Verdict};
use verify::sabotage::ScaledUfom;
use verify::stats::mean;

const SEEDS: u64 = 8;
const ITERS: u64 = 2000;
const SEED: u64 = 4000;

/// Remembers θ at iteration K/10.
struct Early(Option<f64>);

impl Observer for Early {
    fn on_step(&mut self, step: &StepRecord<'_>) -> Result<bool> {
        if step.k == ITERS / 10 {
            self.0 = Some(step.theta.to_vec()?[0]);
        }
        Ok(true)
    }
}

/// |∂M/∂θ| at k = K/10 and at the end of one outer SGD run per seed.
fn final_grads(
    make: &dyn Fn() -> Box<dyn Estimator<Autodiff<Counterexample>>>,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let o = counterexample()?;
    let p = o.inner().problem();
    let mut early = Vec::new();
    let last = (0..SEEDS)
        .map(|s| {
            let mut r = rng(SEED + s);
            let theta0 = p.theta(r.random_range(-10.0..30.0))?;
            let opt = OuterOptimizer::new(OuterConfig::Sgd(StepSchedule::InverseK(10.0)), None)?;
            let budget = Budget {
                max_iters: Some(ITERS),
                max_calls: None,
            };
            let mut est = make();
            let mut obs = Early(None);
            let mut step = EstimatorStep::new(est.as_mut(), opt, |r| p.sample_task(r));
            let run = train(&o, &mut step, theta0, budget, &mut r, &mut obs)?;
            early.push(
                p.exact_gradient_closed_form(obs.0.unwrap_or(f64::NAN))
                    .abs(),
            );
            Ok(p.exact_gradient_closed_form(run.theta.to_vec()?[0]).abs())
        })
        .collect::<Result<Vec<f64>>>()?;
    Ok((early, last))
}

#[test]
fn fom_stalls_and_ufom_reaches_stationarity() -> Result<()> {
    let sqrt_d = CounterexampleConfig::default().d.sqrt();
    let (_, fom) = final_grads(&|| Box::new(Fom))?;
    let (ufom_early, ufom) = final_grads(&|| Box::new(Ufom::new(0.1).expect("valid q")))?;
    let (_, dropped) = final_grads(&|| Box::new(ScaledUfom::without_inverse_q(0.1)))?;
    println!("√D = {sqrt_d:.4}\nFOM  |∂M/∂θ|: {fom:.4?} (mean {:.4})\nUFOM |∂M/∂θ|: {ufom:.4?} (mean {:.4}; at k = K/10: {:.4})\nUFOM without 1/q: {dropped:.4?} (mean {:.4})", mean(&fom), mean(&ufom), mean(&ufom_early), mean(&dropped));
    let min_fom = fom.iter().cloned().fold(f64::INFINITY, f64::min);
    let base = |name: &str, stat: &str, value: f64, threshold: f64, detail: &str| Record {
        n: SEEDS,
        seed: SEED,
        detail: format!(
            "{detail}; K = {ITERS}, γ_k = 10/k, θ0 ~ U[−10, 30], Fig. 1a–c counterexample"
        ),
        ..Record::new(name, stat, value, threshold)
    };
    record_and_assert(&[
        base(
            "theorems/theorem2_fom_stalls",
            "min_abs_grad",
            min_fom,
            sqrt_d,
            "FOM: min over seeds of final |∂M/∂θ| must exceed √D",
        )
        .verdicts(Verdict::from_rejected(min_fom <= sqrt_d), Verdict::Pass),
        base(
            "theorems/theorem1_ufom_stationary",
            "mean_abs_grad",
            mean(&ufom),
            sqrt_d / 2.0,
            "UFOM q = 0.1: mean final |∂M/∂θ| must be below √D/2",
        )
        .verdicts(
            Verdict::from_rejected(mean(&ufom) >= sqrt_d / 2.0),
            Verdict::Pass,
        ),
        base(
            "theorems/theorem1_ufom_still_decreasing",
            "mean_abs_grad_k_over_10",
            mean(&ufom_early),
            mean(&ufom),
            "UFOM: mean |∂M/∂θ| at k = K/10 must exceed the final mean",
        )
        .verdicts(
            Verdict::from_rejected(mean(&ufom_early) <= mean(&ufom)),
            Verdict::Pass,
        ),
        base(
            "theorems/gap_fom_minus_ufom",
            "mean_gap",
            mean(&fom) - mean(&ufom),
            sqrt_d / 2.0,
            "mean FOM − mean UFOM must exceed √D/2",
        )
        .verdicts(
            Verdict::from_rejected(mean(&fom) - mean(&ufom) <= sqrt_d / 2.0),
            Verdict::Pass,
        ),
        base(
            "theorems/negative_control_fom",
            "mean_abs_grad",
            mean(&fom),
            sqrt_d / 2.0,
            "the Theorem-1 criterion applied to FOM must fail",
        )
        .verdicts(
            Verdict::from_rejected(mean(&fom) >= sqrt_d / 2.0),
            Verdict::Reject,
        ),
        base(
            "theorems/negative_control_ufom_without_1/q",
            "mean_abs_grad",
            mean(&dropped),
            sqrt_d / 2.0,
            "the Theorem-1 criterion applied to UFOM without 1/q must fail",
        )
        .verdicts(
            Verdict::from_rejected(mean(&dropped) >= sqrt_d / 2.0),
            Verdict::Reject,
        ),
    ]);
    Ok(())
}
