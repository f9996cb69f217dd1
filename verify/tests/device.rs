//! Test 9 — the engine on CUDA: every built-in problem's oracles (∂L_in/∂φ, ∂L_out, the HVP,
//! (∂V/∂θ)ᵀv) and every estimator's hypergradient on CUDA device 0 against the CPU, f64 within
//! 1e-9 and f32 within 1e-3 (`hypergrad::device_check`, what `ufom doctor` runs), and every
//! operator of `operators.rs`, first and second order, against its CPU derivatives (1e-9).
//! Needs `--features cuda` and a GPU; otherwise each test says why it was skipped and passes.
//! The harness itself is checked CPU against CPU in `hypergrad` (`device_check::tests`).

use candle_core::Device;
use hypergrad::Result;
use verify::report::{record_and_assert, Record, Verdict};

/// CUDA device 0, or why there is none.
pub fn cuda() -> std::result::Result<Device, String> {
    Device::new_cuda(0).map_err(|e| e.to_string())
}

#[test]
fn oracles_on_cuda_match_the_cpu() -> Result<()> {
    let device = match cuda() {
        Ok(d) => d,
        Err(why) => {
            println!("SKIPPED: no CUDA device ({why})");
            return Ok(());
        }
    };
    let records: Vec<Record> = hypergrad::device_check::compare_with_cpu(&device)?
        .into_iter()
        .map(|c| {
            Record {
                n: 1,
                detail: format!("{device:?}; |cpu|∞ = {:.3e}", c.scale),
                ..Record::new(
                    &format!("device/{}/{}/{}", c.problem, c.dtype.as_str(), c.quantity),
                    "rel_error",
                    c.rel_error,
                    c.tolerance(),
                )
            }
            .verdicts(Verdict::from_rejected(!c.ok()), Verdict::Pass)
        })
        .collect();
    record_and_assert(&records);
    Ok(())
}
