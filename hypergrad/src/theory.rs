//! Closed-form results of the paper the suite checks: Proposition 1 (expected calls), the
//! optimal q of §4.4 (eq. 19–21) and the bias bound D_bound of eq. (15).

use crate::error::{invalid, Result};
use serde::{Deserialize, Serialize};

/// Expected oracle calls of one UFOM(q) estimate (Proposition 1).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExpectedCalls {
    /// r + 1 + q·r(r−1)/2.
    pub grad: f64,
    /// q·r.
    pub hvp: f64,
}

/// Proposition 1: r + 1 + q·r(r−1)/2 gradient calls and q·r HVP calls in expectation.
pub fn expected_calls(r: usize, q: f64) -> ExpectedCalls {
    let r = r as f64;
    ExpectedCalls {
        grad: r + 1.0 + q * r * (r - 1.0) / 2.0,
        hvp: q * r,
    }
}

/// Costs of §4.4: C1 per gradient, C2 per HVP, and the ε of the convergence rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CostModel {
    /// Time of one gradient.
    pub c1: f64,
    /// Time of one HVP.
    pub c2: f64,
    /// ε ∈ [0, 0.5) of Theorem 1's rate; experiments use 0.
    pub eps: f64,
}

impl Default for CostModel {
    fn default() -> Self {
        Self {
            c1: 1.0,
            c2: 1.0,
            eps: 0.0,
        }
    }
}

impl CostModel {
    /// Errors unless C1, C2 > 0 and 0 ≤ ε < 0.5.
    pub fn validate(&self) -> Result<()> {
        if !(self.c1 > 0.0 && self.c1.is_finite()) {
            return Err(invalid("c1", self.c1, "needs a positive cost"));
        }
        if !(self.c2 > 0.0 && self.c2.is_finite()) {
            return Err(invalid("c2", self.c2, "needs a positive cost"));
        }
        if !(0.0..0.5).contains(&self.eps) {
            return Err(invalid("eps", self.eps, "needs 0 <= eps < 0.5"));
        }
        Ok(())
    }

    /// C_det = C1 (r + 1).
    pub fn c_det(&self, r: usize) -> f64 {
        self.c1 * (r as f64 + 1.0)
    }

    /// C_rnd = (C1 (r − 1)/2 + C2) r.
    pub fn c_rnd(&self, r: usize) -> f64 {
        let r = r as f64;
        (self.c1 * (r - 1.0) / 2.0 + self.c2) * r
    }

    /// The exponent 2/(1 − 2ε) of eq. (19).
    pub fn kappa(&self) -> f64 {
        2.0 / (1.0 - 2.0 * self.eps)
    }
}

/// Eq. (19): expected time to a fixed precision, up to a constant factor,
/// ((1/q − 1) D² + V²)^{2/(1−2ε)} (C_det + C_rnd q).
pub fn expected_time(q: f64, d2: f64, v2: f64, r: usize, cost: &CostModel) -> f64 {
    ((1.0 / q - 1.0) * d2 + v2).powf(cost.kappa()) * (cost.c_det(r) + cost.c_rnd(r) * q)
}

/// The optimal q of §4.4.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct QStar {
    /// Whether eq. (20) holds, i.e. UFOM with q* < 1 beats the exact estimator.
    pub condition_holds: bool,
    /// q*: the root of eq. (21) when eq. (20) holds, else 1.
    pub q: f64,
}

/// q* for given D², V², r and costs: eq. (20) decides whether q* < 1, eq. (21) gives it.
pub fn qstar(d2: f64, v2: f64, r: usize, cost: &CostModel) -> Result<QStar> {
    cost.validate()?;
    if !(d2 >= 0.0 && d2.is_finite()) {
        return Err(invalid("d2", d2, "needs a finite D² >= 0"));
    }
    if !(v2 >= 0.0 && v2.is_finite()) {
        return Err(invalid("v2", v2, "needs a finite V² >= 0"));
    }
    if r == 0 {
        return Err(invalid("r", r, "needs r >= 1"));
    }
    let (c_det, c_rnd, eps) = (cost.c_det(r), cost.c_rnd(r), cost.eps);
    // Eq. (20).
    let holds = d2 < c_rnd * v2 / (cost.kappa() * (c_det + c_rnd));
    if !holds {
        return Ok(QStar {
            condition_holds: false,
            q: 1.0,
        });
    }
    if d2 == 0.0 {
        // FOM is exact: eq. (19) decreases towards q = 0.
        return Ok(QStar {
            condition_holds: true,
            q: 0.0,
        });
    }
    // Eq. (21): a q² + b q + c = 0 with a > 0 (eq. 20 implies V² > D²) and c < 0, so exactly
    // one positive root.
    let a = c_rnd * (v2 - d2);
    let b = (2.0 * eps + 1.0) / (2.0 * eps - 1.0) * d2 * c_rnd;
    let c = 2.0 / (2.0 * eps - 1.0) * d2 * c_det;
    let q = (-b + (b * b - 4.0 * a * c).sqrt()) / (2.0 * a);
    Ok(QStar {
        condition_holds: true,
        q,
    })
}

/// Eq. (15): D_bound = (1 + M1) L1 L2 Σ_j α_j Π_{j' ≥ j} (1 + α_{j'} L2).
pub fn d_bound(m1: f64, l1: f64, l2: f64, alphas: &[f64]) -> f64 {
    let mut sum = 0.0;
    let mut tail_product = 1.0; // Π over j' ≥ j, built from the end
    for &alpha in alphas.iter().rev() {
        tail_product *= 1.0 + alpha * l2;
        sum += alpha * tail_product;
    }
    (1.0 + m1) * l1 * l2 * sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposition_one_endpoints() {
        assert_eq!(
            expected_calls(10, 0.0),
            ExpectedCalls {
                grad: 11.0,
                hvp: 0.0
            }
        );
        assert_eq!(
            expected_calls(10, 1.0),
            ExpectedCalls {
                grad: 56.0,
                hvp: 10.0
            }
        );
    }

    #[test]
    fn qstar_minimises_expected_time_on_a_grid() -> Result<()> {
        let cost = CostModel::default();
        for &(d2, v2, r) in &[
            (0.1, 1.0, 10),
            (0.01, 2.0, 100),
            (0.5, 30.0, 5),
            (1e-4, 1.0, 20),
        ] {
            let s = qstar(d2, v2, r, &cost)?;
            assert!(s.condition_holds);
            let brute = (1..=100_000)
                .map(|i| i as f64 / 100_000.0)
                .min_by(|a, b| {
                    expected_time(*a, d2, v2, r, &cost)
                        .total_cmp(&expected_time(*b, d2, v2, r, &cost))
                })
                .unwrap_or(1.0);
            assert!((s.q - brute).abs() < 2e-5, "q* {} vs grid {brute}", s.q);
        }
        Ok(())
    }

    #[test]
    fn qstar_is_one_when_condition_fails() -> Result<()> {
        let s = qstar(1.0, 1.0, 10, &CostModel::default())?;
        assert!(!s.condition_holds);
        assert_eq!(s.q, 1.0);
        assert!(qstar(-1.0, 1.0, 10, &CostModel::default()).is_err());
        Ok(())
    }

    #[test]
    fn d_bound_single_step() {
        // r = 1: (1 + M1) L1 L2 α (1 + α L2)
        let d = d_bound(1.0, 2.0, 3.0, &[0.5]);
        assert!((d - 2.0 * 2.0 * 3.0 * 0.5 * 2.5).abs() < 1e-12);
    }
}
