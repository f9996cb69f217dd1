//! The suite's one statistics module: sample moments, the one-sample t-test and t-intervals,
//! and seeded random unit directions. Used by `verify` (statistical verification) and by the
//! benchmark harness (claims, report statistics, the estimator map). Pure: no I/O, no global
//! state; distributions come from `statrs`, everything is f64.
//!
//! The arithmetic is part of the reports' contract: the harness writes these numbers (means,
//! standard deviations, p-values, intervals) into its JSON reports, so each function keeps its
//! exact summation order, denominators and quantile source. Change one only on purpose — it
//! changes published numbers in the last bits.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Sample mean Σx / n, summed in order (NaN for an empty sample).
pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Unbiased sample variance Σ(x − x̄)² / (n − 1), summed in order (0 for fewer than two
/// values).
pub fn variance(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return 0.0;
    }
    let m = mean(xs);
    xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64
}

/// Sample standard deviation √[`variance`] (n − 1 denominator; 0 for fewer than two values).
pub fn std_dev(xs: &[f64]) -> f64 {
    variance(xs).sqrt()
}

/// Standard error of the mean, computed as √(s² / n).
pub fn std_err(xs: &[f64]) -> f64 {
    (variance(xs) / xs.len() as f64).sqrt()
}

/// The two-sided `level` (e.g. 0.99) t-interval of the mean: x̄ ± t_{n−1}(½ + level/2)·√(s²/n).
/// A point `[x̄, x̄]` when s² = 0 or n < 2 (NaN for an empty sample).
///
/// This is the estimator map's interval; [`t_test`]'s `ci` is the claims' one, which takes the
/// standard error as s/√n and the quantile at 1 − α/2 — equal up to the last bits, each kept
/// as its report was made.
pub fn t_interval(xs: &[f64], level: f64) -> [f64; 2] {
    let n = xs.len() as f64;
    let mean = mean(xs);
    let var = variance(xs);
    if var == 0.0 || n < 2.0 {
        return [mean, mean];
    }
    let t = StudentsT::new(0.0, 1.0, n - 1.0)
        .map(|d| d.inverse_cdf(0.5 + level / 2.0))
        .unwrap_or(f64::INFINITY);
    let half = t * (var / n).sqrt();
    [mean - half, mean + half]
}

/// A two-sided one-sample t-test of H0: E[X] = μ0, with the (1 − α) interval of the mean.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TTest {
    /// Sample size n.
    pub n: usize,
    /// Sample mean x̄.
    pub mean: f64,
    /// Sample standard deviation s (n − 1 denominator).
    pub sd: f64,
    /// Degrees of freedom n − 1.
    pub df: f64,
    /// t = (x̄ − μ0) / (s/√n); for s = 0, 0 at μ0 and ±∞ away from it.
    pub t: f64,
    /// Two-sided p-value 2·(1 − F_t(|t|)); for s = 0, 1 at μ0 and 0 away from it.
    pub p_value: f64,
    /// The (1 − α) t-interval of the mean, x̄ ± t_{n−1}(1 − α/2)·s/√n (a point for s = 0).
    pub ci: [f64; 2],
    /// Cohen's d_z = (x̄ − μ0) / s (None when s = 0).
    pub dz: Option<f64>,
}

impl TTest {
    /// The test of a sample without spread: a deterministic effect. `equal` says whether its
    /// mean counts as μ0 (t = 0, p = 1) or not (t = ±∞ towards the mean, p = 0); the interval
    /// is the point x̄, and there is no effect size.
    pub fn deterministic(n: usize, mean: f64, sd: f64, mu0: f64, equal: bool) -> Self {
        TTest {
            n,
            mean,
            sd,
            df: n as f64 - 1.0,
            t: if equal {
                0.0
            } else {
                f64::INFINITY.copysign(mean - mu0)
            },
            p_value: if equal { 1.0 } else { 0.0 },
            ci: [mean, mean],
            dz: None,
        }
    }
}

/// The two-sided one-sample t-test of `xs` against `mu0`, with its (1 − `alpha`) interval.
/// `None` below two values or when a value is not finite. Identical values (s = 0) are a
/// deterministic effect: p = 0 unless the mean equals μ0 exactly (then p = 1).
pub fn t_test(xs: &[f64], mu0: f64, alpha: f64) -> Option<TTest> {
    let n = xs.len();
    if n < 2 || xs.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let mean = mean(xs);
    let sd = std_dev(xs);
    let df = (n - 1) as f64;
    if sd == 0.0 {
        return Some(TTest::deterministic(n, mean, sd, mu0, mean == mu0));
    }
    let se = sd / (n as f64).sqrt();
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    let t = (mean - mu0) / se;
    let p_value = 2.0 * (1.0 - dist.cdf(t.abs()));
    let q = dist.inverse_cdf(1.0 - alpha / 2.0);
    Some(TTest {
        n,
        mean,
        sd,
        df,
        t,
        p_value,
        ci: [mean - q * se, mean + q * se],
        dz: Some((mean - mu0) / sd),
    })
}

/// One N(0, 1) draw with `rand_distr::StandardNormal` (the harness's projection directions).
pub fn standard_normal<R: rand::Rng + ?Sized>(rng: &mut R) -> f64 {
    rand_distr::Distribution::sample(&rand_distr::StandardNormal, rng)
}

