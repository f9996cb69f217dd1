//! The engine refuses to run where candle would silently detach gradients (zero HVPs).
//! Own test binary: it needs a thread that ran a backward pass before the engine set the flag.

use candle_core::{Device, Var};
use hypergrad::problems::{Counterexample, CounterexampleConfig};
use hypergrad::{Autodiff, Error};

#[test]
fn detached_thread_is_detected_and_fresh_threads_work() {
    // A thread whose first backward pass happens with the flag unset: candle caches "detach".
    std::env::remove_var("CANDLE_GRAD_DO_NOT_DETACH");
    let detached = std::thread::spawn(|| {
        let x = Var::new(1.0f64, &Device::Cpu).map_err(|e| e.to_string())?;
        x.as_tensor()
            .sqr()
            .and_then(|y| y.backward())
            .map_err(|e| e.to_string())?;
        let p = Counterexample::from_config(&CounterexampleConfig::default())
            .map_err(|e| e.to_string())?;
        match Autodiff::new(p) {
            Err(Error::SecondOrderDetached) => Ok(()),
            Err(e) => Err(format!("wrong error: {e}")),
            Ok(_) => Err("a detached thread was accepted".to_string()),
        }
    });
    assert_eq!(detached.join().expect("thread panicked"), Ok(()));
    // After the engine set the flag, a new thread gets working second order.
    let fresh = std::thread::spawn(|| {
        let p = Counterexample::from_config(&CounterexampleConfig::default())
            .map_err(|e| e.to_string())?;
        Autodiff::new(p).map(|_| ()).map_err(|e| e.to_string())
    });
    assert_eq!(fresh.join().expect("thread panicked"), Ok(()));
}
