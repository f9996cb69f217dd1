//! Regression tests of the engine's patches to candle-core (vendor/PATCHES.md).

use candle_core::{DType, Device, Tensor, Var};

fn ramp(shape: &[usize], dtype: DType) -> candle_core::Result<Tensor> {
    let n: usize = shape.iter().product();
    // Values with rounding in f32 sums (not exactly representable partial sums).
    let v: Vec<f64> = (0..n)
        .map(|i| ((i * 7919) % 1013) as f64 / 97.0 - 5.3)
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu)?.to_dtype(dtype)
}

/// Patch 2: inputs that reach no variable (constant data) get no gradient, variables the
/// right one.
#[test]
fn constants_get_no_gradient() -> candle_core::Result<()> {
    let x = ramp(&[5, 3], DType::F64)?;
    let w = Var::from_tensor(&ramp(&[3, 2], DType::F64)?)?;
    let b = ramp(&[2], DType::F64)?;
    let loss = x.matmul(w.as_tensor())?.broadcast_mul(&b)?.sum_all()?;
    let grads = loss.backward()?;
    assert!(
        grads.get(&x).is_none(),
        "a gradient was computed for the data"
    );
    assert!(
        grads.get(&b).is_none(),
        "a gradient was computed for a constant"
    );
    // d/dW Σ_ij (xW)_ij b_j = xᵀ 1 bᵀ.
    let expect = x.sum_keepdim(0)?.t()?.matmul(&b.unsqueeze(0)?)?;
    let got = grads.get(w.as_tensor()).expect("gradient of W");
    let err = (got - expect)?.abs()?.max_all()?.to_scalar::<f64>()?;
    assert!(err < 1e-12, "gradient of W off by {err}");
    Ok(())
}

/// Patch 3: summing over a block of leading or middle dimensions gives exactly (bitwise) the
/// in-order sum of the generic loop.
#[test]
fn reduce_over_leading_and_middle_dims_is_the_in_order_sum() -> candle_core::Result<()> {
    for (shape, dims) in [
        (vec![37usize, 11], vec![0usize]),
        (vec![4, 6, 5], vec![0, 1]),
        (vec![4, 6, 5], vec![1]),
        (vec![3, 4, 6, 5], vec![1, 2]),
    ] {
        let t = ramp(&shape, DType::F32)?;
        let got = t
            .sum_keepdim(dims.as_slice())?
            .flatten_all()?
            .to_vec1::<f32>()?;
        // Reference: accumulate in index order, f32, like the generic loop.
        let src = t.flatten_all()?.to_vec1::<f32>()?;
        let mut out_shape = shape.clone();
        for &d in &dims {
            out_shape[d] = 1;
        }
        let mut want = vec![0f32; out_shape.iter().product()];
        for (i, &s) in src.iter().enumerate() {
            let (mut rem, mut o, mut stride_out) = (i, 0usize, 1usize);
            let mut idx = vec![0usize; shape.len()];
            for k in (0..shape.len()).rev() {
                idx[k] = rem % shape[k];
                rem /= shape[k];
            }
            for k in (0..shape.len()).rev() {
                let ik = if dims.contains(&k) { 0 } else { idx[k] };
                o += ik * stride_out;
                stride_out *= out_shape[k];
            }
            want[o] += s;
        }
        assert_eq!(got, want, "shape {shape:?} dims {dims:?}");
    }
    Ok(())
}

/// Patch 1: `backward_create_graph` keeps the graph for any thread, so second derivatives
/// come out (d²/dx² (x²)² = 12x²), while `backward` keeps candle's detaching default.
#[test]
fn backward_create_graph_differentiates_twice() -> candle_core::Result<()> {
    let x = Var::new(2.0f64, &Device::Cpu)?;
    let y = x.as_tensor().sqr()?.sqr()?;
    let g = y.backward_create_graph()?;
    let dy = g.get(x.as_tensor()).expect("first derivative");
    assert_eq!(dy.to_scalar::<f64>()?, 32.0);
    let g2 = dy.backward()?;
    let d2 = g2.get(x.as_tensor()).expect("second derivative");
    assert_eq!(d2.to_scalar::<f64>()?, 48.0);
    Ok(())
}

/// Patch 6: inside a caller's rayon pool, candle sizes its kernels' parallelism by that pool,
/// not by the process-wide thread count (a cell running on its share of the threads keeps to
/// it); outside any pool it answers as before.
#[test]
fn thread_count_follows_the_installed_pool() {
    let outside = candle_core::utils::get_num_threads();
    for threads in [1, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a pool");
        assert_eq!(pool.install(candle_core::utils::get_num_threads), threads);
    }
    // Negative control: the same question outside the pools still gets the global answer.
    assert_eq!(candle_core::utils::get_num_threads(), outside);
}
