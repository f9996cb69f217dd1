//! Stored exact ≡ recompute exact ≡ unrolled autodiff ≡ central finite differences of M^(r)
//! (f64), and FOM differs where the paper says it must.

mod common;

use common::*;
use hypergrad::check::{finite_difference_gradient, relative_error};
use hypergrad::problems::{MlpConfig, QuadraticConfig};
use hypergrad::{Result, TaskDistribution};

const EXACT_TOL: f64 = 1e-9;

fn assert_exact_agree(g: &[Vec<f64>; 4], fd: &[f64], fd_tol: f64, what: &str) {
    let [_, stored, recompute, unrolled] = g;
    assert!(
        relative_error(recompute, stored, 1e-12) < EXACT_TOL,
        "{what}: recompute {recompute:?} vs stored {stored:?}"
    );
    assert!(
        relative_error(unrolled, stored, 1e-12) < EXACT_TOL,
        "{what}: unrolled {unrolled:?} vs stored {stored:?}"
    );
    assert!(
        relative_error(stored, fd, 1e-8) < fd_tol,
        "{what}: stored {stored:?} vs finite differences {fd:?}"
    );
}

#[test]
fn counterexample_estimators_agree_with_closed_form_and_fd() -> Result<()> {
    let o = counterexample()?;
    let p = o.inner().problem();
    // Points in the quadratic region, the cubic transition and the linear tail of f_i.
    for &x in &[-20.0, -3.0, 0.5, 4.0, 11.0, 24.5, 30.0] {
        let theta = p.theta(x)?;
        let mut avg = [vec![0.0], vec![0.0], vec![0.0], vec![0.0]];
        let mut fd = vec![0.0];
        for (w, task) in p.enumerate_tasks().unwrap_or_default() {
            let g = four_gradients(&o, &theta, &task)?;
            for (a, gi) in avg.iter_mut().zip(&g) {
                a[0] += w * gi[0];
            }
            fd[0] += w * finite_difference_gradient(o.inner(), &theta, &task, 1e-5)?[0];
        }
        assert_exact_agree(&avg, &fd, 1e-6, &format!("theta = {x}"));
        let closed = p.exact_gradient_closed_form(x);
        assert!(
            (avg[1][0] - closed).abs() <= 1e-9 * closed.abs().max(1.0),
            "closed form {closed} vs {:?}",
            avg[1]
        );
    }
    Ok(())
}

#[test]
fn fom_is_biased_on_the_counterexample() -> Result<()> {
    // Theorem 2: FOM's fixed point is not stationary. At θ with averaged FOM gradient 0 the
    // exact gradient is not 0; simply check a point where they differ by more than √D.
    let o = counterexample()?;
    let p = o.inner().problem();
    let theta = p.theta(5.0)?;
    let (mut fom, mut exact) = (0.0, 0.0);
    for (w, task) in p.enumerate_tasks().unwrap_or_default() {
        let g = four_gradients(&o, &theta, &task)?;
        fom += w * g[0][0];
        exact += w * g[1][0];
    }
    assert!(
        (fom - exact).abs() > 0.06f64.sqrt(),
        "FOM {fom} vs exact {exact}"
    );
    Ok(())
}

#[test]
fn quadratic_matches_closed_form_and_fd() -> Result<()> {
    for (seed, start_from_theta, alphas) in [
        (0, true, vec![0.1; 5]),
        (1, false, vec![0.2, 0.05, 0.15]),
        (2, true, vec![0.3]),
        (3, false, vec![0.1; 12]),
    ] {
        let cfg = QuadraticConfig {
            s: 3,
            p: 4,
            alphas,
            lambda: 0.1,
            start_from_theta,
            seed,
        };
        let o = quadratic(cfg)?;
        let p = o.inner().problem();
        let task = p.sample_task(&mut rng(seed + 10))?;
        let theta = p.theta(&[0.3, -1.2, 0.7])?;
        let g = four_gradients(&o, &theta, &task)?;
        let fd = finite_difference_gradient(o.inner(), &theta, &task, 1e-5)?;
        assert_exact_agree(&g, &fd, 1e-7, &format!("quadratic seed {seed}"));
        let closed = p.closed_form_gradient(&[0.3, -1.2, 0.7], &task);
        assert!(
            relative_error(&g[1], &closed, 1e-12) < EXACT_TOL,
            "closed form {closed:?} vs {:?}",
            g[1]
        );
        // FOM drops (I − αA) products: it must differ from the exact gradient.
        assert!(
            relative_error(&g[0], &g[1], 1e-12) > 1e-3,
            "FOM {:?} equals exact {:?}",
            g[0],
            g[1]
        );
    }
    Ok(())
}

#[test]
fn mlp_hypercleaning_estimators_agree_with_fd() -> Result<()> {
    for fold in [true, false] {
        let cfg = MlpConfig {
            hidden: 6,
            steps: 4,
            alpha: 0.5,
            fold_last_step: fold,
            init_seed: 3,
            task_batch: None,
        };
        let o = mlp(cfg)?;
        let p = o.inner().problem();
        let values: Vec<f64> = (0..24).map(|i| ((i * 7) % 11) as f64 / 5.0 - 1.0).collect();
        let theta = p.theta_zero()?.with_values(&values)?;
        let task = Default::default();
        let g = four_gradients(&o, &theta, &task)?;
        let fd = finite_difference_gradient(o.inner(), &theta, &task, 1e-5)?;
        assert_exact_agree(&g, &fd, 1e-6, &format!("mlp fold={fold}"));
        let fom_norm: f64 = g[0].iter().map(|x| x * x).sum();
        if fold {
            // With the folded step FOM is non-zero but still biased.
            assert!(fom_norm > 0.0 && relative_error(&g[0], &g[1], 1e-12) > 1e-3);
        } else {
            // L_out and φ0 do not depend on θ: FOM returns exactly zero (REFERENCE §5).
            assert_eq!(fom_norm, 0.0);
        }
    }
    Ok(())
}
