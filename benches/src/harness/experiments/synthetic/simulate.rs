//! Fig. 1d–f: D² and V² over α, q* from theory against a grid search, and convergence for
//! q = 0, q*, 1. These need 10⁴–10⁸ SGD iterations at paper scale, so they run on the
//! counterexample's closed-form gradients (eq. 40–41; `Counterexample::task_gradients_closed_form`),
//! which the engine's estimators are tested to equal (hypergrad/tests/agreement.rs).

use hypergrad::problems::Counterexample;
use hypergrad::theory::{expected_calls, qstar, CostModel};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The Fig. 1d–f problem at inner step size α: r = 10, a = (0.5, 1.5), b = (0, 10), A = 10.
pub fn fig1def_problem(alpha: f64) -> anyhow::Result<Counterexample> {
    Ok(Counterexample::with_params(
        [0.5, 1.5],
        [0.0, 10.0],
        10.0,
        10,
        alpha,
    )?)
}

/// Inner steps of the Fig. 1d–f problem.
pub const R: usize = 10;

/// (D², V²): maxima over an evenly spaced θ grid on [−50, 50] of E_T(G_FO − G_exact)² and
/// E_T G_exact² (eq. 14, 16), the expectation exact over the two tasks.
pub fn d2_v2(p: &Counterexample, grid: usize) -> (f64, f64) {
    let (mut d2, mut v2) = (0.0f64, 0.0f64);
    for k in 0..grid {
        let theta = -50.0 + 100.0 * k as f64 / (grid.max(2) - 1) as f64;
        let (mut d, mut v) = (0.0, 0.0);
        for i in 0..2 {
            let (fo, ex) = p.task_gradients_closed_form(i, theta);
            d += 0.5 * (fo - ex).powi(2);
            v += 0.5 * ex * ex;
        }
        d2 = d2.max(d);
        v2 = v2.max(v);
    }
    (d2, v2)
}

/// q* of eq. (21) for (D², V²) with C1 = C2 = 1, ε = 0 (1 when eq. 20 fails).
pub fn theory_qstar(d2: f64, v2: f64) -> f64 {
    qstar(d2, v2, R, &CostModel::default()).map_or(1.0, |s| s.q)
}

/// Mean |∂M/∂θ| after each of `iters` UFOM-SGD iterations (γ_k = 10/k, θ0 ~ U[−50, 50]) over
/// `runs` runs, and its standard error. q = 0 is FOM.
pub fn mean_abs_grad_curve(
    p: &Counterexample,
    q: f64,
    runs: usize,
    iters: usize,
    seed: u64,
) -> (Vec<f64>, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut sum, mut sum_sq) = (vec![0.0; iters + 1], vec![0.0; iters + 1]);
    for _ in 0..runs {
        let mut theta: f64 = rng.random_range(-50.0..50.0);
        for k in 0..=iters {
            let g = p.exact_gradient_closed_form(theta).abs();
            sum[k] += g;
            sum_sq[k] += g * g;
            if k == iters {
                break;
            }
            let task = usize::from(rng.random_bool(0.5));
            let (fo, ex) = p.task_gradients_closed_form(task, theta);
            let xi = q > 0.0 && rng.random_bool(q);
            let est = if xi { fo + (ex - fo) / q } else { fo };
            theta -= 10.0 / (k + 1) as f64 * est;
        }
    }
    let n = runs.max(1) as f64;
    let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
    let se = sum_sq
        .iter()
        .zip(&mean)
        .map(|(s2, m)| ((s2 / n - m * m).max(0.0) / n).sqrt())
        .collect();
    (mean, se)
}

/// Expected function calls (gradient + HVP) of one UFOM(q) iteration (Proposition 1).
pub fn calls_per_iter(q: f64) -> f64 {
    let c = expected_calls(R, q);
    c.grad + c.hvp
}

/// The grid-search q of Fig. 1e: each q's mean |∂M/∂θ| curve is put on a function-call axis;
/// the target is the lowest value the q = `qs[0]` curve reaches, and the best q reaches it in
/// the fewest expected calls (ties and misses fall back to the lowest final value).
pub fn grid_search_q(p: &Counterexample, qs: &[f64], runs: usize, iters: usize, seed: u64) -> f64 {
    let curves: Vec<Vec<f64>> = qs
        .iter()
        .map(|&q| mean_abs_grad_curve(p, q, runs, iters, seed).0)
        .collect();
    let target = curves[0].iter().copied().fold(f64::INFINITY, f64::min);
    let time_to_target = |i: usize| -> f64 {
        curves[i]
            .iter()
            .position(|&g| g <= target)
            .map_or(f64::INFINITY, |k| k as f64 * calls_per_iter(qs[i]))
    };
    (0..qs.len())
        .min_by(|&a, &b| {
            time_to_target(a)
                .total_cmp(&time_to_target(b))
                .then(curves[a][iters].total_cmp(&curves[b][iters]))
        })
        .map_or(qs[0], |i| qs[i])
}
