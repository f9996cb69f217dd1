//! Light property tests of the statistical helpers (deterministic proptest, 64 cases each).

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use verify::stats::{clopper_pearson, holm_adjust, hotelling, mean_interval, t_test};

fn runner() -> TestRunner {
    let config = Config {
        cases: 64,
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::ChaCha,
        ..Config::default()
    };
    TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &[11u8; 32]),
    )
}

/// Holm: adjusted ≥ raw, ≤ 1, and ordered like the raw p-values.
#[test]
fn holm_is_monotone_and_dominates_raw() {
    runner()
        .run(&prop::collection::vec(0.0f64..1.0, 1..12), |p| {
            let adj = holm_adjust(&p);
            for i in 0..p.len() {
                prop_assert!(adj[i] >= p[i] && adj[i] <= 1.0);
                for j in 0..p.len() {
                    if p[i] <= p[j] {
                        prop_assert!(adj[i] <= adj[j]);
                    }
                }
            }
            Ok(())
        })
        .unwrap();
}

/// Clopper–Pearson: ordered, within [0, 1], contains the estimate, and narrows around p at large n.
#[test]
fn clopper_pearson_contains_the_estimate() {
    runner()
        .run(&(1u64..5000, 0.0f64..1.0), |(n, f)| {
            let k = ((n as f64) * f).floor() as u64;
            let [lo, hi] = clopper_pearson(k, n, 0.01);
            let p = k as f64 / n as f64;
            prop_assert!(0.0 <= lo && lo <= p && p <= hi && hi <= 1.0);
            if n > 2000 {
                prop_assert!(hi - lo < 0.1);
            }
            Ok(())
        })
        .unwrap();
}

/// t-test p in [0, 1], t-interval contains the mean, and Hotelling with k = 1 is the t-test.
#[test]
fn t_test_and_hotelling_agree() {
    runner()
        .run(
            &(prop::collection::vec(-10.0f64..10.0, 3..40), -5.0f64..5.0),
            |(xs, mu)| {
                let t = t_test(&xs, mu);
                prop_assert!((0.0..=1.0).contains(&t.p_value));
                let [lo, hi] = mean_interval(&xs, 0.05);
                let m = xs.iter().sum::<f64>() / xs.len() as f64;
                prop_assert!(lo <= m + 1e-12 && m <= hi + 1e-12);
                let samples: Vec<Vec<f64>> = xs.iter().map(|&x| vec![x]).collect();
                if let Some(h) = hotelling(&samples, &[mu]) {
                    prop_assert!((h.p_value - t.p_value).abs() < 1e-8, "{h:?} vs {t:?}");
                }
                Ok(())
            },
        )
        .unwrap();
}