/// `k` unit vectors in Rᵈ from one `ChaCha8Rng::seed_from_u64(seed)`: each is d draws of
/// `normal`, in order, divided by their Euclidean norm. The harness draws with
/// [`standard_normal`] ([`unit_direction`]); `verify` with its own Box–Muller draw, so that
/// each keeps the directions its results were made with.
pub fn random_directions(
    k: usize,
    d: usize,
    seed: u64,
    mut normal: impl FnMut(&mut ChaCha8Rng) -> f64,
) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..k)
        .map(|_| {
            let v: Vec<f64> = (0..d).map(|_| normal(&mut rng)).collect();
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            v.into_iter().map(|x| x / norm).collect()
        })
        .collect()
}

/// One unit vector of length `d` from `seed` with [`standard_normal`] draws: the first of
/// [`random_directions`].
pub fn unit_direction(d: usize, seed: u64) -> Vec<f64> {
    random_directions(1, d, seed, standard_normal).swap_remove(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_known_values() {
        let xs = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(mean(&xs), 3.0);
        assert_eq!(variance(&xs), 2.5);
        assert_eq!(std_dev(&xs), 2.5f64.sqrt());
        assert_eq!(std_err(&xs), 0.5f64.sqrt());
        assert_eq!(variance(&[7.0]), 0.0);
        assert_eq!(std_dev(&[7.0]), 0.0);
        assert!(mean(&[]).is_nan());
    }

    #[test]
    fn t_test_known_values() {
        // x = 1..5, μ0 = 2: x̄ = 3, s = √2.5, t = 1/√0.5 = 1.4142, df 4, p ≈ 0.2302.
        let r = t_test(&[1.0, 2.0, 3.0, 4.0, 5.0], 2.0, 0.05).unwrap();
        assert!((r.t - 2f64.sqrt()).abs() < 1e-12);
        assert!((r.p_value - 0.2302).abs() < 1e-3, "{r:?}");
        assert_eq!(r.df, 4.0);
        // 95 %: 3 ± 2.776 · √0.5.
        assert!(
            (r.ci[0] - (3.0 - 2.776445 * 0.5f64.sqrt())).abs() < 1e-5,
            "{r:?}"
        );
        assert_eq!(r.dz, Some(1.0 / 2.5f64.sqrt()));
    }

    #[test]
    fn t_test_edge_cases() {
        assert_eq!(t_test(&[1.0], 0.0, 0.05), None);
        assert_eq!(t_test(&[1.0, f64::NAN], 0.0, 0.05), None);
        assert_eq!(t_test(&[1.0, f64::INFINITY], 0.0, 0.05), None);
        let at = t_test(&[2.0; 5], 2.0, 0.05).unwrap();
        assert_eq!(
            (at.p_value, at.t, at.ci, at.dz),
            (1.0, 0.0, [2.0, 2.0], None)
        );
        let away = t_test(&[2.5; 5], 2.0, 0.05).unwrap();
        assert_eq!((away.p_value, away.t), (0.0, f64::INFINITY));
        assert_eq!(t_test(&[-1.0; 3], 0.0, 0.05).unwrap().t, f64::NEG_INFINITY);
    }

    /// Bit patterns the harness's reports were made with (claims' t-test, the map's interval and
    /// projection direction), from the harness's own code before the module was shared.
    #[test]
    fn report_numbers_are_pinned() {
        let d = [0.31, -0.12, 0.57, 0.44, 0.09, 0.26];
        let r = t_test(&d, 0.0, 0.05).unwrap();
        let bits = [
            r.mean,
            r.p_value,
            r.ci[0],
            t_interval(&d, 0.99)[1],
            unit_direction(4, 7)[0],
        ]
        .map(f64::to_bits);
        assert_eq!(
            bits,
            [
                0x3fd0_8888_8888_8889,
                0x3fa9_c576_f705_f5c0,
                0xbf42_22b9_da9c_a600,
                0x3fe5_42e5_3342_4cca,
                0xbfda_c545_6227_196b,
            ]
        );
    }

    #[test]
    fn t_interval_edges_and_coverage_of_the_t_test() {
        assert_eq!(t_interval(&[4.0], 0.99), [4.0, 4.0]);
        assert_eq!(t_interval(&[4.0; 3], 0.99), [4.0, 4.0]);
        let xs = [1.0, 2.0, 3.5, 4.0, 5.5, 0.3];
        let [lo, hi] = t_interval(&xs, 0.95);
        let ci = t_test(&xs, 0.0, 0.05).unwrap().ci;
        assert!((lo - ci[0]).abs() < 1e-12 && (hi - ci[1]).abs() < 1e-12);
    }

    #[test]
    fn directions_are_unit_seeded_and_share_one_stream() {
        let dirs = random_directions(3, 5, 11, standard_normal);
        for u in &dirs {
            assert!((u.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-12);
        }
        assert_eq!(dirs, random_directions(3, 5, 11, standard_normal));
        assert_eq!(unit_direction(5, 11), dirs[0]);
        assert_ne!(dirs[0], dirs[1]);
    }
}
