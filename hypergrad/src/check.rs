//! Numerical references for tests and the verify crate: the objective M^(r)(θ) itself and its
//! central finite-difference gradient. Nothing here is counted or differentiated through.

use crate::autodiff::check_scalar;
use crate::error::Result;
use crate::oracles::{rollout, Autodiff, Oracles};
use crate::params::ParamList;
use crate::problem::BilevelProblem;
use candle_core::DType;

/// L_out(θ, U^(r)(θ, T), T): r inner GD steps from V(θ, T), then the outer loss.
pub fn objective<P: BilevelProblem>(
    o: &Autodiff<P>,
    theta: &ParamList,
    task: &P::Task,
) -> Result<f64> {
    let phi = rollout(o, theta, task, o.step_sizes().len())?;
    let loss = o.problem().outer_loss(&theta.detach(), &phi, task)?;
    Ok(check_scalar(&loss, "outer")?
        .to_dtype(DType::F64)?
        .to_scalar::<f64>()?)
}

/// Central differences (f(θ + h e_i) − f(θ − h e_i)) / 2h of the objective, coordinate by
/// coordinate (2·dim θ objective evaluations: for small θ).
pub fn finite_difference_gradient<P: BilevelProblem>(
    o: &Autodiff<P>,
    theta: &ParamList,
    task: &P::Task,
    h: f64,
) -> Result<Vec<f64>> {
    let base = theta.to_vec()?;
    let mut grad = Vec::with_capacity(base.len());
    for i in 0..base.len() {
        let mut plus = base.clone();
        let mut minus = base.clone();
        plus[i] += h;
        minus[i] -= h;
        let fp = objective(o, &theta.with_values(&plus)?, task)?;
        let fm = objective(o, &theta.with_values(&minus)?, task)?;
        grad.push((fp - fm) / (2.0 * h));
    }
    Ok(grad)
}

/// max_i |a_i − b_i| / max(‖b‖_∞, floor): a relative error robust to tiny entries.
pub fn relative_error(a: &[f64], b: &[f64], floor: f64) -> f64 {
    let scale = b.iter().fold(floor, |m, x| m.max(x.abs()));
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
        / scale
}
