//! Second order without touching the environment: on a thread where candle's
//! `CANDLE_GRAD_DO_NOT_DETACH` is unset (so a plain `backward` detaches), the engine's
//! `backward_keep_graph` still differentiates twice, and the oracles' HVPs are right.
//! Own test binary: it must control the environment before any backward pass runs.

use candle_core::{DType, Device, Var};
use hypergrad::autodiff::{backward_keep_graph, ensure_second_order, second_derivative};
use hypergrad::problems::{Counterexample, CounterexampleConfig};
use hypergrad::{Autodiff, Oracles, ParamList};

#[test]
fn second_order_works_on_a_thread_where_candle_detaches() {
    assert!(
        std::env::var_os("CANDLE_GRAD_DO_NOT_DETACH").is_none(),
        "run this test without CANDLE_GRAD_DO_NOT_DETACH set"
    );
    let outcome = std::thread::spawn(|| -> Result<(), String> {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let x = Var::new(2.0f64, &Device::Cpu).map_err(|e| err(&e))?;
        let y = x
            .as_tensor()
            .sqr()
            .and_then(|y| y.sqr())
            .map_err(|e| err(&e))?;
        // Negative control: the plain backward pass detaches, d²/dx² (x²)² comes out 16.
        let plain = y.backward().map_err(|e| err(&e))?;
        let detached = second_derivative(&plain, &x).map_err(|e| err(&e))?;
        if detached == Some(48.0) {
            return Err("the plain backward pass kept its graph: the control is void".into());
        }
        // The explicit call keeps the graph on the same thread: 12 x² = 48.
        let kept = backward_keep_graph(&y).map_err(|e| err(&e))?;
        let d2 = second_derivative(&kept, &x).map_err(|e| err(&e))?;
        if d2 != Some(48.0) {
            return Err(format!("backward_keep_graph gave {d2:?}, expected 48"));
        }
        ensure_second_order().map_err(|e| err(&e))?;
        // An HVP of the counterexample's inner loss is non-zero on this thread.
        let p =
            Counterexample::from_config(&CounterexampleConfig::default()).map_err(|e| err(&e))?;
        let theta = p.theta(3.0).map_err(|e| err(&e))?;
        let o = Autodiff::new(p).map_err(|e| err(&e))?;
        let phi = ParamList::from_slice(&[0.5], DType::F64, &Device::Cpu).map_err(|e| err(&e))?;
        let v = ParamList::from_slice(&[1.0], DType::F64, &Device::Cpu).map_err(|e| err(&e))?;
        let (_, h_phi) = o.inner_hvp(&theta, &phi, &0, &v).map_err(|e| err(&e))?;
        let h = h_phi.to_vec().map_err(|e| err(&e))?;
        if h.iter().all(|&x| x == 0.0) {
            return Err("the HVP came out zero".into());
        }
        Ok(())
    });
    assert_eq!(outcome.join().expect("thread panicked"), Ok(()));
}
