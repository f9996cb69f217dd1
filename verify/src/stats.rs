//! Statistical helpers of the suite. The shared ones — sample moments, the one-sample t-test
//! and t-interval, seeded random directions — live in [`hypergrad::stats`] (the harness uses
//! the same code) and are re-exported here; this module adds verify's own tools on top: the
//! degenerate-sample conventions below, the one-sided t-test, Hotelling's T² on a
//! low-dimensional projection, Holm's step-down correction and the Clopper–Pearson binomial
//! interval. Distributions come from `statrs`; everything is f64.
//!
//! Degenerate samples (zero variance) are common here — FOM is deterministic for a fixed
//! (θ, T) — so every test defines its answer for them instead of returning NaN: a constant
//! sample equal to the hypothesised value (within `1e-9` relative) gives p = 1, any other
//! constant sample p = 0.

pub use hypergrad::stats::{mean, std_dev, std_err, t_interval, variance, TTest};
use statrs::distribution::{Beta, ContinuousCDF, FisherSnedecor, StudentsT};

/// Relative tolerance under which a zero-variance sample counts as equal to its target.
pub const DEGENERATE_TOL: f64 = 1e-9;

/// Whether every value equals the first (a zero-variance sample; rounding in the mean would
/// otherwise give a tiny non-zero standard error and an absurd t).
pub fn is_constant(xs: &[f64]) -> bool {
    xs.iter().all(|&x| x == xs[0])
}

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= DEGENERATE_TOL * a.abs().max(b.abs()).max(1.0)
}

/// Two-sided one-sample t-test of H0: E[X] = μ0: [`hypergrad::stats::t_test`] (its `ci` at
/// 95 %, p capped at 1), except that a constant sample or one of fewer than two values is
/// judged with [`DEGENERATE_TOL`] (p = 1, t = 0 at μ0; p = 0, t = ±∞ away from it) and a
/// sample with a non-finite value gives t = p = NaN (it fails every test).
pub fn t_test(xs: &[f64], mu0: f64) -> TTest {
    let df = xs.len() as f64 - 1.0;
    if is_constant(xs) || df < 1.0 {
        let m = mean(xs);
        return TTest::deterministic(xs.len(), m, std_dev(xs), mu0, same(m, mu0));
    }
    match hypergrad::stats::t_test(xs, mu0, 0.05) {
        Some(r) => TTest {
            p_value: r.p_value.min(1.0),
            ..r
        },
        None => TTest {
            n: xs.len(),
            mean: mean(xs),
            sd: std_dev(xs),
            df,
            t: f64::NAN,
            p_value: f64::NAN,
            ci: [f64::NAN; 2],
            dz: None,
        },
    }
}

/// One-sided t-test of H0: E[X] ≤ μ0 against E[X] > μ0 (p = P(T ≥ t)).
pub fn t_test_greater(xs: &[f64], mu0: f64) -> TTest {
    let two = t_test(xs, mu0);
    if two.t.is_infinite() || is_constant(xs) {
        let p = if two.t == f64::INFINITY { 0.0 } else { 1.0 };
        return TTest { p_value: p, ..two };
    }
    if two.t.is_nan() {
        return two;
    }
    let dist = StudentsT::new(0.0, 1.0, two.df).expect("df >= 1");
    TTest {
        p_value: dist.sf(two.t),
        ..two
    }
}

/// Two-sided (1 − α) t confidence interval for the mean ([`t_interval`] at level 1 − α; a
/// point for a constant sample or fewer than two values).
pub fn mean_interval(xs: &[f64], alpha: f64) -> [f64; 2] {
    if is_constant(xs) || xs.len() < 2 {
        let m = mean(xs);
        return [m, m];
    }
    t_interval(xs, 1.0 - alpha)
}

/// Whether `x` lies in `[lo, hi]`, widened by the degenerate tolerance (for point intervals).
pub fn interval_contains(interval: [f64; 2], x: f64) -> bool {
    let slack = DEGENERATE_TOL * x.abs().max(1.0);
    interval[0] - slack <= x && x <= interval[1] + slack
}

