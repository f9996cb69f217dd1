//! `ufom map` at smoke scale agrees with the verify crate's theory: UFOM's interval contains 0
//! on every problem; the exact estimators have zero bias² and variance; FOM's bias² equals
//! ‖G_FO − G_exact‖² (the counterexample's closed forms, computed here independently); UFOM's
//! variance is (1/q − 1)‖G_exact − G_FO‖² at every q (Lemma 1's identity at a fixed task,
//! tested on 2000 estimates per q within Bonferroni-corrected batch-means intervals; the wrong
//! identity with 1/q² is rejected); every setting draws from its own seed.
//! Negative controls: FOM and truncated K = 1 must be flagged biased (interval ∌ 0) everywhere.

use hypergrad::problems::{Counterexample, CounterexampleConfig};
use hypergrad::EstimatorSpec;
use ufom_bench::harness::map::{problems, render, MapConfig, MapReport};
use ufom_bench::harness::record::Scale;

fn smoke() -> MapReport {
    problems::run(&MapConfig::at(Scale::Smoke), &[], "test".into()).expect("map runs")
}

#[test]
fn the_smoke_map_agrees_with_the_theory() {
    let report = smoke();
    assert_eq!(report.problems.len(), 4);
    let mapped: std::collections::BTreeSet<String> =
        hypergrad::estimators::catalog::runs_in(hypergrad::estimators::Consumer::Map)
            .map(|e| e.kind())
            .collect();
    for p in &report.problems {
        let kinds = p.points.iter().map(|pt| pt.spec.kind()).collect();
        assert_eq!(mapped, kinds, "{}: the map misses a catalog entry", p.name);
    }
    for p in &report.problems {
        for pt in &p.points {
            let ctx = format!("{} / {}", p.name, pt.label);
            match &pt.spec {
                EstimatorSpec::Ufom { q, .. } => {
                    assert!(pt.consistent_with_unbiased, "{ctx}: {pt:?}");
                    assert!(
                        pt.variance_ci95.is_some() && pt.bias2_ci95.is_some(),
                        "{ctx}"
                    );
                    assert!(pt.variance > 0.0, "{ctx}: q = {q}");
                }
                EstimatorSpec::StoredExact
                | EstimatorSpec::RecomputeExact { .. }
                | EstimatorSpec::Checkpointed { .. } => {
                    assert!(pt.rel_variance < 1e-20, "{ctx}");
                    assert!(pt.rel_bias2 < 1e-20, "{ctx}: {}", pt.rel_bias2);
                    assert!(pt.consistent_with_unbiased, "{ctx}");
                }
                EstimatorSpec::Fom | EstimatorSpec::Truncated { k: 1 } => {
                    assert!(pt.rel_variance < 1e-20, "{ctx}");
                    assert!(!pt.consistent_with_unbiased, "{ctx}: bias not detected");
                }
                // Deterministic up to rounding (candle's threaded kernels may sum in another
                // order on a repeat).
                _ => assert!(pt.rel_variance < 1e-20, "{ctx}: deterministic"),
            }
            assert!(pt.grad_calls >= p.r as f64, "{ctx}");
            assert!(pt.peak_state_bytes > 0, "{ctx}");
        }
    }
    // FOM's bias² against the closed forms of the counterexample (θ = 5, task 1).
    let c = Counterexample::from_config(&CounterexampleConfig::default()).expect("problem");
    let (g_fo, g_exact) = c.task_gradients_closed_form(1, 5.0);
    let p = &report.problems[0];
    assert_eq!(p.name, "counterexample");
    let fom = p.points.iter().find(|x| x.label == "fom").expect("fom");
    let want = (g_fo - g_exact).powi(2);
    assert!(
        (fom.bias2 - want).abs() <= 1e-9 * want,
        "{} vs {want}",
        fom.bias2
    );
    assert!((p.exact_sq_norm - g_exact * g_exact).abs() <= 1e-9 * g_exact * g_exact);
}

#[test]
fn the_map_round_trips_and_renders_deterministically() {
    let report = problems::run(
        &MapConfig::at(Scale::Smoke),
        &["counterexample".to_string()],
        "test".into(),
    )
    .expect("map");
    let dir = std::env::temp_dir().join(format!("ufom-map-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let written = render::write(&report, &dir).expect("write");
    assert!(written
        .iter()
        .any(|p| p.ends_with("map_counterexample.svg")));
    let back: MapReport =
        ufom_bench::harness::store::read_json(&dir.join("map.json")).expect("read");
    assert_eq!(back, report);
    let md = std::fs::read(dir.join("map.md")).expect("md");
    render::write_views(&back, &dir).expect("re-render");
    assert_eq!(std::fs::read(dir.join("map.md")).expect("md"), md);
    assert!(problems::run(&MapConfig::at(Scale::Smoke), &["nope".into()], "t".into()).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Lemma 1's identity at a fixed task, E‖G_UFO‖² = ‖G‖² + (1/q − 1)‖G − G_FO‖², i.e. UFOM's
/// variance over ξ is (1/q − 1) times FOM's bias², at every mapped q on the two cheap problems,
/// with 2000 estimates per q: the prediction lies within the batch-means interval widened to a
/// family-wise 99.9 % (Bonferroni over the 6 checks). Negative control: the 1/q² identity lies
/// outside at every q.
#[test]
fn ufom_variance_is_lemma_1_at_every_q() {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let cfg = MapConfig {
        samples: 2000,
        ..MapConfig::at(Scale::Smoke)
    };
    let only = ["counterexample".to_string(), "quadratic".to_string()];
    let report = problems::run(&cfg, &only, "test".into()).expect("map runs");
    let ufom: Vec<_> = report
        .problems
        .iter()
        .flat_map(|p| p.points.iter().map(move |pt| (p, pt)))
        .filter(|(_, pt)| matches!(pt.spec, EstimatorSpec::Ufom { .. }))
        .collect();
    assert_eq!(ufom.len(), 6, "three q on two problems");
    // The stored 95 % half-width is t_{19, 0.975}·se; widen it to t_{19, 1 − 0.001/12}·se.
    let t = StudentsT::new(0.0, 1.0, 19.0).expect("t");
    let widen = t.inverse_cdf(1.0 - 0.001 / 12.0) / t.inverse_cdf(0.975);
    let mut seeds = std::collections::BTreeSet::new();
    for (p, pt) in ufom {
        let EstimatorSpec::Ufom { q, .. } = pt.spec else {
            unreachable!()
        };
        let fom = p.points.iter().find(|x| x.label == "fom").expect("fom");
        let [lo, hi] = pt.variance_ci95.expect("interval");
        let half = widen * 0.5 * (hi - lo);
        let ctx = format!("{} q = {q}: variance {} ± {half}", p.name, pt.variance);
        let lemma = (1.0 / q - 1.0) * fom.bias2;
        assert!(
            (pt.variance - lemma).abs() <= half,
            "{ctx}, Lemma 1 predicts {lemma}"
        );
        let wrong = fom.bias2 / (q * q);
        assert!(
            (pt.variance - wrong).abs() > half,
            "{ctx}: the 1/q² identity not rejected"
        );
        assert!(
            seeds.insert((p.name.clone(), pt.seed)),
            "{ctx}: seed shared"
        );
    }
}
