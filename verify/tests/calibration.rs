//! Test 7 — calibration of test 1 (`#[ignore]`d in CI; run with
//! `cargo test -p verify --release --test calibration -- --ignored --nocapture`).
//!
//! Measures, for exactly the procedures of `tests/unbiasedness.rs` (`verify::checks`) at the
//! CI sample sizes and α = 0.01:
//! - the false-rejection rate on the true UFOM, per q and for the Holm family over q:
//!   fixed (θ, T) with the engine's `Ufom` (counterexample, 200 seeds) and with cached
//!   (G_FO, G_exact) and the engine's ξ sequence (`fixtures::simulate`, 2000 seeds, first
//!   checked against the engine draw for draw); random tasks on the MLP with tasks drawn from a
//!   pool of 1000 cached mini-batch tasks (2000 seeds);
//! - the power against FOM and against UFOM without 1/q at the same N.
//!
//! Asserts: every family false-rejection rate ≤ 2.5 α, every power ≥ 0.99.
//!
//! Every figure is also a record of `verify.json` (`calibration/<setting>/…`: the rate, its
//! 95 % Clopper–Pearson interval, the runs and the label), so `just calibrate` writes them into
//! `reports/verify.json` and the README's calibration tables are generated from it
//! (`ufom report reports --readme …`), never copied by hand.

use hypergrad::estimators::Ufom;
use hypergrad::{BilevelProblem, ParamList, Result, TaskDistribution};
use rand::Rng;
use verify::checks::{unbiased_fixed_task, unbiased_random_tasks, ALPHA};
use verify::fixtures::{
    counterexample, draws, fo_and_exact, mlp_theta, rng, simulate, sub, tiny_mlp, Problem,
};
use verify::report::{report_path_from_env, write_records, Record, Verdict};
use verify::stats::{clopper_pearson, holm_adjust, random_directions};

const QS: [f64; 3] = [0.05, 0.2, 0.5];

/// Which bound a rate must respect.
#[derive(Clone, Copy)]
enum Bound {
    /// A false-rejection rate: at most this.
    AtMost(f64),
    /// A power: at least this.
    AtLeast(f64),
    /// Reported only (per-q rates: the family is what is asserted).
    None,
}

/// Records `hits` of `n` as `calibration/<setting>/<what>` in `verify.json`; returns whether
/// the bound holds.
fn record_rate(
    setting: &str,
    what: &str,
    label: &str,
    hits: u64,
    n: u64,
    seed: u64,
    bound: Bound,
) -> bool {
    let r = hits as f64 / n as f64;
    let (ok, threshold, name) = match bound {
        Bound::AtMost(t) => (r <= t, t, "false_rejection_rate"),
        Bound::AtLeast(t) => (r >= t, t, "power"),
        Bound::None => (true, f64::NAN, "false_rejection_rate"),
    };
    let record = Record {
        interval: Some(clopper_pearson(hits, n, 0.05)),
        n,
        seed,
        detail: label.to_string(),
        ..Record::new(&format!("calibration/{setting}/{what}"), name, r, threshold)
    }
    .verdicts(Verdict::from_rejected(!ok), Verdict::Pass);
    write_records(&report_path_from_env(), &[record]).expect("verify.json");
    ok
}

fn rate(hits: u64, n: u64) -> String {
    let [lo, hi] = clopper_pearson(hits, n, 0.05);
    format!(
        "{:.4} (95% CI {lo:.4}–{hi:.4}, {hits}/{n})",
        hits as f64 / n as f64
    )
}

/// Rejections per q and of the Holm family over `seeds` runs of `p_values(seed) -> [p; 3]`.
fn tally(seeds: u64, mut p_values: impl FnMut(u64) -> Result<Vec<f64>>) -> Result<(Vec<u64>, u64)> {
    let mut per_q = vec![0u64; QS.len()];
    let mut family = 0;
    for s in 0..seeds {
        let p = p_values(s)?;
        for (c, &pi) in per_q.iter_mut().zip(&p) {
            *c += u64::from(pi <= ALPHA);
        }
        family += u64::from(holm_adjust(&p).iter().any(|&a| a <= ALPHA));
    }
    Ok((per_q, family))
}