/// Holm's step-down adjusted p-values: p̃_(i) = max_{j ≤ i} min(1, (m − j + 1) p_(j)),
/// in the input order. Rejecting where p̃ ≤ α controls the family-wise error at α.
pub fn holm_adjust(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// Holm's procedure at level α: which hypotheses are rejected.
pub fn holm_reject(p: &[f64], alpha: f64) -> Vec<bool> {
    holm_adjust(p).into_iter().map(|q| q <= alpha).collect()
}

/// Result of Hotelling's one-sample T² test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hotelling {
    /// T² = n (x̄ − μ0)ᵀ S⁻¹ (x̄ − μ0).
    pub t2: f64,
    /// F = (n − k) / (k (n − 1)) · T² ~ F(k, n − k) under H0 (Gaussian data).
    pub f: f64,
    /// Dimension k.
    pub k: usize,
    /// p-value P(F(k, n − k) ≥ f).
    pub p_value: f64,
}

/// Hotelling's T² test of H0: E[X] = μ0 for n samples of dimension k (k < n). Meant for a
/// low-dimensional projection: errors (`None`) when the sample covariance is singular
/// (relative pivot below 1e-12), which is what happens on raw UFOM samples for a fixed (θ, T).
pub fn hotelling(samples: &[Vec<f64>], mu0: &[f64]) -> Option<Hotelling> {
    let (n, k) = (samples.len(), mu0.len());
    if k == 0 || n <= k || samples.iter().any(|s| s.len() != k) {
        return None;
    }
    let means: Vec<f64> = (0..k)
        .map(|j| samples.iter().map(|s| s[j]).sum::<f64>() / n as f64)
        .collect();
    let mut cov = vec![vec![0.0; k]; k];
    for s in samples {
        for a in 0..k {
            for b in 0..k {
                cov[a][b] += (s[a] - means[a]) * (s[b] - means[b]) / (n - 1) as f64;
            }
        }
    }
    let diff: Vec<f64> = (0..k).map(|j| means[j] - mu0[j]).collect();
    let sol = solve_spd(cov, diff.clone())?;
    let t2 = n as f64 * diff.iter().zip(&sol).map(|(a, b)| a * b).sum::<f64>();
    let (nf, kf) = (n as f64, k as f64);
    let f = (nf - kf) / (kf * (nf - 1.0)) * t2;
    let p_value = FisherSnedecor::new(kf, nf - kf).expect("valid df").sf(f);
    Some(Hotelling { t2, f, k, p_value })
}

/// Solves S x = b for a symmetric positive (semi)definite S by Cholesky; `None` if singular.
fn solve_spd(mut s: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let k = b.len();
    let scale = (0..k).map(|i| s[i][i].abs()).fold(0.0, f64::max);
    for j in 0..k {
        let d = s[j][j] - (0..j).map(|m| s[j][m] * s[j][m]).sum::<f64>();
        if d.is_nan() || d <= 1e-12 * scale {
            return None;
        }
        s[j][j] = d.sqrt();
        for i in j + 1..k {
            s[i][j] = (s[i][j] - (0..j).map(|m| s[i][m] * s[j][m]).sum::<f64>()) / s[j][j];
        }
    }
    for i in 0..k {
        b[i] = (b[i] - (0..i).map(|m| s[i][m] * b[m]).sum::<f64>()) / s[i][i];
    }
    for i in (0..k).rev() {
        b[i] = (b[i] - (i + 1..k).map(|m| s[m][i] * b[m]).sum::<f64>()) / s[i][i];
    }
    Some(b)
}

