//! Test 3 — stored exact (Alg. 2) ≡ recompute exact (Alg. 4 at q = 1) ≡ checkpointed exact
//! (binomial checkpointing with ⌈√r⌉, 1 and 2 slots) ≡ unrolled autodiff, and all match central finite differences of M^(r)(θ) = L_out(θ, U^(r)(θ, T), T) (eq. 4).
//!
//! A deterministic proptest (ChaCha, fixed seed, 32 cases, no persistence) over random small
//! problems: the quadratic family (dim θ 1..=4, dim φ 1..=5, r ∈ 1..=15, per-step α_j ∈
//! [0.01, 0.35], λ, V(θ) = Eθ + e or V = e independent of θ, seeds), the counterexample
//! (V(θ) = θ, r ∈ 1..=15, step ∈ [0.01, 0.3], θ ∈ [−30, 30]) and the tiny hypercleaning MLP
//! (V independent of θ, hidden 2..=5, r ∈ 1..=5). Tolerances: 1e-9 relative between the three
//! exact gradients (and the quadratic's closed form), 1e-6 against finite differences (h = 1e-5).
//! Every MLP case runs twice: through candle autodiff and through the hand-derived
//! `MlpAnalytic` (recorded as `equivalence/proptest_analytic/...`; its finite differences take
//! the inner steps with the analytic ∂L_in/∂φ, its unrolled reference is autodiff's).
//!
//! Negative controls: the same comparison with the engine's stored, recompute and checkpointed
//! estimators run
//! on sabotaged oracles — HVP sign flipped, the cross term (∂²L_in/∂θ∂φ)ᵀv dropped, (∂V/∂θ)ᵀv
//! dropped — must fail (relative error > 1e-3) on every problem where the sabotaged term is
//! non-zero; on the MLP through both oracles.

