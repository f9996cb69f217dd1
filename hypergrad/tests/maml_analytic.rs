//! The analytic MAML oracles (`MamlAnalytic`) agree with `Autodiff<Maml>` in f64 on small conv
//! nets (odd and even input sides, 2 to 4 blocks, 1 to 2 channels, relu units on and off):
//! inner gradients, outer gradients, HVPs, φ0 and its VJP; the tolerance is shown to fail on a
//! wrong HVP; kept HVPs equal fresh ones bitwise; and stored exact, recompute exact and the
//! unrolled reference give the same hypergradient, call for call, through both.

use candle_core::{DType, Device, Tensor};
use hypergrad::estimators::{RecomputeExact, StoredExact, Unrolled};
use hypergrad::problems::{synthetic_source, ConvNet, Maml, MamlAnalytic, MamlTask};
use hypergrad::{Autodiff, Counted, Estimator, Oracles, ParamList, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

const TOL: f64 = 1e-9;

/// (channels, filters, layers, classes, in_hw): odd sides (7, 5: padding on both sides, 1×1
/// maps), even ones (28, 8: padding after only), and the paper's 28 → 14 → 7 → 4 → 2.
const NETS: [(usize, usize, usize, usize, usize); 5] = [
    (1, 3, 2, 3, 7),
    (2, 4, 3, 3, 5),
    (1, 3, 4, 3, 28),
    (2, 3, 2, 4, 8),
    (1, 4, 3, 3, 9),
];

fn net(
    (channels, filters, layers, classes, in_hw): (usize, usize, usize, usize, usize),
) -> ConvNet {
    ConvNet {
        channels,
        filters,
        layers,
        classes,
        in_hw,
    }
}

/// MAML on `net` with r inner steps, synthetic tasks of 2 shots and 2 queries per class (f64).
fn problem(net: &ConvNet, steps: usize) -> Result<Maml> {
    let source = synthetic_source(net.clone(), 2, 2, DType::F64, Device::Cpu);
    Ok(Maml::new(net.clone(), steps, 0.3)?.with_source(source))
}

/// `p` plus `scale` × seeded standard normal noise.
fn noisy(p: &ParamList, scale: f64, rng: &mut ChaCha8Rng) -> Result<ParamList> {
    let mut out = Vec::new();
    for t in p.tensors() {
        let noise: Vec<f64> = (0..t.elem_count())
            .map(|_| scale * Distribution::<f64>::sample(&StandardNormal, &mut *rng))
            .collect();
        out.push((t + Tensor::from_vec(noise, t.dims(), t.device())?)?);
    }
    ParamList::new(out)
}

/// ‖a − b‖ / max(‖b‖, 1e-300) over the whole list.
fn rel(a: &ParamList, b: &ParamList) -> Result<f64> {
    Ok(a.sub(b)?.sq_norm()?.sqrt() / b.sq_norm()?.sqrt().max(1e-300))
}

/// A random point: θ from the initialiser plus noise (γ, β off 1, 0), φ = θ plus noise, a
/// direction v, and a task.
struct Point {
    theta: ParamList,
    phi: ParamList,
    v: ParamList,
    task: MamlTask,
}

fn point(p: &Maml, seed: u64) -> Result<Point> {
    use hypergrad::TaskDistribution;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xc0de);
    let theta = noisy(
        &p.net().init(seed, DType::F64, &Device::Cpu)?,
        0.3,
        &mut rng,
    )?;
    let phi = noisy(&theta, 0.2, &mut rng)?;
    let v = noisy(&theta.zeros_like()?, 1.0, &mut rng)?;
    let task = p.sample_task(&mut rng)?;
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
    A: Oracles<Task = MamlTask>,
    B: Oracles<Task = MamlTask>,
{
    let (t, f, task, v) = (&x.theta, &x.phi, &x.task, &x.v);
    let (ao, bo) = (a.outer_grads(t, f, task)?, b.outer_grads(t, f, task)?);
    let (ah, bh) = (a.inner_hvp(t, f, task, v)?, b.inner_hvp(t, f, task, v)?);
    let (ag, bg) = (a.inner_grad(t, f, task)?, b.inner_grad(t, f, task)?);
    // MAML's θ parts are zero lists of θ's shapes, through both.
    for (what, z) in [
        ("outer θ", &ao.0),
        ("hvp θ", &ah.0),
        ("outer θ", &bo.0),
        ("hvp θ", &bh.0),
    ] {
        assert_eq!(z.to_vec()?, t.zeros_like()?.to_vec()?, "{what} not zero");
        z.check_shapes(t)?;
    }
    Ok(vec![
        ("inner_grad", rel(&ag, &bg)?),
        ("outer_grads.phi", rel(&ao.1, &bo.1)?),
        ("inner_hvp.phi", rel(&ah.1, &bh.1)?),
        ("start", rel(&a.start(t, task)?, &b.start(t, task)?)?),
        (
            "start_vjp",
            rel(&a.start_vjp(t, task, v)?, &b.start_vjp(t, task, v)?)?,
        ),
    ])
}

#[test]
fn analytic_oracles_match_autodiff() -> Result<()> {
    let mut worst = 0.0f64;
    for (i, shape) in NETS.into_iter().enumerate() {
        let net = net(shape);
        let p = problem(&net, 2)?;
        for seed in [i as u64, 10 + i as u64] {
            let x = point(&p, seed)?;
            let (analytic, autodiff) = (MamlAnalytic::new(p.clone())?, Autodiff::new(p.clone())?);
            assert_eq!(analytic.step_sizes(), autodiff.step_sizes());
            for (what, err) in compare(&analytic, &autodiff, &x)? {
                worst = worst.max(err);
                assert!(err <= TOL, "{net:?} seed {seed}: {what} rel err {err:e}");
            }
            // The HVP is not vacuous: ∇²_φ L_in v is far from zero and from v.
            let (_, hv) = analytic.inner_hvp(&x.theta, &x.phi, &x.task, &x.v)?;
            assert!(hv.sq_norm()? > 1e-6, "{net:?}: vacuous HVP");
        }
    }
    eprintln!("worst relative error {worst:e}");
    Ok(())
}

/// Oracles whose HVP is wrong by 1e-6 (v scaled by 1 + 1e-6): the comparison must catch it.
struct WrongHvp(MamlAnalytic);

impl Oracles for WrongHvp {
    type Task = MamlTask;
    fn step_sizes(&self) -> &[f64] {
        self.0.step_sizes()
    }
    fn start(&self, t: &ParamList, task: &MamlTask) -> Result<ParamList> {
        self.0.start(t, task)
    }
    fn start_vjp(&self, t: &ParamList, task: &MamlTask, v: &ParamList) -> Result<ParamList> {
        self.0.start_vjp(t, task, v)
    }
    fn inner_grad(&self, t: &ParamList, f: &ParamList, task: &MamlTask) -> Result<ParamList> {
        self.0.inner_grad(t, f, task)
    }
    fn outer_grads(
        &self,
        t: &ParamList,
        f: &ParamList,
        task: &MamlTask,
    ) -> Result<(ParamList, ParamList)> {
        self.0.outer_grads(t, f, task)
    }
    fn inner_hvp(
        &self,
        t: &ParamList,
        f: &ParamList,
        task: &MamlTask,
        v: &ParamList,
    ) -> Result<(ParamList, ParamList)> {
        self.0.inner_hvp(t, f, task, &v.scale(1.0 + 1e-6)?)
    }
}

#[test]
fn tolerance_catches_a_wrong_hvp() -> Result<()> {
    let p = problem(&net(NETS[1]), 2)?;
    let x = point(&p, 3)?;
    let errs = compare(
        &WrongHvp(MamlAnalytic::new(p.clone())?),
        &Autodiff::new(p)?,
        &x,
    )?;
    for (what, err) in errs {
        match what {
            "inner_hvp.phi" => assert!(err > 1e2 * TOL, "{what}: wrong HVP passed, {err:e}"),
            _ => assert!(err <= TOL, "{what}: rel err {err:e}"),
        }
    }
    Ok(())
}

#[test]
fn kept_hvps_equal_fresh_ones_bitwise() -> Result<()> {
    let p = problem(&net(NETS[0]), 2)?;
    let x = point(&p, 1)?;
    let o = MamlAnalytic::new(p.clone())?;
    let (t, f, task) = (&x.theta, &x.phi, &x.task);
    let (g, kept) = o.inner_grad_kept(t, f, task)?;
    assert_eq!(g.to_vec()?, o.inner_grad(t, f, task)?.to_vec()?);
    let (k0, k1) = o.inner_hvp_kept(t, f, task, &kept, &x.v)?;
    let (h0, h1) = o.inner_hvp(t, f, task, &x.v)?;
    assert_eq!((k0.to_vec()?, k1.to_vec()?), (h0.to_vec()?, h1.to_vec()?));
    assert!(!kept.held().is_empty());
    // Negative control: a pass kept at another φ answers for that φ.
    let (_, elsewhere) = o.inner_grad_kept(t, &x.theta, task)?;
    let (_, wrong) = o.inner_hvp_kept(t, f, task, &elsewhere, &x.v)?;
    assert_ne!(wrong.to_vec()?, h1.to_vec()?);
    Ok(())
}

#[test]
fn analytic_rejects_malformed_inputs() -> Result<()> {
    let p = problem(&net(NETS[0]), 1)?;
    let x = point(&p, 0)?;
    let a = MamlAnalytic::new(p.clone())?;
    let short = ParamList::new(x.phi.tensors()[..3].to_vec())?;
    assert!(a.inner_grad(&x.theta, &short, &x.task).is_err());
    assert!(a.outer_grads(&x.theta, &short, &x.task).is_err());
    assert!(a.inner_hvp(&x.theta, &x.phi, &x.task, &short).is_err());
    let other = point(&problem(&net(NETS[3]), 1)?, 0)?;
    assert!(a.inner_grad(&x.theta, &x.phi, &other.task).is_err());
    let f16 = x.phi.to_dtype(DType::F16)?;
    assert!(a.inner_grad(&x.theta, &f16, &x.task).is_err());
    Ok(())
}

/// The relative difference of the hypergradients of `e` through the two oracles at `x`.
fn through_both<E>(
    mut e: E,
    analytic: &Counted<MamlAnalytic>,
    autodiff: &Counted<Autodiff<Maml>>,
    x: &Point,
    seed: u64,
) -> Result<f64>
where
    E: Estimator<MamlAnalytic> + Estimator<Autodiff<Maml>>,
{
    let rng = &mut ChaCha8Rng::seed_from_u64(seed);
    let a = Estimator::<MamlAnalytic>::estimate(&mut e, analytic, &x.theta, &x.task, rng)?;
    let b = Estimator::<Autodiff<Maml>>::estimate(&mut e, autodiff, &x.theta, &x.task, rng)?;
    assert!(a.grad.sq_norm()? > 0.0, "zero hypergradient");
    assert_eq!(a.calls, b.calls);
    rel(&a.grad, &b.grad)
}

#[test]
fn hypergradients_through_both_oracles_agree() -> Result<()> {
    for (shape, seed) in [(NETS[0], 1), (NETS[2], 2), (NETS[4], 3)] {
        let p = problem(&net(shape), 3)?;
        let x = point(&p, seed)?;
        let analytic = Counted::new(MamlAnalytic::new(p.clone())?);
        let autodiff = Counted::new(Autodiff::new(p)?);
        let (a, b) = (&analytic, &autodiff);
        for (name, err) in [
            ("stored_exact", through_both(StoredExact, a, b, &x, seed)?),
            (
                "recompute_exact",
                through_both(RecomputeExact::new(), a, b, &x, seed)?,
            ),
            ("unrolled", through_both(Unrolled, a, b, &x, seed)?),
        ] {
            assert!(err <= TOL, "{shape:?} {name}: rel err {err:e}");
        }
        assert_eq!(analytic.calls(), autodiff.calls());
    }
    Ok(())
}

/// In f32 at the perf bench's shape (20-way 1-shot, 28×28, 4 blocks, 8 filters): autodiff's
/// values to f32 rounding.
#[test]
fn f32_matches_autodiff_at_the_bench_shape() -> Result<()> {
    let net = ConvNet::omniglot(20, 8);
    let source = synthetic_source(net.clone(), 1, 1, DType::F32, Device::Cpu);
    let task = source(&mut ChaCha8Rng::seed_from_u64(3))?;
    let theta = net.init(0, DType::F32, &Device::Cpu)?;
    let p = Maml::new(net, 1, 0.1)?.with_source(source);
    let (analytic, autodiff) = (MamlAnalytic::new(p.clone())?, Autodiff::new(p)?);
    let g = analytic.inner_grad(&theta, &theta, &task)?;
    let err = rel(&g, &autodiff.inner_grad(&theta, &theta, &task)?)?;
    assert!(err < 1e-4, "gradient rel err {err:e}");
    let (_, h) = analytic.inner_hvp(&theta, &theta, &task, &g)?;
    let (_, hb) = autodiff.inner_hvp(&theta, &theta, &task, &g)?;
    let err = rel(&h, &hb)?;
    assert!(err < 1e-3, "HVP rel err {err:e}");
    Ok(())
}
