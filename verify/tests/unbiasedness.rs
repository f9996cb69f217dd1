//! Test 1 — UFOM is unbiased (eq. 13): E_ξ[G_UFO(θ, T)] = G_exact(θ, T), and with random tasks
//! E_{T,ξ}[G_UFO] = E_T[G_exact] = ∇M^(r)(θ).
//!
//! Design (see `verify::checks` for why one projection suffices at a fixed (θ, T)):
//! - fixed (θ, T), q ∈ {0.05, 0.2, 0.5}: N draws of the engine's `Ufom` through `Counted`
//!   oracles, two-sided t-test of the projection on one fixed random direction, Holm across the
//!   three q at α = 0.01. Counterexample (θ = 5, task 1): N = 1000; MLP (24 examples, hidden 6,
//!   r = 4, full-batch task, θ ~ N(0, I)): N = 400.
//! - random tasks (MLP, mini-batches of 8 of 24 examples), q ∈ {0.2, 0.5}: N = 400 paired
//!   differences G_UFO − G_exact on the same task, Hotelling's T² on 3 fixed random projections,
//!   Holm across the two q at α = 0.01.
//! - negative controls at the same N and α, each must be rejected: FOM, and UFOM with the 1/q
//!   factor dropped (`ScaledUfom::without_inverse_q`) at every q.
//! - the MLP checks run twice, through candle autodiff (`Autodiff<MlpHypercleaning>`) and
//!   through the hand-derived `MlpAnalytic` (checks suffixed `_analytic`), same θ, seeds, N.

use hypergrad::estimators::{Fom, Ufom, Unrolled};
use hypergrad::{Counted, Estimator, ParamList, Result, TaskDistribution, UnrolledReference};
use verify::checks::{unbiased_fixed_task, unbiased_random_tasks, ALPHA};
use verify::fixtures::{
    counterexample, draws, fo_and_exact, mlp_theta, sub, tiny_mlp, tiny_mlp_analytic, MlpOracles,
};
use verify::report::{record_and_assert, Record, Verdict};
use verify::sabotage::ScaledUfom;
use verify::stats::{holm_adjust, random_directions};

const QS: [f64; 3] = [0.05, 0.2, 0.5];
const SEED: u64 = 1000;

type Est<O> = Box<dyn Estimator<O>>;

/// One Holm family over q at a fixed (θ, T): `make(q)` builds the estimator.
#[allow(clippy::too_many_arguments)]
fn fixed_task_family<O: UnrolledReference>(
    check: &str,
    o: &Counted<O>,
    theta: &ParamList,
    task: &O::Task,
    n: usize,
    make: &dyn Fn(f64) -> Est<O>,
    expected: Verdict,
) -> Result<Vec<Record>>
where
    O::Task: Clone,
{
    let (g_fo, g_exact) = fo_and_exact(o, theta, task)?;
    let u = &random_directions(1, g_exact.len(), 17)[0];
    let mut tests = Vec::new();
    for (i, &q) in QS.iter().enumerate() {
        let mut est = make(q);
        let seed = SEED + i as u64;
        let samples: Vec<Vec<f64>> = draws(est.as_mut(), o, theta, |_| Ok(task.clone()), n, seed)?
            .into_iter()
            .map(|d| d.grad)
            .collect();
        if expected == Verdict::Pass {
            assert_on_the_line(&samples, &g_fo, &g_exact, q);
        }
        tests.push((
            q,
            seed,
            est.name(),
            unbiased_fixed_task(&samples, &g_exact, u),
        ));
    }
    let adj = holm_adjust(&tests.iter().map(|t| t.3.p_value).collect::<Vec<_>>());
    Ok(tests
        .into_iter()
        .zip(adj)
        .map(|((_, seed, name, t), p)| {
            Record {
                p_value: Some(p),
                n: n as u64,
                seed,
                detail: format!(
                    "{name}; two-sided t-test of one projection, Holm over q in {QS:?}"
                ),
                ..Record::new(&format!("{check}/{name}"), "t", t.t, ALPHA)
            }
            .verdicts(Verdict::from_rejected(p <= ALPHA), expected)
        })
        .collect())
}