use candle_core::{DType, Device};
use hypergrad::check::relative_error;
use hypergrad::estimators::{Checkpointed, RecomputeExact, StoredExact, Unrolled};
use hypergrad::problems::{
    Counterexample, MlpAnalytic, MlpConfig, MlpData, MlpHypercleaning, Quadratic, QuadraticConfig,
};
use hypergrad::{
    Autodiff, Counted, Estimator, Oracles, ParamList, Result, TaskDistribution, UnrolledReference,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::cell::Cell;
use verify::fixtures::{rng, tiny_mlp, ProblemOracles};
use verify::report::{record_and_assert, Record, Verdict};
use verify::sabotage::{DropCrossTerm, DropStartVjp, FlipHvpSign};

const EXACT_TOL: f64 = 1e-9;
const FD_TOL: f64 = 1e-6;
const CASES: u32 = 32;
const SEED: u64 = 3000;

/// A random small problem.
#[derive(Clone, Debug)]
enum Case {
    Quadratic {
        cfg: QuadraticConfig,
        theta: Vec<f64>,
    },
    Counterexample {
        r: usize,
        step: f64,
        theta: f64,
        task: usize,
    },
    Mlp {
        n: usize,
        hidden: usize,
        steps: usize,
        alpha: f64,
        fold: bool,
        seed: u64,
    },
}

fn case() -> impl Strategy<Value = Case> {
    let quadratic = (
        1usize..=4,
        1usize..=5,
        1usize..=15,
        any::<u64>(),
        0.0f64..0.5,
        any::<bool>(),
    )
        .prop_flat_map(|(s, p, r, seed, lambda, start_from_theta)| {
            (
                prop::collection::vec(0.01f64..0.35, r),
                prop::collection::vec(-2.0f64..2.0, s),
            )
                .prop_map(move |(alphas, theta)| Case::Quadratic {
                    cfg: QuadraticConfig {
                        s,
                        p,
                        alphas,
                        lambda,
                        start_from_theta,
                        seed,
                    },
                    theta,
                })
        });
    let counter = (1usize..=15, 0.01f64..0.3, -30.0f64..30.0, 0usize..2).prop_map(
        |(r, step, theta, task)| Case::Counterexample {
            r,
            step,
            theta,
            task,
        },
    );
    let mlp = (
        6usize..=12,
        2usize..=5,
        1usize..=5,
        0.1f64..1.0,
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(|(n, hidden, steps, alpha, fold, seed)| Case::Mlp {
            n,
            hidden,
            steps,
            alpha,
            fold,
            seed,
        });
    prop_oneof![4 => quadratic, 1 => counter, 1 => mlp]
}

/// Max relative errors (stored vs recompute/unrolled, stored vs finite differences).
fn errors<O: ProblemOracles>(
    o: &Counted<O>,
    theta: &ParamList,
    task: &O::Task,
    closed: Option<Vec<f64>>,
) -> Result<(f64, f64)> {
    let mut r = rng(0);
    let stored = StoredExact
        .estimate(o, theta, task, &mut r)?
        .grad
        .to_vec()?;
    let recompute = RecomputeExact::new()
        .estimate(o, theta, task, &mut r)?
        .grad
        .to_vec()?;
    let unrolled = Unrolled.estimate(o, theta, task, &mut r)?.grad.to_vec()?;
    let fd = o.inner().finite_difference_gradient(theta, task, 1e-5)?;
    let mut exact =
        relative_error(&recompute, &stored, 1e-12).max(relative_error(&unrolled, &stored, 1e-12));
    for slots in [None, Some(1), Some(2)] {
        let checkpointed = Checkpointed::new(slots)?
            .estimate(o, theta, task, &mut r)?
            .grad
            .to_vec()?;
        exact = exact.max(relative_error(&checkpointed, &stored, 1e-12));
    }
    if let Some(c) = closed {
        exact = exact.max(relative_error(&stored, &c, 1e-12));
    }
    Ok((exact, relative_error(&stored, &fd, 1e-8)))
}

/// Max relative errors of a case through candle autodiff, and for the MLP also through the
/// hand-derived `MlpAnalytic` (same problem, same θ).
struct CaseErrors {
    autodiff: (f64, f64),
    analytic: Option<(f64, f64)>,
}

fn case_errors(c: &Case) -> Result<CaseErrors> {
    let autodiff = |e| CaseErrors {
        autodiff: e,
        analytic: None,
    };
    match c {
        Case::Quadratic { cfg, theta } => {
            let o = Counted::new(Autodiff::new(Quadratic::new(
                cfg.clone(),
                DType::F64,
                Device::Cpu,
            )?)?);
            let p = o.inner().problem();
            let task = p.sample_task(&mut rng(cfg.seed))?;
            let closed = p.closed_form_gradient(theta, &task);
            errors(&o, &p.theta(theta)?, &task, Some(closed)).map(autodiff)
        }
        Case::Counterexample {
            r,
            step,
            theta,
            task,
        } => {
            let o = Counted::new(Autodiff::new(Counterexample::with_params(
                [0.5, 1.5],
                [0.0, 10.0],
                10.0,
                *r,
                *step,
            )?)?);
            errors(&o, &o.inner().problem().theta(*theta)?, task, None).map(autodiff)
        }
        Case::Mlp {
            n,
            hidden,
            steps,
            alpha,
            fold,
            seed,
        } => {
            let (data, _) = MlpData::synthetic(*n, 8, 4, 3, 0.5, *seed, DType::F64, &Device::Cpu)?;
            let cfg = MlpConfig {
                hidden: *hidden,
                steps: *steps,
                alpha: *alpha,
                fold_last_step: *fold,
                init_seed: *seed,
                task_batch: None,
            };
            let problem = MlpHypercleaning::new(data, cfg)?;
            let o = Counted::new(Autodiff::new(problem.clone())?);
            let a = Counted::new(MlpAnalytic::new(problem)?);
            let theta = verify::fixtures::mlp_theta(&o, *seed)?;
            Ok(CaseErrors {
                autodiff: errors(&o, &theta, &Default::default(), None)?,
                analytic: Some(errors(&a, &theta, &Default::default(), None)?),
            })
        }
    }
}

/// The proptest: every case within tolerance; records the worst errors.
#[test]
fn exact_recompute_unrolled_and_finite_differences_agree() {
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::ChaCha,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[7u8; 32]));
    let worst = Cell::new((0.0f64, 0.0f64));
    // (worst exact, worst finite differences, MLP cases) through `MlpAnalytic`.
    let worst_analytic = Cell::new((0.0f64, 0.0f64, 0u64));
    let result = runner.run(&case(), |c| {
        let errs = case_errors(&c).map_err(|e| TestCaseError::fail(format!("{c:?}: {e}")))?;
        let (exact, fd) = errs.autodiff;
        let (we, wf) = worst.get();
        worst.set((we.max(exact), wf.max(fd)));
        prop_assert!(
            exact < EXACT_TOL,
            "{c:?}: exact estimators differ by {exact:e}"
        );
        prop_assert!(fd < FD_TOL, "{c:?}: exact vs finite differences {fd:e}");
        if let Some((exact, fd)) = errs.analytic {
            let (we, wf, n) = worst_analytic.get();
            worst_analytic.set((we.max(exact), wf.max(fd), n + 1));
            prop_assert!(
                exact < EXACT_TOL,
                "{c:?}: analytic oracles: exact estimators differ by {exact:e}"
            );
            prop_assert!(
                fd < FD_TOL,
                "{c:?}: analytic oracles: exact vs finite differences {fd:e}"
            );
        }
        Ok(())
    });
    let (we, wf) = worst.get();
    let (wae, waf, n_analytic) = worst_analytic.get();
    println!(
        "worst relative errors over {CASES} cases: exact {we:.3e}, finite differences {wf:.3e}"
    );
    println!(
        "MlpAnalytic, worst over {n_analytic} MLP cases: exact {wae:.3e}, finite differences {waf:.3e}"
    );
    if let Err(e) = &result {
        println!("proptest failure: {e}");
    }
    let rec = |name: &str, value: f64, tol: f64| {
        Record {
            n: CASES as u64,
            seed: SEED,
            detail:
                "proptest (ChaCha, seed [7; 32]) over quadratic, counterexample and MLP problems"
                    .into(),
            ..Record::new(name, "max_rel_error", value, tol)
        }
        .verdicts(
            Verdict::from_rejected(result.is_err() || value.is_nan() || value >= tol),
            Verdict::Pass,
        )
    };
    let rec_analytic = |name: &str, value: f64, tol: f64| {
        Record {
            n: n_analytic,
            seed: SEED,
            detail: "proptest (ChaCha, seed [7; 32]): its MLP cases through MlpAnalytic (finite \
                     differences with analytic inner steps, autodiff unrolled reference)"
                .into(),
            ..Record::new(name, "max_rel_error", value, tol)
        }
        .verdicts(
            Verdict::from_rejected(
                result.is_err() || n_analytic == 0 || value.is_nan() || value >= tol,
            ),
            Verdict::Pass,
        )
    };
    record_and_assert(&[
        rec(
            "equivalence/proptest/stored_vs_recompute_vs_unrolled",
            we,
            EXACT_TOL,
        ),
        rec(
            "equivalence/proptest/stored_vs_finite_differences",
            wf,
            FD_TOL,
        ),
        rec_analytic(
            "equivalence/proptest_analytic/stored_vs_recompute_vs_unrolled",
            wae,
            EXACT_TOL,
        ),
        rec_analytic(
            "equivalence/proptest_analytic/stored_vs_finite_differences",
            waf,
            FD_TOL,
        ),
    ]);
}

