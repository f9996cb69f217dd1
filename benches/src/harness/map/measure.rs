//! One setting of the map measured: its n estimates from its own seed, and their bias²,
//! variance (with batch-means intervals), projected-error interval and costs (see the module
//! above for the definitions).

use super::{t_interval, MapConfig, MapPoint};
use anyhow::Result;
use hypergrad::{Counted, EstimatorSpec, Oracles, ParamList};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// Measures one setting on `problem`: `n` estimates at (θ, T) against the exact gradient
/// `exact`.
#[allow(clippy::too_many_arguments)]
pub fn measure<O: Oracles + 'static>(
    problem: &str,
    o: &Counted<O>,
    theta: &ParamList,
    task: &O::Task,
    exact: &[f64],
    spec: &EstimatorSpec,
    cfg: &MapConfig,
    u: &[f64],
) -> Result<MapPoint> {
    let n = if spec.is_randomised() {
        cfg.samples
    } else {
        cfg.repeats
    }
    .max(2);
    let seed = setting_seed(cfg.seed, problem, spec);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let d = exact.len();
    let (mut sum, mut grads) = (vec![0.0; d], Vec::with_capacity(n));
    let (mut grad_calls, mut hvp_calls, mut secs, mut peak) = (0u64, 0u64, 0.0, 0usize);
    for _ in 0..n {
        // A fresh estimator per estimate: no state (warm starts, adaptive q) carries over.
        let mut est = spec.build::<O>()?;
        let t0 = Instant::now();
        let e = est.estimate(o, theta, task, &mut rng)?;
        secs += t0.elapsed().as_secs_f64();
        grad_calls += e.calls.grad;
        hvp_calls += e.calls.hvp;
        peak = peak.max(e.peak_state_bytes);
        let g = e.grad.to_vec()?;
        if g.len() != d || g.iter().any(|x| !x.is_finite()) {
            anyhow::bail!("{}: a non-finite or mis-sized estimate", spec.label());
        }
        sum.iter_mut().zip(&g).for_each(|(s, x)| *s += x);
        grads.push(g);
    }
    let nf = n as f64;
    let (bias2, variance) = bias2_and_variance(&grads, exact);
    let (bias2_ci95, variance_ci95) = batch_intervals(&grads, exact, (bias2, variance));
    let proj: Vec<f64> = grads
        .iter()
        .map(|g| {
            g.iter()
                .zip(exact)
                .zip(u)
                .map(|((x, e), u)| (x - e) * u)
                .sum()
        })
        .collect();
    let interval = t_interval(&proj, 0.99);
    let norm2: f64 = exact.iter().map(|x| x * x).sum();
    let tol = 1e-9 * norm2.sqrt();
    Ok(MapPoint {
        label: spec.label(),
        family: family(spec),
        spec: spec.clone(),
        n,
        seed,
        bias2,
        bias2_ci95,
        variance,
        variance_ci95,
        rel_bias2: bias2 / norm2,
        rel_variance: variance / norm2,
        projected_interval: interval,
        consistent_with_unbiased: interval[0] - tol <= 0.0 && 0.0 <= interval[1] + tol,
        grad_calls: grad_calls as f64 / nf,
        hvp_calls: hvp_calls as f64 / nf,
        ms_per_estimate: 1e3 * secs / nf,
        peak_state_bytes: peak,
    })
}

/// The seed of `spec`'s draws on `problem` in a map seeded `seed`: FNV-1a of the seed, the
/// problem's name and the spec's JSON (no two points share a ξ sequence).
pub fn setting_seed(seed: u64, problem: &str, spec: &EstimatorSpec) -> u64 {
    let text = format!(
        "{seed}|{problem}|{}",
        serde_json::to_string(spec).unwrap_or_default()
    );
    u64::from_str_radix(&crate::harness::methods::short_hash(&text), 16).unwrap_or(seed)
}

/// (bias², variance) of estimates `grads` against `exact`: ‖ḡ − G‖² − tr(S)/n and tr(S).
fn bias2_and_variance(grads: &[Vec<f64>], exact: &[f64]) -> (f64, f64) {
    let nf = grads.len() as f64;
    let mut mean = vec![0.0; exact.len()];
    for g in grads {
        mean.iter_mut().zip(g).for_each(|(m, x)| *m += x / nf);
    }
    let variance = grads
        .iter()
        .map(|g| {
            g.iter()
                .zip(&mean)
                .map(|(x, m)| (x - m).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / (nf - 1.0);
    let raw_bias2: f64 = mean.iter().zip(exact).map(|(m, e)| (m - e).powi(2)).sum();
    (raw_bias2 - variance / nf, variance)
}

/// 95 % intervals of (bias², variance) around `point` by batch means: K = min(20, n/2) batches
/// of consecutive estimates, each's unbiased (bias², variance), half-width t_{K−1}·sd/√K.
/// `None` below 4 estimates (fewer than 2 batches of 2).
fn batch_intervals(
    grads: &[Vec<f64>],
    exact: &[f64],
    point: (f64, f64),
) -> (Option<[f64; 2]>, Option<[f64; 2]>) {
    let k = (grads.len() / 2).min(20);
    if k < 2 {
        return (None, None);
    }
    let size = grads.len() / k;
    let (b, v): (Vec<f64>, Vec<f64>) = (0..k)
        .map(|i| bias2_and_variance(&grads[i * size..(i + 1) * size], exact))
        .unzip();
    let around = |x: f64, batches: &[f64]| {
        let [lo, hi] = t_interval(batches, 0.95);
        let half = 0.5 * (hi - lo);
        half.is_finite().then_some([x - half, x + half])
    };
    (around(point.0, &b), around(point.1, &v))
}

/// The setting's family: its serde kind, with the three exact variants as `exact`.
fn family(spec: &EstimatorSpec) -> String {
    let kind = spec.kind();
    match kind.as_str() {
        "stored_exact" | "recompute_exact" | "checkpointed" => "exact".into(),
        _ => kind,
    }
}