/// Structural check of eq. (13): every draw is G_FO (ξ = 0) or G_FO + Δ/q (ξ = 1).
fn assert_on_the_line(samples: &[Vec<f64>], g_fo: &[f64], g_exact: &[f64], q: f64) {
    let hi: Vec<f64> = g_fo
        .iter()
        .zip(g_exact)
        .map(|(f, e)| f + (e - f) / q)
        .collect();
    let scale = hi.iter().chain(g_fo).fold(1e-12f64, |m, x| m.max(x.abs()));
    for s in samples {
        let d = |t: &[f64]| {
            s.iter()
                .zip(t)
                .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()))
                / scale
        };
        assert!(
            d(g_fo).min(d(&hi)) < 1e-9,
            "a UFOM draw {s:?} is neither G_FO {g_fo:?} nor G_FO + Δ/q {hi:?}"
        );
    }
}

fn fom_check<O: UnrolledReference>(
    check: &str,
    o: &Counted<O>,
    theta: &ParamList,
    task: &O::Task,
    n: usize,
) -> Result<Record>
where
    O::Task: Clone,
{
    let (_, g_exact) = fo_and_exact(o, theta, task)?;
    let u = &random_directions(1, g_exact.len(), 17)[0];
    let samples: Vec<Vec<f64>> = draws(&mut Fom, o, theta, |_| Ok(task.clone()), n, SEED)?
        .into_iter()
        .map(|d| d.grad)
        .collect();
    let t = unbiased_fixed_task(&samples, &g_exact, u);
    Ok(Record {
        p_value: Some(t.p_value),
        n: n as u64,
        seed: SEED,
        detail:
            "FOM (negative control): deterministic for fixed (θ, T), p = 0 unless G_FO = G_exact"
                .into(),
        ..Record::new(&format!("{check}/fom"), "t", t.t, ALPHA)
    }
    .verdicts(Verdict::from_rejected(t.p_value <= ALPHA), Verdict::Reject))
}

fn fixed_task_records<O: UnrolledReference + 'static>(
    check: &str,
    o: &Counted<O>,
    theta: &ParamList,
    task: &O::Task,
    n: usize,
) -> Result<Vec<Record>>
where
    O::Task: Clone,
{
    let mut records = fixed_task_family(
        check,
        o,
        theta,
        task,
        n,
        &|q| Box::new(Ufom::new(q).unwrap()) as Est<O>,
        Verdict::Pass,
    )?;
    records.extend(fixed_task_family(
        check,
        o,
        theta,
        task,
        n,
        &|q| Box::new(ScaledUfom::without_inverse_q(q)) as Est<O>,
        Verdict::Reject,
    )?);
    records.push(fom_check(check, o, theta, task, n)?);
    Ok(records)
}

/// Counterexample (Fig. 1a–c settings), θ = 5, task 1; N = 1000, α = 0.01.
#[test]
fn ufom_is_unbiased_on_the_counterexample_for_a_fixed_task() -> Result<()> {
    let o = counterexample()?;
    let theta = o.inner().problem().theta(5.0)?;
    record_and_assert(&fixed_task_records(
        "unbiasedness/counterexample_fixed_task",
        &o,
        &theta,
        &1,
        1000,
    )?);
    Ok(())
}

/// Tiny MLP, θ ~ N(0, I) (seed 1), full-batch task; N = 400, α = 0.01.
fn mlp_fixed_task<O: MlpOracles + 'static>(check: &str, o: &Counted<O>) -> Result<()> {
    let theta = mlp_theta(o, 1)?;
    record_and_assert(&fixed_task_records(
        check,
        o,
        &theta,
        &Default::default(),
        400,
    )?);
    Ok(())
}

/// [`mlp_fixed_task`] through candle autodiff.
#[test]
fn ufom_is_unbiased_on_the_mlp_for_a_fixed_task() -> Result<()> {
    mlp_fixed_task("unbiasedness/mlp_fixed_task", &tiny_mlp(None)?)
}

/// [`mlp_fixed_task`] through the hand-derived oracles (`MlpAnalytic`).
#[test]
fn ufom_is_unbiased_on_the_mlp_for_a_fixed_task_analytic() -> Result<()> {
    mlp_fixed_task(
        "unbiasedness/mlp_fixed_task_analytic",
        &tiny_mlp_analytic(None)?,
    )
}

