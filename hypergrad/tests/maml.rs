//! The few-shot conv net and its MAML problem (f64, tiny sizes): the network's first and second
//! derivatives against central finite differences (the operator check of the verify crate,
//! applied to the whole network), and stored exact ≡ recompute exact ≡ unrolled autodiff ≡
//! finite differences of M^(r) for the meta-gradient.

use candle_core::{DType, Device, Tensor, Var};
use hypergrad::autodiff::{backward_keep_graph, collect, ensure_second_order};
use hypergrad::check::{objective, relative_error};
use hypergrad::estimators::{Fom, RecomputeExact, StoredExact, Unrolled};
use hypergrad::problems::{ConvNet, Maml};
use hypergrad::{Autodiff, Counted, Estimator, ParamList, Result, TaskDistribution};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn tiny_net() -> ConvNet {
    ConvNet {
        channels: 2,
        filters: 3,
        layers: 2,
        classes: 3,
        in_hw: 7,
    }
}

/// θ drawn by the network's initialiser, perturbed so γ, β and biases are not at 1/0.
fn theta(net: &ConvNet, seed: u64) -> Result<ParamList> {
    let p = net.init(seed, DType::F64, &Device::Cpu)?;
    let v: Vec<f64> = p
        .to_vec()?
        .iter()
        .enumerate()
        .map(|(i, x)| x + 0.1 * (((i * 37) % 17) as f64 / 8.0 - 1.0))
        .collect();
    p.with_values(&v)
}

/// Σ w ⊙ forward(θ, x) as a differentiable scalar.
fn weighted_logits(net: &ConvNet, p: &ParamList, x: &Tensor, w: &Tensor) -> Result<Tensor> {
    Ok((net.forward(p, x)? * w)?.sum_all()?)
}

#[test]
fn convnet_first_and_second_derivatives_match_finite_differences() -> Result<()> {
    ensure_second_order()?;
    let net = tiny_net();
    let th = theta(&net, 1)?;
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let task = Maml::new(net.clone(), 1, 0.1)?.sample_task(&mut rng)?;
    let x = task.support_x.clone();
    let w = Tensor::new(
        &[[0.3f64, -1.1, 0.7], [0.9, 0.2, -0.4], [-0.6, 0.5, 1.3]],
        &Device::Cpu,
    )?;
    let loss = |p: &ParamList| -> Result<f64> {
        Ok(weighted_logits(&net, p, &x, &w)?.to_scalar::<f64>()?)
    };
    // ∇L and H v by reverse-over-reverse.
    let grad_and_hvp = |p: &ParamList, v: &ParamList| -> Result<(ParamList, ParamList)> {
        let vars = p.to_vars()?;
        let l = weighted_logits(&net, &ParamList::from_vars(&vars), &x, &w)?;
        let g = collect(&backward_keep_graph(&l)?, &vars, true)?;
        let hv = collect(&g.dot_tensor(v)?.backward()?, &vars, false)?;
        Ok((g.detach(), hv))
    };
    let base = th.to_vec()?;
    let dir: Vec<f64> = (0..base.len())
        .map(|i| (((i * 13) % 7) as f64 - 3.0) / 3.0)
        .collect();
    let v = th.with_values(&dir)?;
    let (g, hv) = grad_and_hvp(&th, &v)?;
    let g = g.to_vec()?;
    let h = 1e-6;
    let fd_g: Vec<f64> = (0..base.len())
        .map(|i| {
            let (mut a, mut b) = (base.clone(), base.clone());
            a[i] += h;
            b[i] -= h;
            Ok((loss(&th.with_values(&a)?)? - loss(&th.with_values(&b)?)?) / (2.0 * h))
        })
        .collect::<Result<_>>()?;
    assert!(
        relative_error(&g, &fd_g, 1e-8) < 1e-6,
        "∇L {g:?} vs {fd_g:?}"
    );
    let h = 1e-5;
    let shifted = |s: f64| -> Result<Vec<f64>> {
        let x: Vec<f64> = base.iter().zip(&dir).map(|(b, d)| b + s * h * d).collect();
        grad_and_hvp(&th.with_values(&x)?, &v)?.0.to_vec()
    };
    let (gp, gm) = (shifted(1.0)?, shifted(-1.0)?);
    let fd_hv: Vec<f64> = gp
        .iter()
        .zip(&gm)
        .map(|(a, b)| (a - b) / (2.0 * h))
        .collect();
    let hv = hv.to_vec()?;
    let scale = fd_hv.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(scale > 1e-3, "H v is vacuous: {scale}");
    assert!(
        relative_error(&hv, &fd_hv, 1e-8) < 1e-5,
        "H v {hv:?} vs {fd_hv:?}"
    );

    // The input gradient too (the conv's backward with respect to its input).
    let xv = Var::from_tensor(&x)?;
    let gx = (net.forward(&th, xv.as_tensor())? * &w)?
        .sum_all()?
        .backward()?;
    let gx = gx
        .get(xv.as_tensor())
        .expect("input gradient")
        .flatten_all()?
        .to_vec1::<f64>()?;
    let xs = x.flatten_all()?.to_vec1::<f64>()?;
    for i in [0, 5, 17, 40, 77, xs.len() - 1] {
        let at = |d: f64| -> Result<f64> {
            let mut v = xs.clone();
            v[i] += d;
            let xt = Tensor::from_vec(v, x.dims(), &Device::Cpu)?;
            Ok(weighted_logits(&net, &th, &xt, &w)?.to_scalar::<f64>()?)
        };
        let fd = (at(1e-6)? - at(-1e-6)?) / 2e-6;
        assert!(
            (gx[i] - fd).abs() < 1e-6 * fd.abs().max(1.0),
            "∂/∂x_{i}: {} vs {fd}",
            gx[i]
        );
    }
    Ok(())
}

