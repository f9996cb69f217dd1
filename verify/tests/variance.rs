//! Test 2 — UFOM's second moment (§3 of REFERENCE, Lemma 1).
//!
//! - Identity, per (θ, T), in expectation over ξ alone:
//!   E_ξ‖G_UFO‖² = ‖G_exact‖² + (1/q − 1)‖G_exact − G_FO‖². N draws of the engine's `Ufom`
//!   (counterexample θ = 5, task 1: N = 1000; tiny MLP, full-batch task: N = 400) at
//!   q ∈ {0.2, 0.5}; the 99 % t-interval of the mean of ‖G‖² must contain the prediction
//!   (α = 0.01 per interval). Negative controls, same N: FOM and UFOM without the 1/q factor.
//! - Lemma 1: sup_θ E‖G_UFO‖² ≤ (1/q − 1)D² + V², D² = sup_θ E_T‖G_FO − G_exact‖² (eq. 14),
//!   V² = sup_θ E_T‖G_exact‖² (eq. 16). Counterexample of Fig. 1d (b2 = 10, A = 10, r = 10,
//!   inner step 0.01): D², V² exact (two tasks) as maxima over 401 θ in [−50, 50]; at 5 θ
//!   (the two maximisers and −20, 0, 20) N = 1000 UFOM draws with random tasks, q = 0.1,
//!   one-sided t-test of H0: E‖G‖² ≤ bound, Holm over the 5 θ at α = 0.01. MLP (random
//!   mini-batch tasks of 8): D², V² over 4 random θ, each from M = 100 tasks, taken at their
//!   upper 99.5 % t-limits (so the estimated bound errs high); N = 200 UFOM draws per θ at
//!   q = 0.2, same test. Negative control: the correction scaled by 1/q² instead of 1/q
//!   (`ScaledUfom::inverse_q_squared`) must violate the bound.
//! - the MLP checks run twice, through candle autodiff (`Autodiff<MlpHypercleaning>`) and
//!   through the hand-derived `MlpAnalytic` (checks suffixed `_analytic`), same θ, seeds, N.

use hypergrad::estimators::{Fom, Ufom};
use hypergrad::{Counted, Estimator, ParamList, Result, TaskDistribution, UnrolledReference};
use statrs::distribution::{ContinuousCDF, StudentsT};
use verify::checks::ALPHA;
use verify::fixtures::{
    counterexample, draws, fig1d_counterexample, fo_and_exact, mlp_theta, sq_norm, sub, tiny_mlp,
    tiny_mlp_analytic, MlpOracles, ProblemOracles,
};
use verify::report::{record_and_assert, Record, Verdict};
use verify::sabotage::ScaledUfom;
use verify::stats::{holm_adjust, interval_contains, mean, mean_interval, std_err, t_test_greater};

const SEED: u64 = 2000;

type Est<O> = Box<dyn Estimator<O>>;

fn identity_records<O: UnrolledReference>(
    check: &str,
    o: &Counted<O>,
    theta: &ParamList,
    task: &O::Task,
    n: usize,
) -> Result<Vec<Record>>
where
    O::Task: Clone,
{
    let (g_fo, g_exact) = fo_and_exact(o, theta, task)?;
    let d2 = sq_norm(&sub(&g_exact, &g_fo));
    let mut records = Vec::new();
    for (i, q) in [0.2, 0.5].into_iter().enumerate() {
        let predicted = sq_norm(&g_exact) + (1.0 / q - 1.0) * d2;
        let seed = SEED + i as u64;
        let candidates: [(Est<O>, Verdict); 3] = [
            (Box::new(Ufom::new(q)?), Verdict::Pass),
            (Box::new(ScaledUfom::without_inverse_q(q)), Verdict::Reject),
            (Box::new(Fom), Verdict::Reject),
        ];
        for (mut est, expected) in candidates {
            let sq: Vec<f64> = draws(est.as_mut(), o, theta, |_| Ok(task.clone()), n, seed)?
                .iter()
                .map(|d| sq_norm(&d.grad))
                .collect();
            let interval = mean_interval(&sq, ALPHA);
            let ok = interval_contains(interval, predicted);
            records.push(
                Record {
                    interval: Some(interval),
                    target: Some(predicted),
                    n: n as u64,
                    seed,
                    detail: format!(
                        "{}; 99% t-interval of mean ‖G‖² vs ‖G_exact‖² + (1/q − 1)‖Δ‖² at q = {q}",
                        est.name()
                    ),
                    ..Record::new(
                        &format!(
                            "{check}/{}(q={q})",
                            est.name().split('(').next().unwrap_or("")
                        ),
                        "mean_sq_norm",
                        mean(&sq),
                        ALPHA,
                    )
                }
                .verdicts(Verdict::from_rejected(!ok), expected),
            );
        }
    }
    Ok(records)
}

