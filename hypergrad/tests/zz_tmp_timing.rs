use candle_core::{DType, Device};
use hypergrad::problems::{ConvNet, Maml, synthetic_source};
use hypergrad::{Autodiff, Oracles, TaskDistribution};
use rand::SeedableRng;
use std::time::Instant;
#[test]
fn timing() {
    for &(f, m) in &[(4usize, 20usize), (16, 20), (32, 20), (16, 50), (64, 20)] {
        let net = ConvNet::omniglot(m, f);
        let maml = Maml::new(net.clone(), 10, 0.005).unwrap().with_source(synthetic_source(net.clone(), 1, 1, DType::F32, Device::Cpu));
        let task = maml.sample_task(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0)).unwrap();
        let o = Autodiff::new(maml).unwrap();
        let th = net.init(0, DType::F32, &Device::Cpu).unwrap();
        let t = Instant::now();
        for _ in 0..5 { o.inner_grad(&th, &th, &task).unwrap(); }
        let g = t.elapsed().as_secs_f64() / 5.0;
        let v = th.clone();
        let t = Instant::now();
        for _ in 0..5 { o.inner_hvp(&th, &th, &task, &v).unwrap(); }
        let h = t.elapsed().as_secs_f64() / 5.0;
        let t = Instant::now();
        for _ in 0..5 { net.forward(&th, &task.support_x).unwrap(); }
        let fw = t.elapsed().as_secs_f64() / 5.0;
        println!("filters {f} m {m}: fwd {:.2} ms grad {:.2} ms hvp {:.2} ms", fw*1e3, g * 1e3, h * 1e3);
    }
}
