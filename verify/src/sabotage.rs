//! Deliberately broken estimators and oracles: the negative controls. Every positive check of
//! the suite is paired with one of these, which the same check must reject — the evidence
//! that the check can fail.
//!
//! - [`ScaledUfom`]: G = G_FO + ξ·s·(G_exact − G_FO), ξ ~ Bernoulli(q), built from the
//!   engine's [`Fom`] and [`RecomputeExact`]. s = 1/q is UFOM (eq. 13); s = 1 is "UFOM with
//!   the 1/q factor dropped" (biased towards FOM); s = c/q with c > 1 over-scales the
//!   correction (unbiasedness and Lemma 1's bound both break); s = 1/q² is the squared-factor
//!   bug.
//! - [`MisreportedQ`]: the engine's UFOM drawing ξ with probability f·q while claiming q
//!   (Proposition 1's call counts break).
//! - [`FlipHvpSign`], [`DropCrossTerm`], [`DropStartVjp`]: oracles whose HVP has the wrong sign,
//!   lacks the (∂²L_in/∂θ∂φ)ᵀv block, or whose (∂V/∂θ)ᵀv is zero — bugs in the exact sweep of
//!   Algorithm 2 that test 3 (exact ≡ unrolled ≡ finite differences) must catch. Their
//!   [`UnrolledReference`] stays correct, so it remains the reference.

use hypergrad::estimators::{Fom, RecomputeExact, Ufom};
use hypergrad::{Counted, Estimate, Estimator, Oracles, ParamList, Result, UnrolledReference};
use rand::{Rng, RngCore};

/// G_FO + ξ·scale·(G_exact − G_FO) with ξ ~ Bernoulli(q) drawn exactly as the engine's UFOM
/// draws it (one `random_bool(q)` per estimate, after the FOM pass).
#[derive(Clone, Copy, Debug)]
pub struct ScaledUfom {
    /// Probability of the exact branch.
    pub q: f64,
    /// Factor on the correction (1/q is the true UFOM).
    pub scale: f64,
}

impl ScaledUfom {
    /// "UFOM with the 1/q factor dropped": G_FO + ξ (G_exact − G_FO).
    pub fn without_inverse_q(q: f64) -> Self {
        Self { q, scale: 1.0 }
    }

    /// "1/q² instead of 1/q": G_FO + ξ (1/q²)(G_exact − G_FO).
    pub fn inverse_q_squared(q: f64) -> Self {
        Self {
            q,
            scale: 1.0 / (q * q),
        }
    }

    /// The correction over-scaled by `c`: G_FO + ξ (c/q)(G_exact − G_FO).
    pub fn overscaled(q: f64, c: f64) -> Self {
        Self { q, scale: c / q }
    }
}

impl<O: Oracles> Estimator<O> for ScaledUfom {
    fn name(&self) -> String {
        format!("scaled_ufom(q={}, scale={})", self.q, self.scale)
    }

    fn compute(
        &mut self,
        o: &Counted<O>,
        theta: &ParamList,
        task: &O::Task,
        rng: &mut dyn RngCore,
    ) -> Result<Estimate> {
        let mut fo = Fom.compute(o, theta, task, rng)?;
        let xi = rng.random_bool(self.q);
        if xi {
            let exact = RecomputeExact::new().compute(o, theta, task, rng)?;
            fo.grad = fo.grad.axpy(self.scale, &exact.grad.sub(&fo.grad)?)?;
        }
        Ok(fo.with("xi", if xi { 1.0 } else { 0.0 }).with("q", self.q))
    }
}

/// The engine's UFOM run at probability `factor · q` but reporting `q`.
#[derive(Clone, Copy, Debug)]
pub struct MisreportedQ {
    /// The claimed probability.
    pub q: f64,
    /// The true probability is `factor · q`.
    pub factor: f64,
}

impl<O: Oracles> Estimator<O> for MisreportedQ {
    fn name(&self) -> String {
        format!("misreported_q(q={}, factor={})", self.q, self.factor)
    }

    fn compute(
        &mut self,
        o: &Counted<O>,
        theta: &ParamList,
        task: &O::Task,
        rng: &mut dyn RngCore,
    ) -> Result<Estimate> {
        let e = Ufom::new(self.q * self.factor)?.compute(o, theta, task, rng)?;
        Ok(e.with("q", self.q))
    }
}

macro_rules! delegate_oracles {
    () => {
        type Task = O::Task;
        fn step_sizes(&self) -> &[f64] {
            self.0.step_sizes()
        }
        fn start(&self, theta: &ParamList, task: &O::Task) -> Result<ParamList> {
            self.0.start(theta, task)
        }
        fn inner_grad(
            &self,
            theta: &ParamList,
            phi: &ParamList,
            task: &O::Task,
        ) -> Result<ParamList> {
            self.0.inner_grad(theta, phi, task)
        }
        fn outer_grads(
            &self,
            theta: &ParamList,
            phi: &ParamList,
            task: &O::Task,
        ) -> Result<(ParamList, ParamList)> {
            self.0.outer_grads(theta, phi, task)
        }
    };
}

/// Oracles whose HVP returns −[(∂²L_in/∂θ∂φ)ᵀv, (∂²L_in/∂φ²)ᵀv] (a sign error in the HVP).
pub struct FlipHvpSign<O>(pub O);

impl<O: Oracles> Oracles for FlipHvpSign<O> {
    delegate_oracles!();
    fn start_vjp(&self, theta: &ParamList, task: &O::Task, v: &ParamList) -> Result<ParamList> {
        self.0.start_vjp(theta, task, v)
    }
    fn inner_hvp(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &O::Task,
        v: &ParamList,
    ) -> Result<(ParamList, ParamList)> {
        let (a, b) = self.0.inner_hvp(theta, phi, task, v)?;
        Ok((a.scale(-1.0)?, b.scale(-1.0)?))
    }
}

/// Oracles whose HVP drops the cross term (∂²L_in/∂θ∂φ)ᵀv (returns zeros for it).
pub struct DropCrossTerm<O>(pub O);

impl<O: Oracles> Oracles for DropCrossTerm<O> {
    delegate_oracles!();
    fn start_vjp(&self, theta: &ParamList, task: &O::Task, v: &ParamList) -> Result<ParamList> {
        self.0.start_vjp(theta, task, v)
    }
    fn inner_hvp(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &O::Task,
        v: &ParamList,
    ) -> Result<(ParamList, ParamList)> {
        let (a, b) = self.0.inner_hvp(theta, phi, task, v)?;
        Ok((a.zeros_like()?, b))
    }
}

/// Oracles whose (∂V/∂θ)ᵀv is zero (the start point's dependence on θ forgotten).
pub struct DropStartVjp<O>(pub O);

impl<O: Oracles> Oracles for DropStartVjp<O> {
    delegate_oracles!();
    fn start_vjp(&self, theta: &ParamList, _task: &O::Task, _v: &ParamList) -> Result<ParamList> {
        theta.zeros_like()
    }
    fn inner_hvp(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &O::Task,
        v: &ParamList,
    ) -> Result<(ParamList, ParamList)> {
        self.0.inner_hvp(theta, phi, task, v)
    }
}

macro_rules! keep_reference {
    ($w:ident) => {
        impl<O: UnrolledReference> UnrolledReference for $w<O> {
            /// The unsabotaged reference.
            fn unrolled_gradient(&self, theta: &ParamList, task: &O::Task) -> Result<ParamList> {
                self.0.unrolled_gradient(theta, task)
            }
        }
    };
}
keep_reference!(FlipHvpSign);
keep_reference!(DropCrossTerm);
keep_reference!(DropStartVjp);
