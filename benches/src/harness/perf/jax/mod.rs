//! The JAX twin of the reference cases (`benches/reference/jax_twin.py`) against ufom's oracles,
//! for `just perf-jax` (`benches/benches/perf_jax.rs`).
//!
//! Measured, never copied: per case, the driver writes ufom's own inputs (θ, φ, the task's
//! data and v = ufom's gradient) to a safetensors file, the twin computes the gradient and the
//! HVP pair on them and writes its values back, and [`compare_case`] checks them against every
//! oracle implementation of the case ([`ReferenceCase::oracles`]) before timing anything: an
//! implementation the twin disagrees with by more than [`TOLERANCE`] gets no ratio. Then ufom's
//! rounds and the twin's alternate (ufom, JAX, ufom, JAX, ...), so that drift of the machine
//! affects both; each side reports the median of its rounds' medians. [`merge`] writes the
//! figures into the `engine` section of `reports/perf.json`, and without a twin removes them:
//! a JAX column is never filled from elsewhere.

use super::cases::{conv_case, mnist_mlp, BoundOracles, ReferenceCase};
use super::engine::{EngineReport, JaxRun};
use super::oracle_timing::{median_ms, Timing};
use anyhow::{bail, Result};
use candle_core::{DType, Device, Tensor};
use hypergrad::ParamList;
use std::path::{Path, PathBuf};

/// The largest relative difference (‖twin − ufom‖ / ‖ufom‖, per output) for which a ratio is
/// reported: f32 rounding, not a different computation.
pub const TOLERANCE: f64 = 1e-4;

/// The twin, relative to the workspace root.
pub const TWIN_SCRIPT: &str = "benches/reference/jax_twin.py";

/// The result of one (case, oracles) against the twin.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseComparison {
    /// Reference case.
    pub case: String,
    /// ufom's oracle implementation.
    pub oracles: String,
    /// Largest relative difference over the gradient and the two HVP parts (absent when the
    /// twin computed nothing).
    pub rel_error: Option<f64>,
    /// ufom's medians over its rounds.
    pub ufom: Option<Timing>,
    /// The twin's medians over its rounds.
    pub jax: Option<Timing>,
    /// Why no ratio (disagreement, an error of either side).
    pub refused: Option<String>,
}

/// The twin's values on a case's inputs.
#[derive(Clone, Debug)]
pub struct TwinValues {
    /// ∂L_in/∂φ.
    pub gradient: ParamList,
    /// (∂²L_in/∂θ∂φ)ᵀv.
    pub hvp_theta: ParamList,
    /// ∇²_φ L_in v.
    pub hvp_phi: ParamList,
}

/// The twin's model for a reference case (`mlp` or `conv`).
pub fn model(case: ReferenceCase) -> &'static str {
    match case {
        ReferenceCase::Mlp { .. } => "mlp",
        ReferenceCase::Conv { .. } => "conv",
    }
}

/// The data L_in sees in `case` (inputs, one-hot targets): the MLP's training set, the conv
/// net's support set (NCHW images).
pub fn case_data(case: ReferenceCase, device: &Device) -> Result<(Tensor, Tensor)> {
    Ok(match case {
        ReferenceCase::Mlp { n_train } => {
            let p = mnist_mlp(n_train, 1, device)?;
            (p.data().train_x.clone(), p.data().train_y.clone())
        }
        ReferenceCase::Conv { filters } => {
            let (_, _, task) = conv_case(filters, device)?;
            (task.support_x, task.support_y)
        }
    })
}

/// ‖a − b‖ / ‖b‖ over all tensors (0 when both are zero, ∞ when only `b` is); the shapes must
/// match.
pub fn relative_error(a: &ParamList, b: &ParamList) -> Result<f64> {
    let (ta, tb) = (a.tensors(), b.tensors());
    if ta.len() != tb.len() {
        bail!("{} tensors against {}", ta.len(), tb.len());
    }
    let (mut diff, mut norm) = (0f64, 0f64);
    for (x, y) in ta.iter().zip(tb) {
        if x.dims() != y.dims() {
            bail!("shape {:?} against {:?}", x.dims(), y.dims());
        }
        let x = x.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
        let y = y.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
        for (p, q) in x.iter().zip(&y) {
            diff += (p - q) * (p - q);
            norm += q * q;
        }
    }
    Ok(if diff == 0.0 {
        0.0
    } else if norm == 0.0 {
        f64::INFINITY
    } else {
        (diff / norm).sqrt()
    })
}

/// Rounds and calls of [`compare_case`].
#[derive(Clone, Copy, Debug)]
pub struct Rounds {
    /// ufom rounds and JAX rounds, alternated.
    pub rounds: usize,
    /// Timed calls per round.
    pub reps: usize,
    /// Untimed calls before each round's timed ones.
    pub warm_up: usize,
}