/// Relative error of stored and recompute exact on `o` (sabotaged) against the unsabotaged
/// unrolled reference of the same oracles (the wrappers keep it correct).
fn sabotaged_error<O: UnrolledReference>(
    o: &Counted<O>,
    theta: &ParamList,
    task: &O::Task,
) -> Result<f64> {
    let mut r = rng(0);
    let reference = o.inner().unrolled_gradient(theta, task)?.to_vec()?;
    let stored = StoredExact
        .estimate(o, theta, task, &mut r)?
        .grad
        .to_vec()?;
    let recompute = RecomputeExact::new()
        .estimate(o, theta, task, &mut r)?
        .grad
        .to_vec()?;
    let checkpointed = Checkpointed::new(Some(2))?
        .estimate(o, theta, task, &mut r)?
        .grad
        .to_vec()?;
    Ok(relative_error(&stored, &reference, 1e-12)
        .min(relative_error(&recompute, &reference, 1e-12))
        .min(relative_error(&checkpointed, &reference, 1e-12)))
}

fn control(name: &str, err: f64) -> Record {
    Record { n: 1, seed: SEED, detail: "negative control: sabotaged oracles must make the exact estimators disagree with unrolled autodiff".into(), ..Record::new(name, "rel_error", err, 1e-3) }
        .verdicts(Verdict::from_rejected(err > 1e-3), Verdict::Reject)
}

