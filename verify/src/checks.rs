//! The test procedures themselves, shared by the CI tests and the calibration runs so that the
//! calibrated procedure is exactly the one CI runs.
//!
//! ## Why projections (test 1)
//! For a fixed (θ, T), G_UFO = G_FO + (ξ/q)(G_exact − G_FO) takes only two values, so its sample
//! covariance has rank one and Hotelling's T² on the full vector is singular. All information
//! about E[G_UFO] lies on the line G_FO + c·Δ, Δ = G_exact − G_FO: for every direction u with
//! ⟨u, Δ⟩ ≠ 0, ⟨u, G_UFO − G_exact⟩ = (ξ/q − 1)⟨u, Δ⟩, so a t-test of one projection is the
//! whole test (every coordinate's t-statistic is the same up to sign, and Holm across them
//! would only divide α by dim θ). [`unbiased_fixed_task`] therefore projects onto one fixed
//! random unit direction and runs a two-sided one-sample t-test (= Hotelling's T² with k = 1).
//!
//! With random tasks the differences D_i = G_UFO(θ, T_i, ξ_i) − G_exact(θ, T_i) (paired on the
//! same task draw) span many directions; [`unbiased_random_tasks`] runs Hotelling's T² of
//! H0: E[D] = 0 on k = 3 fixed random projections, k ≪ N, where the covariance is well
//! conditioned. E[D] = 0 is exactly E_{T,ξ}[G_UFO] = E_T[G_exact] = ∇M^(r)(θ) (eq. 4, 13).

use crate::stats::{hotelling, project, t_test, Hotelling, TTest};

/// Significance level of every hypothesis test in the suite.
pub const ALPHA: f64 = 0.01;

/// t-test of H0: E⟨u, G⟩ = ⟨u, G_exact⟩ for draws `samples` at a fixed (θ, T).
pub fn unbiased_fixed_task(samples: &[Vec<f64>], g_exact: &[f64], u: &[f64]) -> TTest {
    let xs: Vec<f64> = samples
        .iter()
        .map(|g| project(&[u.to_vec()], g)[0])
        .collect();
    t_test(&xs, project(&[u.to_vec()], g_exact)[0])
}

/// Hotelling's T² of H0: E[D] = 0 on the projections of the paired differences onto `dirs`.
/// A singular projected covariance (it should not happen for k ≪ N) counts as p = 0 when the
/// mean is not zero, p = 1 when it is.
pub fn unbiased_random_tasks(diffs: &[Vec<f64>], dirs: &[Vec<f64>]) -> Hotelling {
    let proj: Vec<Vec<f64>> = diffs.iter().map(|d| project(dirs, d)).collect();
    let k = dirs.len();
    hotelling(&proj, &vec![0.0; k]).unwrap_or_else(|| {
        let mean_zero = (0..k).all(|j| proj.iter().all(|p| p[j].abs() < 1e-12));
        Hotelling {
            t2: f64::NAN,
            f: f64::NAN,
            k,
            p_value: if mean_zero { 1.0 } else { 0.0 },
        }
    })
}
