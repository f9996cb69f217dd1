//! The analytic MLP oracles (`MlpAnalytic`) agree with `Autodiff<MlpHypercleaning>` in f64:
//! gradients, outer gradients and HVPs at perturbed φ (relu units flipped), with and without
//! `fold_last_step` and task masks; the tolerance is shown to fail on a wrong HVP; and a
//! StoredExact hypergradient matches, call for call.

use candle_core::{DType, Device, Tensor};
use hypergrad::estimators::StoredExact;
use hypergrad::problems::{MlpAnalytic, MlpConfig, MlpData, MlpHypercleaning, MlpTask};
use hypergrad::{Autodiff, Counted, Estimator, Oracles, ParamList, Result, TaskDistribution};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

const TOL: f64 = 1e-9;

fn problem(seed: u64, fold: bool, task_batch: Option<usize>) -> Result<MlpHypercleaning> {
    let (data, _) = MlpData::synthetic(30, 12, 6, 4, 0.3, seed, DType::F64, &Device::Cpu)?;
    let cfg = MlpConfig {
        hidden: 9,
        steps: 3,
        alpha: 0.7,
        fold_last_step: fold,
        init_seed: seed + 100,
        task_batch,
    };
    MlpHypercleaning::new(data, cfg)
}

/// `p` plus `scale` × seeded standard normal noise.
fn noisy(p: &ParamList, scale: f64, rng: &mut ChaCha8Rng) -> Result<ParamList> {
    let mut out = Vec::new();
    for t in p.tensors() {
        let noise: Vec<f64> = (0..t.elem_count())
            .map(|_| scale * Distribution::<f64>::sample(&StandardNormal, &mut *rng))
            .collect::<Vec<f64>>();
        out.push((t + Tensor::from_vec(noise, t.dims(), t.device())?)?);
    }
    ParamList::new(out)
}

/// ‖a − b‖ / max(‖b‖, 1e-300) over the whole list.
fn rel(a: &ParamList, b: &ParamList) -> Result<f64> {
    Ok(a.sub(b)?.sq_norm()?.sqrt() / b.sq_norm()?.sqrt().max(1e-300))
}

/// Signs of the hidden pre-activations H = X W1 + b1 (1 where H ≥ 0).
fn relu_pattern(p: &MlpHypercleaning, phi: &ParamList) -> Result<Vec<f64>> {
    let [w1, b1, ..] = phi.tensors() else {
        unreachable!()
    };
    let h = p.data().train_x.matmul(w1)?.broadcast_add(b1)?;
    Ok(h.ge(0.0)?
        .to_dtype(DType::F64)?
        .flatten_all()?
        .to_vec1::<f64>()?)
}

/// A random point (θ, φ, v) and task; φ is φ0 perturbed so that some relu units flip.
struct Point {
    theta: ParamList,
    phi: ParamList,
    v: ParamList,
    task: MlpTask,
}

fn point(p: &MlpHypercleaning, seed: u64) -> Result<Point> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    let theta = noisy(&p.theta_zero()?, 1.5, &mut rng)?;
    let phi = noisy(p.phi0(), 0.4, &mut rng)?;
    let v = noisy(&p.phi0().zeros_like()?, 1.0, &mut rng)?;
    let task = p.sample_task(&mut rng)?;
    let (before, after) = (relu_pattern(p, p.phi0())?, relu_pattern(p, &phi)?);
    let flipped = before.iter().zip(&after).filter(|(a, b)| a != b).count();
    let active = after.iter().sum::<f64>() as usize;
    assert!(flipped > 0, "seed {seed}: no relu unit flipped");
    assert!(
        0 < active && active < after.len(),
        "seed {seed}: relu all on/off"
    );
    Ok(Point {
        theta,
        phi,
        v,
        task,
    })
}