/// The sabotages `which` = [flip HVP sign, drop cross term, drop start VJP] on oracles `make()`.
fn sabotage_all<O: UnrolledReference>(
    prefix: &str,
    make: impl Fn() -> Result<O>,
    theta: &ParamList,
    task: &O::Task,
    which: [bool; 3],
) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    if which[0] {
        let o = Counted::new(FlipHvpSign(make()?));
        out.push(control(
            &format!("{prefix}/flip_hvp_sign"),
            sabotaged_error(&o, theta, task)?,
        ));
    }
    if which[1] {
        let o = Counted::new(DropCrossTerm(make()?));
        out.push(control(
            &format!("{prefix}/drop_cross_term"),
            sabotaged_error(&o, theta, task)?,
        ));
    }
    if which[2] {
        let o = Counted::new(DropStartVjp(make()?));
        out.push(control(
            &format!("{prefix}/drop_start_vjp"),
            sabotaged_error(&o, theta, task)?,
        ));
    }
    Ok(out)
}

/// Each sabotage is caught on every problem where the sabotaged term matters: the quadratic
/// with V(θ) = Eθ + e (all three), the counterexample (V(θ) = θ; no θ in L_in, so no cross
/// term) and the MLP (V independent of θ: no start term), through autodiff and `MlpAnalytic`.
#[test]
fn sabotaged_hvps_are_caught() -> Result<()> {
    let mut records = Vec::new();
    let q = Quadratic::new(
        QuadraticConfig {
            s: 3,
            p: 4,
            alphas: vec![0.1; 6],
            lambda: 0.1,
            start_from_theta: true,
            seed: 5,
        },
        DType::F64,
        Device::Cpu,
    )?;
    let task = q.sample_task(&mut rng(5))?;
    records.extend(sabotage_all(
        "equivalence/sabotage/quadratic",
        || Autodiff::new(q.clone()),
        &q.theta(&[0.3, -1.2, 0.7])?,
        &task,
        [true, true, true],
    )?);
    let c = Counterexample::with_params([0.5, 1.5], [0.0, 10.0], 10.0, 10, 0.1)?;
    records.extend(sabotage_all(
        "equivalence/sabotage/counterexample",
        || Autodiff::new(c.clone()),
        &c.theta(3.0)?,
        &1,
        [true, false, true],
    )?);
    let o = tiny_mlp(None)?;
    let theta = verify::fixtures::mlp_theta(&o, 1)?;
    let mlp = o.inner().problem();
    records.extend(sabotage_all(
        "equivalence/sabotage/mlp",
        || Autodiff::new(mlp.clone()),
        &theta,
        &Default::default(),
        [true, true, false],
    )?);
    records.extend(sabotage_all(
        "equivalence/sabotage/mlp_analytic",
        || MlpAnalytic::new(mlp.clone()),
        &theta,
        &Default::default(),
        [true, true, false],
    )?);
    for r in &records {
        println!("{}: relative error {:.3e}", r.check, r.statistic);
    }
    record_and_assert(&records);
    Ok(())
}

/// The oracles of a sabotaged problem still count calls like the engine's (sanity of the wrapper).
#[test]
fn sabotage_wrappers_delegate_everything_else() -> Result<()> {
    let c = Counterexample::with_params([0.5, 1.5], [0.0, 10.0], 10.0, 4, 0.1)?;
    let o = Counted::new(FlipHvpSign(Autodiff::new(c.clone())?));
    let e = StoredExact.estimate(&o, &c.theta(1.0)?, &0, &mut rng(0))?;
    assert_eq!((e.calls.grad, e.calls.hvp), (5, 4));
    assert_eq!(o.step_sizes().len(), 4);
    Ok(())
}