/// Per-(θ, T) identity on the counterexample (θ = 5, task 1), N = 1000, α = 0.01.
#[test]
fn second_moment_identity_on_the_counterexample() -> Result<()> {
    let o = counterexample()?;
    let theta = o.inner().problem().theta(5.0)?;
    record_and_assert(&identity_records(
        "variance/identity_counterexample",
        &o,
        &theta,
        &1,
        1000,
    )?);
    Ok(())
}

/// Per-(θ, T) identity on the tiny MLP (θ ~ N(0, I), seed 1, full batch), N = 400, α = 0.01.
fn identity_mlp<O: MlpOracles>(check: &str, o: &Counted<O>) -> Result<()> {
    let theta = mlp_theta(o, 1)?;
    record_and_assert(&identity_records(
        check,
        o,
        &theta,
        &Default::default(),
        400,
    )?);
    Ok(())
}

/// [`identity_mlp`] through candle autodiff.
#[test]
fn second_moment_identity_on_the_mlp() -> Result<()> {
    identity_mlp("variance/identity_mlp", &tiny_mlp(None)?)
}

/// [`identity_mlp`] through the hand-derived oracles (`MlpAnalytic`).
#[test]
fn second_moment_identity_on_the_mlp_analytic() -> Result<()> {
    identity_mlp("variance/identity_mlp_analytic", &tiny_mlp_analytic(None)?)
}

/// One-sided Holm family "E‖G(θ_k)‖² ≤ bound" over the θ_k; returns (max mean, min adjusted p).
fn bound_family<O: ProblemOracles>(
    o: &Counted<O>,
    thetas: &[ParamList],
    est: &mut dyn Estimator<O>,
    bound: f64,
    n: usize,
    seed: u64,
) -> Result<(f64, f64)>
where
    O::Problem: TaskDistribution,
{
    let p = o.inner().problem();
    let mut pvals = Vec::new();
    let mut worst = f64::NEG_INFINITY;
    for (k, theta) in thetas.iter().enumerate() {
        let sq: Vec<f64> = draws(est, o, theta, |r| p.sample_task(r), n, seed + k as u64)?
            .iter()
            .map(|d| sq_norm(&d.grad))
            .collect();
        worst = worst.max(mean(&sq));
        pvals.push(t_test_greater(&sq, bound).p_value);
    }
    Ok((worst, holm_adjust(&pvals).into_iter().fold(1.0, f64::min)))
}

fn bound_record(
    check: &str,
    (worst, p): (f64, f64),
    bound: f64,
    n: usize,
    seed: u64,
    expected: Verdict,
    detail: String,
) -> Record {
    Record {
        p_value: Some(p),
        target: Some(bound),
        n: n as u64,
        seed,
        detail,
        ..Record::new(check, "max_mean_sq_norm", worst, ALPHA)
    }
    .verdicts(Verdict::from_rejected(p <= ALPHA), expected)
}

/// Lemma 1 on the counterexample of Fig. 1d (inner step 0.01), q = 0.1, N = 1000 per θ.
#[test]
fn lemma1_bound_on_the_fig1d_counterexample() -> Result<()> {
    const N: usize = 1000;
    let q = 0.1;
    let o = fig1d_counterexample(0.01)?;
    let p = o.inner().problem();
    let tasks = p.enumerate_tasks().unwrap_or_default();
    let (mut d2, mut v2) = ((f64::MIN, 0.0), (f64::MIN, 0.0));
    for i in 0..=400 {
        let x = -50.0 + 0.25 * i as f64;
        let theta = p.theta(x)?;
        let (mut e_d, mut e_v) = (0.0, 0.0);
        for (w, t) in &tasks {
            let (fo, exact) = fo_and_exact(&o, &theta, t)?;
            e_d += w * sq_norm(&sub(&fo, &exact));
            e_v += w * sq_norm(&exact);
        }
        d2 = if e_d > d2.0 { (e_d, x) } else { d2 };
        v2 = if e_v > v2.0 { (e_v, x) } else { v2 };
    }
    let bound = (1.0 / q - 1.0) * d2.0 + v2.0;
    println!("Fig. 1d (step 0.01): D² = {:.4} at θ = {}, V² = {:.4} at θ = {}, bound (q = {q}) = {bound:.4}", d2.0, d2.1, v2.0, v2.1);
    let thetas: Vec<ParamList> = [d2.1, v2.1, -20.0, 0.0, 20.0]
        .iter()
        .map(|&x| p.theta(x))
        .collect::<Result<_>>()?;
    let (worst, pv) = bound_family(&o, &thetas, &mut Ufom::new(q)?, bound, N, SEED + 100)?;
    let (worst_bad, pv_bad) = bound_family(
        &o,
        &thetas,
        &mut ScaledUfom::inverse_q_squared(q),
        bound,
        N,
        SEED + 100,
    )?;
    println!(
        "UFOM: max mean ‖G‖² = {worst:.4} (p = {pv:.3e}); 1/q²: {worst_bad:.4} (p = {pv_bad:.3e})"
    );
    let detail = |w: &str| {
        format!(
            "{w}; q = {q}; D² = {:.5} (θ = {}), V² = {:.5} (θ = {}); one-sided t, Holm over 5 θ",
            d2.0, d2.1, v2.0, v2.1
        )
    };
    record_and_assert(&[
        bound_record(
            "variance/lemma1_fig1d/ufom",
            (worst, pv),
            bound,
            N,
            SEED + 100,
            Verdict::Pass,
            detail("ufom"),
        ),
        bound_record(
            "variance/lemma1_fig1d/inverse_q_squared",
            (worst_bad, pv_bad),
            bound,
            N,
            SEED + 100,
            Verdict::Reject,
            detail("1/q² instead of 1/q"),
        ),
    ]);
    Ok(())
}