/// Every oracle of `a` against `b` at `x`: (name, relative error) pairs.
fn compare<A, B>(a: &A, b: &B, x: &Point) -> Result<Vec<(&'static str, f64)>>
where
    A: Oracles<Task = MlpTask>,
    B: Oracles<Task = MlpTask>,
{
    let (t, f, task, v) = (&x.theta, &x.phi, &x.task, &x.v);
    let (ao, bo) = (a.outer_grads(t, f, task)?, b.outer_grads(t, f, task)?);
    let (ah, bh) = (a.inner_hvp(t, f, task, v)?, b.inner_hvp(t, f, task, v)?);
    Ok(vec![
        (
            "inner_grad",
            rel(&a.inner_grad(t, f, task)?, &b.inner_grad(t, f, task)?)?,
        ),
        ("outer_grads.theta", rel(&ao.0, &bo.0)?),
        ("outer_grads.phi", rel(&ao.1, &bo.1)?),
        ("inner_hvp.theta", rel(&ah.0, &bh.0)?),
        ("inner_hvp.phi", rel(&ah.1, &bh.1)?),
        ("start", rel(&a.start(t, task)?, &b.start(t, task)?)?),
    ])
}

#[test]
fn analytic_oracles_match_autodiff() -> Result<()> {
    let mut worst = 0.0f64;
    for seed in 0..4 {
        for fold in [false, true] {
            for batch in [None, Some(11)] {
                let p = problem(seed, fold, batch)?;
                let x = point(&p, seed)?;
                let (analytic, autodiff) = (MlpAnalytic::new(p.clone())?, Autodiff::new(p)?);
                assert_eq!(analytic.step_sizes(), autodiff.step_sizes());
                let zero = analytic.start_vjp(&x.theta, &x.task, &x.v)?;
                assert_eq!(zero.to_vec()?, x.theta.zeros_like()?.to_vec()?);
                for (what, err) in compare(&analytic, &autodiff, &x)? {
                    worst = worst.max(err);
                    assert!(
                        err <= TOL,
                        "seed {seed} fold {fold} batch {batch:?}: {what} rel err {err:e}"
                    );
                }
                // Without folding ∂L_out/∂θ is exactly zero; with it, it is not.
                let (g_theta, _) = analytic.outer_grads(&x.theta, &x.phi, &x.task)?;
                assert_eq!(g_theta.sq_norm()? > 0.0, fold);
            }
        }
    }
    eprintln!("worst relative error {worst:e}");
    Ok(())
}

/// Oracles whose HVP is wrong by 1 % (v scaled by 1.01): the comparison must catch it.
struct WrongHvp(MlpAnalytic);

impl Oracles for WrongHvp {
    type Task = MlpTask;
    fn step_sizes(&self) -> &[f64] {
        self.0.step_sizes()
    }
    fn start(&self, t: &ParamList, task: &MlpTask) -> Result<ParamList> {
        self.0.start(t, task)
    }
    fn start_vjp(&self, t: &ParamList, task: &MlpTask, v: &ParamList) -> Result<ParamList> {
        self.0.start_vjp(t, task, v)
    }
    fn inner_grad(&self, t: &ParamList, f: &ParamList, task: &MlpTask) -> Result<ParamList> {
        self.0.inner_grad(t, f, task)
    }
    fn outer_grads(
        &self,
        t: &ParamList,
        f: &ParamList,
        task: &MlpTask,
    ) -> Result<(ParamList, ParamList)> {
        self.0.outer_grads(t, f, task)
    }
    fn inner_hvp(
        &self,
        t: &ParamList,
        f: &ParamList,
        task: &MlpTask,
        v: &ParamList,
    ) -> Result<(ParamList, ParamList)> {
        self.0.inner_hvp(t, f, task, &v.scale(1.01)?)
    }
}

#[test]
fn tolerance_catches_a_wrong_hvp() -> Result<()> {
    let p = problem(3, true, Some(11))?;
    let x = point(&p, 3)?;
    let errs = compare(
        &WrongHvp(MlpAnalytic::new(p.clone())?),
        &Autodiff::new(p)?,
        &x,
    )?;
    for (what, err) in errs {
        match what {
            "inner_hvp.theta" | "inner_hvp.phi" => {
                assert!(err > 1e3 * TOL, "{what}: wrong HVP passed, rel err {err:e}")
            }
            _ => assert!(err <= TOL, "{what}: rel err {err:e}"),
        }
    }
    Ok(())
}

#[test]
fn analytic_rejects_malformed_inputs() -> Result<()> {
    let p = problem(0, true, None)?;
    let x = point(&p, 0)?;
    let a = MlpAnalytic::new(p)?;
    let short = ParamList::new(x.phi.tensors()[..3].to_vec())?;
    assert!(a.inner_grad(&x.theta, &short, &x.task).is_err());
    assert!(a.outer_grads(&x.theta, &short, &x.task).is_err());
    assert!(a.inner_hvp(&x.theta, &x.phi, &x.task, &short).is_err());
    assert!(a.inner_grad(&x.phi, &x.phi, &x.task).is_err());
    Ok(())
}

#[test]
fn stored_exact_through_both_oracles_agrees() -> Result<()> {
    for (seed, fold, batch) in [(1, true, None), (2, true, Some(11)), (5, false, Some(7))] {
        let p = problem(seed, fold, batch)?;
        let x = point(&p, seed)?;
        let analytic = Counted::new(MlpAnalytic::new(p.clone())?);
        let autodiff = Counted::new(Autodiff::new(p)?);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let a = StoredExact.estimate(&analytic, &x.theta, &x.task, &mut rng)?;
        let b = StoredExact.estimate(&autodiff, &x.theta, &x.task, &mut rng)?;
        let err = rel(&a.grad, &b.grad)?;
        assert!(err <= TOL, "seed {seed} fold {fold}: rel err {err:e}");
        assert_eq!(a.calls, b.calls);
        assert_eq!(analytic.calls(), autodiff.calls());
        assert!(a.grad.sq_norm()? > 0.0, "seed {seed}: zero hypergradient");
    }
    Ok(())
}