/// Exact (Clopper–Pearson) two-sided (1 − α) interval for a binomial proportion.
pub fn clopper_pearson(successes: u64, n: u64, alpha: f64) -> [f64; 2] {
    let (x, n) = (successes as f64, n as f64);
    let lo = if successes == 0 {
        0.0
    } else {
        Beta::new(x, n - x + 1.0)
            .expect("valid shape")
            .inverse_cdf(alpha / 2.0)
    };
    let hi = if successes as f64 >= n {
        1.0
    } else {
        Beta::new(x + 1.0, n - x)
            .expect("valid shape")
            .inverse_cdf(1.0 - alpha / 2.0)
    };
    [lo, hi]
}

/// Projects `v` onto each of `dirs`: ⟨u_j, v⟩.
pub fn project(dirs: &[Vec<f64>], v: &[f64]) -> Vec<f64> {
    dirs.iter()
        .map(|u| u.iter().zip(v).map(|(a, b)| a * b).sum())
        .collect()
}

/// `k` fixed unit directions in Rᵈ from `seed` (the projections of test 1):
/// [`hypergrad::stats::random_directions`] with Box–Muller draws ([`standard_normal`]).
pub fn random_directions(k: usize, d: usize, seed: u64) -> Vec<Vec<f64>> {
    hypergrad::stats::random_directions(k, d, seed, standard_normal)
}

/// One N(0, 1) draw by Box–Muller (verify's test data and projection directions; the
/// harness draws with `rand_distr`, [`hypergrad::stats::standard_normal`]).
pub fn standard_normal(rng: &mut impl rand::Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_test_is_the_shared_one_with_verify_degenerate_conventions() {
        // Known values are tested with `hypergrad::stats`; here: the same numbers, and
        // verify's tolerance for constant samples, which the shared test does not have.
        let xs = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(
            Some(t_test(&xs, 2.0)),
            hypergrad::stats::t_test(&xs, 2.0, 0.05)
        );
        assert_eq!(t_test(&[2.0; 5], 2.0).p_value, 1.0);
        assert_eq!(t_test(&[2.0; 5], 2.0 + 1e-12).p_value, 1.0);
        let away = t_test(&[2.5; 5], 2.0);
        assert_eq!((away.p_value, away.t), (0.0, f64::INFINITY));
        assert_eq!(t_test(&[2.0], 2.0).p_value, 1.0);
        assert!(t_test(&[1.0, f64::NAN, 2.0], 0.0).p_value.is_nan());
        assert!(t_test_greater(&[1.0, f64::NAN, 2.0], 0.0).p_value.is_nan());
        assert_eq!(mean_interval(&[0.1; 3], 0.05), [mean(&[0.1; 3]); 2]);
    }

    #[test]
    fn hotelling_one_dim_is_t_squared_and_singular_is_none() {
        let xs = [1.0, 2.0, 3.5, 4.0, 5.5, 0.3];
        let h = hotelling(&xs.iter().map(|&x| vec![x]).collect::<Vec<_>>(), &[2.0]).unwrap();
        let t = t_test(&xs, 2.0);
        assert!((h.t2 - t.t * t.t).abs() < 1e-9 && (h.p_value - t.p_value).abs() < 1e-9);
        let rank_one: Vec<Vec<f64>> = xs.iter().map(|&x| vec![x, 2.0 * x]).collect();
        assert!(hotelling(&rank_one, &[0.0, 0.0]).is_none());
    }

    #[test]
    fn clopper_pearson_known_value() {
        // 5 of 20 at 95 %: (0.0866, 0.4910).
        let [lo, hi] = clopper_pearson(5, 20, 0.05);
        assert!(
            (lo - 0.0866).abs() < 1e-3 && (hi - 0.4910).abs() < 1e-3,
            "{lo} {hi}"
        );
        assert_eq!(clopper_pearson(0, 10, 0.05)[0], 0.0);
        assert_eq!(clopper_pearson(10, 10, 0.05)[1], 1.0);
    }

    #[test]
    fn holm_known_values() {
        let adj = holm_adjust(&[0.01, 0.04, 0.03]);
        assert_eq!(adj, vec![0.03, 0.06, 0.06]);
        assert_eq!(
            holm_reject(&[0.01, 0.04, 0.03], 0.05),
            vec![true, false, false]
        );
    }
}