/// The twin against each of `oracles` (name, oracles bound to the case's point) on one case:
/// values first, then alternated timing rounds for the implementations it agrees with. The
/// twin computes on the first implementation's point with v = its gradient, in `dir`. Never
/// fails: an error refuses the case (and names the error).
#[allow(clippy::too_many_arguments)]
pub fn compare_case(
    twin: &mut Twin,
    case: &str,
    model: &str,
    oracles: &[(String, Box<dyn BoundOracles>)],
    (x, y): (&Tensor, &Tensor),
    dir: &Path,
    r: Rounds,
) -> Vec<CaseComparison> {
    let refuse_all = |why: String| {
        oracles
            .iter()
            .map(|(name, _)| CaseComparison {
                case: case.into(),
                oracles: name.clone(),
                rel_error: None,
                ufom: None,
                jax: None,
                refused: Some(why.clone()),
            })
            .collect()
    };
    let values = (|| -> Result<(ParamList, TwinValues)> {
        let Some((_, first)) = oracles.first() else {
            bail!("no oracles");
        };
        let v = first.gradient()?;
        let (inputs, outputs) = (twin_path(dir, case, "in"), twin_path(dir, case, "out"));
        write_inputs(&inputs, (first.theta(), first.phi(), &v), x, y)?;
        let _ = std::fs::remove_file(&outputs);
        twin.load(model, &inputs, &outputs)?;
        Ok((v, read_values(&outputs)?))
    })();
    let (v, twin_values) = match values {
        Ok(x) => x,
        Err(e) => return refuse_all(format!("the twin computed nothing: {e:#}")),
    };
    let mut out: Vec<CaseComparison> = oracles
        .iter()
        .map(|(name, o)| {
            let rel = (|| -> Result<f64> {
                let g = o.gradient()?;
                let (ht, hp) = o.hvp(&v)?;
                Ok(relative_error(&twin_values.gradient, &g)?
                    .max(relative_error(&twin_values.hvp_theta, &ht)?)
                    .max(relative_error(&twin_values.hvp_phi, &hp)?))
            })();
            let (rel_error, refused) = match rel {
                Ok(e) if e <= TOLERANCE => (Some(e), None),
                Ok(e) => (
                    Some(e),
                    Some(format!(
                        "the twin disagrees: relative error {e:.2e} > {TOLERANCE:.0e}"
                    )),
                ),
                Err(e) => (None, Some(format!("comparing values: {e:#}"))),
            };
            CaseComparison {
                case: case.into(),
                oracles: name.clone(),
                rel_error,
                ufom: None,
                jax: None,
                refused,
            }
        })
        .collect();
    if out.iter().all(|c| c.refused.is_some()) {
        return out;
    }
    let timed = (|| -> Result<(Vec<Vec<Timing>>, Vec<Timing>)> {
        let mut ufom = vec![Vec::new(); oracles.len()];
        let mut jax = Vec::new();
        for _ in 0..r.rounds {
            for ((_, o), (rounds, c)) in oracles.iter().zip(ufom.iter_mut().zip(&out)) {
                if c.refused.is_none() {
                    let cpu = &Device::Cpu;
                    rounds.push(Timing {
                        gradient_ms: median_ms(cpu, r.warm_up, r.reps, || o.gradient())?,
                        hvp_ms: median_ms(cpu, r.warm_up, r.reps, || o.hvp(&v))?,
                    });
                }
            }
            jax.push(twin.time(r.reps, r.warm_up)?);
        }
        Ok((ufom, jax))
    })();
    match timed {
        Ok((ufom, jax)) => {
            for (c, rounds) in out.iter_mut().zip(&ufom) {
                if c.refused.is_none() {
                    c.ufom = median_timing(rounds);
                    c.jax = median_timing(&jax);
                }
            }
        }
        Err(e) => {
            for c in out.iter_mut().filter(|c| c.refused.is_none()) {
                c.refused = Some(format!("timing failed: {e:#}"));
            }
        }
    }
    out
}

fn twin_path(dir: &Path, case: &str, what: &str) -> PathBuf {
    dir.join(format!("{case}.{what}.safetensors"))
}

fn median(mut xs: Vec<f64>) -> Option<f64> {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(xs[n / 2]),
        _ => Some(0.5 * (xs[n / 2 - 1] + xs[n / 2])),
    }
}

/// Medians of the rounds' gradient and HVP figures.
fn median_timing(rounds: &[Timing]) -> Option<Timing> {
    Some(Timing {
        gradient_ms: median(rounds.iter().map(|t| t.gradient_ms).collect())?,
        hvp_ms: median(rounds.iter().map(|t| t.hvp_ms).collect())?,
    })
}

/// Writes the comparison into the `engine` section: first removes every JAX figure, then, with
/// a run, fills each (case, oracles) that the twin agreed with and that was timed, and lists
/// the others in `jax.refused`. `merge(engine, None)` leaves no JAX field.
pub fn merge(engine: &mut EngineReport, run: Option<(JaxRun, &[CaseComparison])>) {
    engine.jax = None;
    for row in &mut engine.cases {
        row.clear_jax();
    }
    let Some((mut run, comparisons)) = run else {
        return;
    };
    for c in comparisons {
        let label = format!("{} {}", c.case, c.oracles);
        let Some(row) = engine
            .cases
            .iter_mut()
            .find(|r| r.case == c.case && r.oracles == c.oracles)
        else {
            run.refused.push(format!(
                "{label}: no such row in the engine section (run `just perf` first)"
            ));
            continue;
        };
        row.jax_rel_error = c.rel_error;
        match (&c.refused, &c.ufom, &c.jax) {
            (None, Some(u), Some(j)) => {
                row.jax_gradient_ms = Some(j.gradient_ms);
                row.jax_hvp_ms = Some(j.hvp_ms);
                row.paired_gradient_ms = Some(u.gradient_ms);
                row.paired_hvp_ms = Some(u.hvp_ms);
                row.gradient_over_jax = Some(u.gradient_ms / j.gradient_ms);
                row.hvp_over_jax = Some(u.hvp_ms / j.hvp_ms);
            }
            (Some(why), _, _) => run.refused.push(format!("{label}: {why}")),
            _ => run.refused.push(format!("{label}: not timed")),
        }
    }
    engine.jax = Some(run);
}

mod twin;
pub use twin::{read_values, write_inputs, Twin};

#[cfg(test)]
mod tests;