/// Tiny MLP with random mini-batch tasks (8 of 24), θ ~ N(0, I) (seed 2): paired differences
/// with the exact gradient (unrolled autodiff reference) on the same task, Hotelling's T² on 3 projections; N = 400,
/// α = 0.01, Holm over q ∈ {0.2, 0.5}. FOM and the dropped-1/q variant must be rejected.
fn mlp_random_tasks<O: MlpOracles>(check: &str, o: &Counted<O>) -> Result<()> {
    const N: usize = 400;
    let p = o.inner().problem();
    let theta = mlp_theta(o, 2)?;
    let dirs = random_directions(3, theta.numel(), 23);
    let run = |est: &mut dyn Estimator<O>, seed: u64| -> Result<verify::stats::Hotelling> {
        let mut tasks = Vec::new();
        let samples = draws(
            est,
            o,
            &theta,
            |r| {
                let t = p.sample_task(r)?;
                tasks.push(t.clone());
                Ok(t)
            },
            N,
            seed,
        )?;
        let mut diffs = Vec::with_capacity(N);
        for (s, t) in samples.iter().zip(&tasks) {
            let exact = Unrolled
                .estimate(o, &theta, t, &mut verify::fixtures::rng(0))?
                .grad
                .to_vec()?;
            diffs.push(sub(&s.grad, &exact));
        }
        Ok(unbiased_random_tasks(&diffs, &dirs))
    };
    let qs = [0.2, 0.5];
    let mut records = Vec::new();
    for (label, expected) in [
        ("ufom", Verdict::Pass),
        ("ufom_without_1/q", Verdict::Reject),
    ] {
        let mut tests = Vec::new();
        for (i, &q) in qs.iter().enumerate() {
            let seed = SEED + 10 + i as u64;
            let h = if expected == Verdict::Pass {
                run(&mut Ufom::new(q)?, seed)?
            } else {
                run(&mut ScaledUfom::without_inverse_q(q), seed)?
            };
            tests.push((q, seed, h));
        }
        let adj = holm_adjust(&tests.iter().map(|t| t.2.p_value).collect::<Vec<_>>());
        for ((q, seed, h), p) in tests.into_iter().zip(adj) {
            records.push(
                Record {
                    p_value: Some(p),
                    n: N as u64,
                    seed,
                    detail: format!("{label}(q={q}); Hotelling T² on 3 projections of paired G − G_exact, Holm over q in {qs:?}"),
                    ..Record::new(&format!("{check}/{label}(q={q})"), "hotelling_t2", h.t2, ALPHA)
                }
                .verdicts(Verdict::from_rejected(p <= ALPHA), expected),
            );
        }
    }
    let h = run(&mut Fom, SEED + 20)?;
    records.push(
        Record {
            p_value: Some(h.p_value),
            n: N as u64,
            seed: SEED + 20,
            detail:
                "FOM (negative control); Hotelling T² on 3 projections of paired G_FO − G_exact"
                    .into(),
            ..Record::new(&format!("{check}/fom"), "hotelling_t2", h.t2, ALPHA)
        }
        .verdicts(Verdict::from_rejected(h.p_value <= ALPHA), Verdict::Reject),
    );
    for r in &records {
        println!(
            "{}: T² = {:.3}, p = {:.3e}, {:?}",
            r.check,
            r.statistic,
            r.p_value.unwrap_or(f64::NAN),
            r.verdict
        );
    }
    record_and_assert(&records);
    Ok(())
}

/// [`mlp_random_tasks`] through candle autodiff.
#[test]
fn ufom_is_unbiased_on_the_mlp_over_random_tasks() -> Result<()> {
    mlp_random_tasks("unbiasedness/mlp_random_tasks", &tiny_mlp(Some(8))?)
}

/// [`mlp_random_tasks`] through the hand-derived oracles (`MlpAnalytic`).
#[test]
fn ufom_is_unbiased_on_the_mlp_over_random_tasks_analytic() -> Result<()> {
    mlp_random_tasks(
        "unbiasedness/mlp_random_tasks_analytic",
        &tiny_mlp_analytic(Some(8))?,
    )
}