/// Upper (1 − α/2) t-limit of the mean.
fn upper_limit(xs: &[f64]) -> f64 {
    let t = StudentsT::new(0.0, 1.0, xs.len() as f64 - 1.0)
        .expect("n >= 2")
        .inverse_cdf(1.0 - ALPHA / 2.0);
    mean(xs) + t * std_err(xs)
}

/// Lemma 1 on the tiny MLP with random tasks: 4 random θ, M = 100, N = 200, q = 0.2.
fn lemma1_mlp<O: MlpOracles>(check: &str, o: &Counted<O>) -> Result<()> {
    const M: usize = 100;
    const N: usize = 200;
    let q = 0.2;
    let p = o.inner().problem();
    let thetas: Vec<ParamList> = (0..4)
        .map(|k| mlp_theta(o, 10 + k))
        .collect::<Result<_>>()?;
    let (mut d2, mut v2) = (0.0f64, 0.0f64);
    let mut r = verify::fixtures::rng(SEED + 200);
    for theta in &thetas {
        let (mut ds, mut vs) = (Vec::with_capacity(M), Vec::with_capacity(M));
        for _ in 0..M {
            let (fo, exact) = fo_and_exact(o, theta, &p.sample_task(&mut r)?)?;
            ds.push(sq_norm(&sub(&fo, &exact)));
            vs.push(sq_norm(&exact));
        }
        d2 = d2.max(upper_limit(&ds));
        v2 = v2.max(upper_limit(&vs));
    }
    let bound = (1.0 / q - 1.0) * d2 + v2;
    let (worst, pv) = bound_family(o, &thetas, &mut Ufom::new(q)?, bound, N, SEED + 300)?;
    let (worst_bad, pv_bad) = bound_family(
        o,
        &thetas,
        &mut ScaledUfom::inverse_q_squared(q),
        bound,
        N,
        SEED + 300,
    )?;
    println!("{check}: D² ≤ {d2:.4e}, V² ≤ {v2:.4e}, bound {bound:.4e}; UFOM max mean ‖G‖² = {worst:.4e} (p = {pv:.3e}); 1/q²: {worst_bad:.4e} (p = {pv_bad:.3e})");
    let detail = |w: &str| {
        format!("{w}; q = {q}; D² = {d2:.5e}, V² = {v2:.5e} (upper 99.5% limits over 4 θ, M = {M} tasks each); one-sided t, Holm over 4 θ")
    };
    record_and_assert(&[
        bound_record(
            &format!("{check}/ufom"),
            (worst, pv),
            bound,
            N,
            SEED + 300,
            Verdict::Pass,
            detail("ufom"),
        ),
        bound_record(
            &format!("{check}/inverse_q_squared"),
            (worst_bad, pv_bad),
            bound,
            N,
            SEED + 300,
            Verdict::Reject,
            detail("1/q² instead of 1/q"),
        ),
    ]);
    Ok(())
}

/// [`lemma1_mlp`] through candle autodiff.
#[test]
fn lemma1_bound_on_the_mlp_over_random_theta() -> Result<()> {
    lemma1_mlp("variance/lemma1_mlp", &tiny_mlp(Some(8))?)
}

/// [`lemma1_mlp`] through the hand-derived oracles (`MlpAnalytic`).
#[test]
fn lemma1_bound_on_the_mlp_over_random_theta_analytic() -> Result<()> {
    lemma1_mlp("variance/lemma1_mlp_analytic", &tiny_mlp_analytic(Some(8))?)
}