fn report(setting: &str, label: &str, seeds: u64, seed: u64, (per_q, family): &(Vec<u64>, u64)) {
    for (q, &c) in QS.iter().zip(per_q) {
        println!("{label} q = {q}: false-rejection rate {}", rate(c, seeds));
        record_rate(
            setting,
            &format!("q{q}"),
            label,
            c,
            seeds,
            seed,
            Bound::None,
        );
    }
    println!(
        "{label} Holm family: false-rejection rate {}",
        rate(*family, seeds)
    );
    assert!(
        record_rate(
            setting,
            "family",
            label,
            *family,
            seeds,
            seed,
            Bound::AtMost(2.5 * ALPHA)
        ),
        "{label}: family false-rejection rate too high"
    );
}

fn fixed_task_simulated<P: BilevelProblem>(
    setting: &str,
    label: &str,
    o: &Problem<P>,
    theta: &ParamList,
    task: &P::Task,
    n: usize,
) -> Result<()>
where
    P::Task: Clone,
{
    const SEEDS: u64 = 2000;
    let (fo, exact) = fo_and_exact(o, theta, task)?;
    let u = &random_directions(1, exact.len(), 17)[0];
    // The simulation is the engine's UFOM, draw for draw (same ξ from the same seed).
    for &q in &QS {
        let real = draws(&mut Ufom::new(q)?, o, theta, |_| Ok(task.clone()), 50, 1)?;
        for (a, b) in real.iter().zip(simulate(&fo, &exact, q, 1.0 / q, 50, 1)) {
            let err = a
                .grad
                .iter()
                .zip(&b)
                .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
            assert!(
                err <= 1e-9 * b.iter().fold(1.0f64, |m, x| m.max(x.abs())),
                "simulation differs from the engine"
            );
        }
    }
    let t = tally(SEEDS, |s| {
        Ok(QS
            .iter()
            .map(|&q| {
                unbiased_fixed_task(&simulate(&fo, &exact, q, 1.0 / q, n, 10_000 + s), &exact, u)
                    .p_value
            })
            .collect())
    })?;
    let label = format!("{label}, fixed task, simulated, N = {n}");
    report(setting, &label, SEEDS, 10_000, &t);
    let power = tally(SEEDS, |s| {
        Ok(QS
            .iter()
            .map(|&q| {
                unbiased_fixed_task(&simulate(&fo, &exact, q, 1.0, n, 10_000 + s), &exact, u)
                    .p_value
            })
            .collect())
    })?;
    for (q, &c) in QS.iter().zip(&power.0) {
        println!(
            "{label} q = {q}: power against UFOM without 1/q {}",
            rate(c, SEEDS)
        );
        assert!(record_rate(
            setting,
            &format!("power_no_1_over_q/q{q}"),
            &label,
            c,
            SEEDS,
            10_000,
            Bound::AtLeast(0.99)
        ));
    }
    let fom = unbiased_fixed_task(&vec![fo.clone(); n], &exact, u).p_value;
    println!("{label}: FOM p-value {fom:e} (deterministic for a fixed task: power 1)");
    // A fixed task's FOM sample is constant: one run decides it.
    assert!(record_rate(
        setting,
        "power_fom",
        &label,
        u64::from(fom <= ALPHA),
        1,
        0,
        Bound::AtLeast(0.99)
    ));
    Ok(())
}

#[test]
#[ignore = "calibration: minutes; run with --ignored"]
fn calibration_fixed_task_simulated() -> Result<()> {
    let o = counterexample()?;
    fixed_task_simulated(
        "counterexample_fixed_simulated",
        "counterexample",
        &o,
        &o.inner().problem().theta(5.0)?,
        &1,
        1000,
    )?;
    let o = tiny_mlp(None)?;
    fixed_task_simulated(
        "mlp_fixed_simulated",
        "MLP",
        &o,
        &mlp_theta(&o, 1)?,
        &Default::default(),
        400,
    )
}

