use candle_core::{DType, Device, Tensor, Var};
use hypergrad::problems::convnet::{batch_norm, conv_same_stride2};
use std::time::Instant;
fn tm(name: &str, f: impl Fn()) { f(); let t = Instant::now(); for _ in 0..10 { f(); } println!("{name}: {:.2} ms", t.elapsed().as_secs_f64()/10.0*1e3); }
#[test]
fn timing2() {
    hypergrad::autodiff::ensure_second_order().unwrap();
    let d = Device::Cpu;
    for (h, c) in [(28usize, 1usize), (14, 16), (7, 16), (4,16)] {
        let x = Var::from_tensor(&Tensor::randn(0f32, 1., (20, h, h, c), &d).unwrap()).unwrap();
        let k = Var::from_tensor(&Tensor::randn(0f32, 1., (3, 3, c, 16), &d).unwrap()).unwrap();
        let g = Var::from_tensor(&Tensor::ones(16, DType::F32, &d).unwrap()).unwrap();
        tm(&format!("conv fwd h{h}"), || { conv_same_stride2(&x, &k).unwrap(); });
        tm(&format!("conv fwd+bwd h{h}"), || { conv_same_stride2(&x, &k).unwrap().sqr().unwrap().sum_all().unwrap().backward().unwrap(); });
        let y = conv_same_stride2(&x, &k).unwrap().detach();
        let yv = Var::from_tensor(&y).unwrap();
        tm(&format!("bn fwd h{h}"), || { batch_norm(&yv, &g, &g).unwrap(); });
        tm(&format!("bn fwd+bwd h{h}"), || { batch_norm(&yv, &g, &g).unwrap().sqr().unwrap().sum_all().unwrap().backward().unwrap(); });
        tm(&format!("relu fwd+bwd h{h}"), || { yv.relu().unwrap().sqr().unwrap().sum_all().unwrap().backward().unwrap(); });
    }
}