#[test]
fn maml_exact_meta_gradient_equals_unrolled_and_finite_differences() -> Result<()> {
    let net = ConvNet {
        channels: 1,
        filters: 4,
        layers: 2,
        classes: 3,
        in_hw: 8,
    };
    let maml = Maml::new(net.clone(), 3, 0.3)?;
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let task = maml.sample_task(&mut rng)?;
    let o = Counted::new(Autodiff::new(maml)?);
    let th = theta(&net, 4)?;
    let fom = Fom.estimate(&o, &th, &task, &mut rng)?.grad.to_vec()?;
    let stored = StoredExact
        .estimate(&o, &th, &task, &mut rng)?
        .grad
        .to_vec()?;
    let recompute = RecomputeExact::new()
        .estimate(&o, &th, &task, &mut rng)?
        .grad
        .to_vec()?;
    let unrolled = Unrolled.estimate(&o, &th, &task, &mut rng)?.grad.to_vec()?;
    assert!(
        relative_error(&recompute, &stored, 1e-12) < 1e-9,
        "recompute vs stored"
    );
    assert!(
        relative_error(&unrolled, &stored, 1e-12) < 1e-9,
        "unrolled vs stored"
    );
    assert!(
        relative_error(&fom, &stored, 1e-12) > 1e-3,
        "FOM must differ from exact"
    );
    // r(r−1)/2 + r + 1 gradient calls and r HVPs for the memory-efficient exact estimator.
    let before = o.calls();
    RecomputeExact::new().estimate(&o, &th, &task, &mut rng)?;
    let spent = o.calls() - before;
    assert_eq!((spent.grad, spent.hvp), (3 + 1 + 3, 3));

    // Central differences of M^(r) on coordinates spread over every parameter tensor.
    let base = th.to_vec()?;
    let scale = stored.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let mut offset = 0;
    for t in th.tensors() {
        let n = t.elem_count();
        for i in [offset, offset + n / 2, offset + n - 1] {
            let at = |d: f64| -> Result<f64> {
                let mut v = base.clone();
                v[i] += d;
                objective(o.inner(), &th.with_values(&v)?, &task)
            };
            let fd = (at(1e-5)? - at(-1e-5)?) / 2e-5;
            assert!(
                (stored[i] - fd).abs() < 1e-6 * scale.max(1e-3),
                "coordinate {i}: exact {} vs FD {fd}",
                stored[i]
            );
        }
        offset += n;
    }
    Ok(())
}
