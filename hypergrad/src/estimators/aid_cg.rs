//! AID-BiO with conjugate gradient (Ji, Yang & Liang 2021, Algorithm 1 with CG; REFERENCE §8):
//! approximate implicit differentiation at the last inner iterate φ_r:
//!
//! 1. φ_r by r inner GD steps (eq. 2–3), then b1 = ∂L_out/∂θ, g = ∂L_out/∂φ at φ_r;
//! 2. v ≈ H⁻¹ g with H = ∂²L_in/∂φ² at φ_r: at most N conjugate-gradient steps on H v = g,
//!    started from the previous call's v (warm start) when its residual is below ‖g‖, else
//!    from 0, stopping early once the relative residual ‖g − Hv‖/‖g‖ is ≤ tol;
//! 3. G_AID = b1 − (∂²L_in/∂θ∂φ)ᵀ v.
//!
//! One CG step is one HVP call: [`Oracles::inner_hvp`] returns the mixed product with the
//! Hessian product, so (∂²L_in/∂θ∂φ)ᵀ v is accumulated along the CG iterates at no extra cost
//! (one more HVP for the warm start's first residual). r + 1 gradient calls, at most N (+ 1)
//! HVP calls (fewer when the tolerance or a direction of non-positive curvature stops CG
//! early); three φ-sized vectors held (φ_r, v, the search direction).
//!
//! **Tolerance.** The stop is on CG's recursively updated residual, relative to ‖g‖; since
//! ‖v − H⁻¹g‖/‖H⁻¹g‖ ≤ κ(H)·‖g − Hv‖/‖g‖, tol bounds the solve's relative error by κ·tol. The
//! default [`AidCg::DEFAULT_TOL`] = 1e-6 is chosen for the precision the estimator runs in:
//! training runs in f32 (ε ≈ 1.2e-7), where the true residual stagnates near ε·κ however far
//! the recursion goes, so steps past ~10ε relative buy nothing and only spend HVPs; in f64
//! (verification, ε ≈ 2.2e-16) 1e-6 stops well before round-off, at a solve error (≤ κ·1e-6)
//! far below AID's own bias at a finite r (φ_r ≠ φ*). Checks that need the solve to round-off
//! (verify's convergence rates) set tol = 0: then only an exactly zero residual stops early,
//! which is the behaviour before the tolerance existed.
//!
//! This is the implicit-function gradient d/dθ L_out(θ, φ*(θ)) evaluated at φ_r: biased by how
//! far φ_r is from φ* and by N; it ignores the start φ_0 = V(θ) entirely (the implicit gradient
//! does not depend on it), so on MAML, whose L_in does not involve θ, it returns ∂L_out/∂θ only.
//! CG assumes H positive definite; the relative residual ‖g − Hv‖/‖g‖ is reported as the
//! diagnostic `cg_residual`, and a direction of non-positive curvature stops the iteration.

use super::inner_loop::rollout;
use super::{Estimate, Estimator};
use crate::error::{invalid, Result};
use crate::oracles::{Counted, Oracles};
use crate::params::ParamList;
use rand::RngCore;

/// AID with at most `steps` conjugate-gradient steps.
#[derive(Clone, Debug)]
pub struct AidCg {
    steps: usize,
    warm_start: bool,
    tol: f64,
    previous: Option<ParamList>,
}

impl AidCg {
    /// The default relative-residual tolerance (see the module documentation).
    pub const DEFAULT_TOL: f64 = 1e-6;

    /// Errors unless N ≥ 1; tolerance [`AidCg::DEFAULT_TOL`].
    pub fn new(steps: usize, warm_start: bool) -> Result<Self> {
        if steps == 0 {
            return Err(invalid(
                "cg_steps",
                0,
                "AID needs >= 1 conjugate-gradient step",
            ));
        }
        Ok(Self {
            steps,
            warm_start,
            tol: Self::DEFAULT_TOL,
            previous: None,
        })
    }

    /// With CG stopping once ‖g − Hv‖/‖g‖ ≤ `tol`; errors unless tol is finite and ≥ 0
    /// (0: only an exactly zero residual stops before N steps).
    pub fn with_tol(mut self, tol: f64) -> Result<Self> {
        if !(tol.is_finite() && tol >= 0.0) {
            return Err(invalid("tol", tol, "needs a finite tolerance >= 0"));
        }
        self.tol = tol;
        Ok(self)
    }
}

impl<O: Oracles> Estimator<O> for AidCg {
    /// Nothing carries over between estimates: each task of a meta-batch gets a copy.
    fn for_task(&self) -> Option<Box<dyn Estimator<O> + Send>> {
        Some(Box::new(self.clone()))
    }

    fn name(&self) -> String {
        format!("aid_cg(N={})", self.steps)
    }

    fn compute(
        &mut self,
        o: &Counted<O>,
        theta: &ParamList,
        task: &O::Task,
        _rng: &mut dyn RngCore,
    ) -> Result<Estimate> {
        let phi_r = rollout(o, theta, task, o.step_sizes().len())?;
        let (b1, g) = o.outer_grads(theta, &phi_r, task)?;
        let g_norm = g.sq_norm()?.sqrt();
        // v, its mixed product M v = (∂²L_in/∂θ∂φ)ᵀ v, and the residual g − H v.
        let warm = self
            .previous
            .take()
            .filter(|v| self.warm_start && v.check_shapes(&g).is_ok());
        let cold = |g: ParamList| -> Result<_> { Ok((g.zeros_like()?, b1.zeros_like()?, g)) };
        let (mut v, mut mixed, mut resid) = match warm {
            Some(v) => {
                let (m, hv) = o.inner_hvp(theta, &phi_r, task, &v)?;
                let resid = g.sub(&hv)?;
                // A previous solution is a better start only if its residual is smaller than
                // the cold start's (‖g‖); otherwise (θ moved, H indefinite) start from 0.
                if resid.sq_norm()?.sqrt() < g_norm {
                    (v, m, resid)
                } else {
                    cold(g)?
                }
            }
            None => cold(g)?,
        };
        let mut dir = resid.clone();
        let mut rr = resid.sq_norm()?;
        for _ in 0..self.steps {
            // ‖g − Hv‖/‖g‖ ≤ tol (with tol = 0: a zero residual; with g = 0: v = 0 is exact).
            if rr.sqrt() <= self.tol * g_norm {
                break;
            }
            let (m_dir, h_dir) = o.inner_hvp(theta, &phi_r, task, &dir)?;
            let curvature = dir.dot(&h_dir)?;
            if curvature.is_nan() || curvature <= 0.0 {
                break;
            }
            let a = rr / curvature;
            v = v.axpy(a, &dir)?;
            mixed = mixed.axpy(a, &m_dir)?;
            resid = resid.axpy(-a, &h_dir)?;
            let rr_next = resid.sq_norm()?;
            dir = resid.axpy(rr_next / rr, &dir)?;
            rr = rr_next;
        }
        let state_bytes = phi_r.bytes();
        if self.warm_start {
            self.previous = Some(v);
        }
        let relative = if g_norm > 0.0 {
            rr.sqrt() / g_norm
        } else {
            0.0
        };
        Ok(Estimate::new(b1.sub(&mixed)?, 3, state_bytes).with("cg_residual", relative))
    }
}