#[test]
#[ignore = "calibration: minutes; run with --ignored"]
fn calibration_fixed_task_engine_counterexample() -> Result<()> {
    const SEEDS: u64 = 200;
    let o = counterexample()?;
    let theta = o.inner().problem().theta(5.0)?;
    let (_, exact) = fo_and_exact(&o, &theta, &1)?;
    let t = tally(SEEDS, |s| {
        QS.iter()
            .map(|&q| {
                let g: Vec<Vec<f64>> =
                    draws(&mut Ufom::new(q)?, &o, &theta, |_| Ok(1), 1000, 20_000 + s)?
                        .into_iter()
                        .map(|d| d.grad)
                        .collect();
                Ok(unbiased_fixed_task(&g, &exact, &[1.0]).p_value)
            })
            .collect()
    })?;
    report(
        "counterexample_fixed_engine",
        "counterexample, fixed task, engine UFOM, N = 1000",
        SEEDS,
        20_000,
        &t,
    );
    Ok(())
}

#[test]
#[ignore = "calibration: minutes; run with --ignored"]
fn calibration_random_tasks_pool() -> Result<()> {
    const SEEDS: u64 = 2000;
    const POOL: usize = 1000;
    const N: usize = 400;
    let o = tiny_mlp(Some(8))?;
    let p = o.inner().problem();
    let theta = mlp_theta(&o, 2)?;
    let dirs = random_directions(3, theta.numel(), 23);
    let mut r = rng(30_000);
    let mut deltas = Vec::with_capacity(POOL);
    for _ in 0..POOL {
        let (fo, exact) = fo_and_exact(&o, &theta, &p.sample_task(&mut r)?)?;
        deltas.push(sub(&exact, &fo));
    }
    // D = G − G_exact on a task drawn from the pool: (ξ·s − 1)Δ_T for G = G_FO + ξ s Δ_T.
    let run = |q: f64, scale: f64, seed: u64| {
        let mut r = rng(seed);
        let diffs: Vec<Vec<f64>> = (0..N)
            .map(|_| {
                let d = &deltas[r.random_range(0..POOL)];
                let c = if r.random_bool(q) { scale } else { 0.0 } - 1.0;
                d.iter().map(|x| c * x).collect()
            })
            .collect();
        unbiased_random_tasks(&diffs, &dirs).p_value
    };
    let qs = [0.2, 0.5];
    let (mut per_q, mut family) = ([0u64; 2], 0u64);
    let (mut power_fom, mut power_drop) = (0u64, [0u64; 2]);
    for s in 0..SEEDS {
        let pv: Vec<f64> = qs
            .iter()
            .enumerate()
            .map(|(i, &q)| run(q, 1.0 / q, 40_000 + 10 * s + i as u64))
            .collect();
        for i in 0..2 {
            per_q[i] += u64::from(pv[i] <= ALPHA);
            power_drop[i] += u64::from(run(qs[i], 1.0, 50_000 + 10 * s + i as u64) <= ALPHA);
        }
        family += u64::from(holm_adjust(&pv).iter().any(|&a| a <= ALPHA));
        power_fom += u64::from(run(1.0, 0.0, 60_000 + s) <= ALPHA);
    }
    let label = format!("MLP, random tasks (pool of {POOL}), N = {N}");
    let setting = "mlp_random_tasks";
    for i in 0..2 {
        println!(
            "{label} q = {}: false-rejection rate {}; power against UFOM without 1/q {}",
            qs[i],
            rate(per_q[i], SEEDS),
            rate(power_drop[i], SEEDS)
        );
        record_rate(
            setting,
            &format!("q{}", qs[i]),
            &label,
            per_q[i],
            SEEDS,
            40_000,
            Bound::None,
        );
        assert!(record_rate(
            setting,
            &format!("power_no_1_over_q/q{}", qs[i]),
            &label,
            power_drop[i],
            SEEDS,
            50_000,
            Bound::AtLeast(0.99)
        ));
    }
    println!(
        "{label} Holm family: false-rejection rate {}",
        rate(family, SEEDS)
    );
    println!("{label} power against FOM {}", rate(power_fom, SEEDS));
    assert!(record_rate(
        setting,
        "family",
        &label,
        family,
        SEEDS,
        40_000,
        Bound::AtMost(2.5 * ALPHA)
    ));
    assert!(record_rate(
        setting,
        "power_fom",
        &label,
        power_fom,
        SEEDS,
        60_000,
        Bound::AtLeast(0.99)
    ));
    Ok(())
}
