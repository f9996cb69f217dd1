//! The counterexample of Theorem 2 (Appendix E.2, REFERENCE §4): two equally likely tasks,
//! V(θ) = θ, L_in = L_out = f_i(φ) with f_i the C² piecewise polynomial of eq. (39), scalar
//! θ = φ. b1 = 0 and b2 from eq. (37) make FOM-SGD stall with E|∂M/∂θ|² > D.

use crate::error::{invalid, is_positive, Result};
use crate::params::ParamList;
use crate::problem::{BilevelProblem, TaskDistribution};
use candle_core::{DType, Device, Tensor};
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};

/// The settings of Fig. 1a–c (defaults) from which b2 and A are derived.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CounterexampleConfig {
    /// The bias level D of Theorem 2.
    pub d: f64,
    /// Inner steps r.
    pub r: usize,
    /// Inner step size α.
    pub alpha: f64,
    /// Curvature of task 1.
    pub a1: f64,
    /// Curvature of task 2.
    pub a2: f64,
}

impl Default for CounterexampleConfig {
    fn default() -> Self {
        Self {
            d: 0.06,
            r: 10,
            alpha: 0.1,
            a1: 0.5,
            a2: 1.5,
        }
    }
}

impl CounterexampleConfig {
    /// b2 of eq. (37) (with (1 − αa2)^r in the first factor, see REFERENCE §4).
    pub fn b2(&self) -> Result<f64> {
        self.validate()?;
        // (1 − αa)^(2r) is taken with powi: r must fit an i32 twice over.
        let r = i32::try_from(self.r)
            .ok()
            .filter(|r| *r <= i32::MAX / 2)
            .ok_or_else(|| invalid("r", self.r, "needs r <= 1073741823 (2^30 - 1)"))?;
        let al = self.alpha;
        let (p1, p2) = (1.0 - al * self.a1, 1.0 - al * self.a2);
        let n = (self.a1 * p1.powi(2 * r) + self.a2 * p2.powi(2 * r))
            / (self.a1 * p1.powi(r) + self.a2 * p2.powi(r));
        let denom = (n * p2.powi(r) - p2.powi(2 * r)).abs();
        if p1.powi(2 * r) == 0.0 || p2.powi(2 * r) == 0.0 {
            return Err(invalid(
                "r",
                self.r,
                "is so large that (1 - alpha * a)^(2r) underflows and eq. (37) degenerates; use a smaller r",
            ));
        }
        if !(denom > 0.0 && denom.is_finite()) {
            return Err(invalid(
                "a1, a2",
                format!("{}, {}", self.a1, self.a2),
                "make eq. (37) degenerate",
            ));
        }
        Ok(2.0 * (2.0 * self.d).sqrt() / denom)
    }

    /// A = |b1/a1 − b2/a2| + 1 (eq. 38 asks for any A above |b1/a1 − b2/a2|).
    pub fn cap_a(&self) -> Result<f64> {
        Ok((self.b2()? / self.a2).abs() + 1.0)
    }

    fn validate(&self) -> Result<()> {
        if !(self.d > 0.0 && self.d.is_finite()) {
            return Err(invalid("d", self.d, "needs D > 0"));
        }
        if self.r == 0 {
            return Err(invalid("r", self.r, "needs r >= 1"));
        }
        if !is_positive(self.alpha) {
            return Err(invalid("alpha", self.alpha, "needs alpha > 0"));
        }
        for (name, a) in [("a1", self.a1), ("a2", self.a2)] {
            if !(a > 0.0 && a.is_finite()) {
                return Err(invalid(name, a, "needs a > 0"));
            }
            // The inner step must contract: blame the inner step size, naming the bound.
            if self.alpha * a >= 1.0 {
                return Err(invalid(
                    "alpha",
                    self.alpha,
                    &format!(
                        "needs alpha * {name} < 1 ({name} = {a}), i.e. alpha < {}",
                        1.0 / a
                    ),
                ));
            }
        }
        if !is_positive(self.alpha) {
            return Err(invalid("alpha", self.alpha, "needs alpha > 0"));
        }
        if self.a1 == self.a2 {
            return Err(invalid("a2", self.a2, "needs a1 != a2"));
        }
        Ok(())
    }
}

/// The two-task problem; tasks are 0 and 1.
#[derive(Clone, Debug)]
pub struct Counterexample {
    a: [f64; 2],
    b: [f64; 2],
    cap_a: f64,
    alphas: Vec<f64>,
    dtype: DType,
    device: Device,
}

impl Counterexample {
    /// The problem of Fig. 1a–c for the given D, r, α, a1, a2 (b1 = 0, b2 and A derived).
    pub fn from_config(cfg: &CounterexampleConfig) -> Result<Self> {
        Self::with_params(
            [cfg.a1, cfg.a2],
            [0.0, cfg.b2()?],
            cfg.cap_a()?,
            cfg.r,
            cfg.alpha,
        )
    }

    /// The problem with explicit a, b and A (Fig. 1d–f uses b2 = 10, A = 10).
    pub fn with_params(a: [f64; 2], b: [f64; 2], cap_a: f64, r: usize, alpha: f64) -> Result<Self> {
        if r == 0 {
            return Err(invalid("r", r, "needs r >= 1"));
        }
        if !is_positive(cap_a) {
            return Err(invalid("A", cap_a, "needs A > 0"));
        }
        if a.iter().any(|&ai| !is_positive(ai)) {
            return Err(invalid("a", format!("{a:?}"), "needs a_i > 0"));
        }
        Ok(Self {
            a,
            b,
            cap_a,
            alphas: vec![alpha; r],
            dtype: DType::F64,
            device: Device::Cpu,
        })
    }

    /// The same problem computing in `dtype` on `device`.
    pub fn on(mut self, dtype: DType, device: Device) -> Self {
        self.dtype = dtype;
        self.device = device;
        self
    }

    /// b = (b1, b2).
    pub fn b(&self) -> [f64; 2] {
        self.b
    }

    /// A.
    pub fn cap_a(&self) -> f64 {
        self.cap_a
    }

    /// θ as a parameter list.
    pub fn theta(&self, x: f64) -> Result<ParamList> {
        ParamList::from_slice(&[x], self.dtype, &self.device)
    }

    /// f_i(x), eq. (39), in plain f64.
    pub fn f(&self, i: usize, x: f64) -> f64 {
        let (a, big) = (self.a[i], self.cap_a);
        let z = (x - self.b[i] / a).abs();
        if z <= big {
            0.5 * a * z * z
        } else if z <= big + 1.0 {
            let u = z - big;
            -a * u.powi(3) / 6.0 + 0.5 * a * u * u + a * big * z - 0.5 * a * big * big
        } else {
            (0.5 * a + a * big) * z - a / 6.0 - 0.5 * a * big * big - 0.5 * a * big
        }
    }

    /// f_i'(x), eq. (40).
    pub fn f_prime(&self, i: usize, x: f64) -> f64 {
        let (a, big) = (self.a[i], self.cap_a);
        let d = x - self.b[i] / a;
        let (z, s) = (d.abs(), if d >= 0.0 { 1.0 } else { -1.0 });
        if z <= big {
            a * d
        } else if z <= big + 1.0 {
            (-0.5 * a * (z - big).powi(2) + a * z) * s
        } else {
            (0.5 * a + a * big) * s
        }
    }

    /// f_i''(x), eq. (41).
    pub fn f_second(&self, i: usize, x: f64) -> f64 {
        let (a, big) = (self.a[i], self.cap_a);
        let z = (x - self.b[i] / a).abs();
        if z <= big {
            a
        } else if z <= big + 1.0 {
            -a * z + a + a * big
        } else {
            0.0
        }
    }

    /// (G_FO, G_exact) of task i at θ from the closed forms (no autodiff): with V(θ) = θ and
    /// b1 = 0, G_FO = f_i'(φ_r) and G_exact = Π_j (1 − α_j f_i''(φ_{j−1})) f_i'(φ_r).
    pub fn task_gradients_closed_form(&self, i: usize, theta: f64) -> (f64, f64) {
        let (mut phi, mut jac) = (theta, 1.0);
        for &al in &self.alphas {
            jac *= 1.0 - al * self.f_second(i, phi);
            phi -= al * self.f_prime(i, phi);
        }
        let g_fo = self.f_prime(i, phi);
        (g_fo, jac * g_fo)
    }

    /// d/dθ M^(r)(θ): the exact hypergradient averaged over the two tasks, from the closed forms.
    pub fn exact_gradient_closed_form(&self, theta: f64) -> f64 {
        (0..2)
            .map(|i| 0.5 * self.task_gradients_closed_form(i, theta).1)
            .sum()
    }

    /// M^(r)(θ) = ½ Σ_i f_i(U^(r)(θ, T_i)), in plain f64.
    pub fn objective(&self, theta: f64) -> f64 {
        (0..2)
            .map(|i| {
                let mut phi = theta;
                for &al in &self.alphas {
                    phi -= al * self.f_prime(i, phi);
                }
                0.5 * self.f(i, phi)
            })
            .sum()
    }

    /// f_i(φ) as a differentiable expression; the piece is chosen from φ's value (f_i is C², so
    /// the chosen piece has the right first and second derivatives there).
    fn loss(&self, i: usize, phi: &ParamList) -> Result<Tensor> {
        let x = &phi.tensors()[0];
        let (a, big) = (self.a[i], self.cap_a);
        let d = x.affine(1.0, -self.b[i] / a)?;
        let dv = d.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?[0];
        let z = d.affine(if dv >= 0.0 { 1.0 } else { -1.0 }, 0.0)?; // |d| as an expression
        let out = if dv.abs() <= big {
            d.sqr()?.affine(0.5 * a, 0.0)?
        } else if dv.abs() <= big + 1.0 {
            let u = z.affine(1.0, -big)?;
            let cubic = u.powf(3.0)?.affine(-a / 6.0, 0.0)?;
            let quad = u.sqr()?.affine(0.5 * a, 0.0)?;
            ((cubic + quad)? + z.affine(a * big, -0.5 * a * big * big)?)?
        } else {
            z.affine(
                0.5 * a + a * big,
                -a / 6.0 - 0.5 * a * big * big - 0.5 * a * big,
            )?
        };
        Ok(out.sum_all()?)
    }
}

impl BilevelProblem for Counterexample {
    type Task = usize;

    fn start(&self, theta: &ParamList, _task: &usize) -> Result<ParamList> {
        Ok(theta.clone())
    }

    fn inner_loss(&self, _theta: &ParamList, phi: &ParamList, task: &usize) -> Result<Tensor> {
        self.loss(*task, phi)
    }

    fn outer_loss(&self, _theta: &ParamList, phi: &ParamList, task: &usize) -> Result<Tensor> {
        self.loss(*task, phi)
    }

    fn step_sizes(&self) -> &[f64] {
        &self.alphas
    }
}

impl TaskDistribution for Counterexample {
    fn sample_task(&self, rng: &mut dyn RngCore) -> Result<usize> {
        Ok(usize::from(rng.random_bool(0.5)))
    }

    fn enumerate_tasks(&self) -> Option<Vec<(f64, usize)>> {
        Some(vec![(0.5, 0), (0.5, 1)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figure_one_constants() -> Result<()> {
        let cfg = CounterexampleConfig::default();
        assert!((cfg.b2()? - 17.395).abs() < 1e-3, "b2 = {}", cfg.b2()?);
        assert!((cfg.cap_a()? - 12.597).abs() < 1e-3, "A = {}", cfg.cap_a()?);
        Ok(())
    }

    #[test]
    fn closed_forms_are_consistent() -> Result<()> {
        let p = Counterexample::from_config(&CounterexampleConfig::default())?;
        let h = 1e-5;
        for &x in &[-30.0, -12.9, 0.3, 5.0, 12.0, 24.1, 25.0, 40.0] {
            for i in 0..2 {
                let fd1 = (p.f(i, x + h) - p.f(i, x - h)) / (2.0 * h);
                let fd2 = (p.f_prime(i, x + h) - p.f_prime(i, x - h)) / (2.0 * h);
                assert!((fd1 - p.f_prime(i, x)).abs() < 1e-6, "f' at {x}");
                assert!((fd2 - p.f_second(i, x)).abs() < 1e-4, "f'' at {x}");
            }
        }
        Ok(())
    }

    #[test]
    fn rejects_bad_settings() {
        let bad = CounterexampleConfig {
            d: -1.0,
            ..Default::default()
        };
        assert!(bad.b2().is_err());
        let bad = CounterexampleConfig {
            r: 0,
            ..Default::default()
        };
        assert!(bad.b2().is_err());
        let bad = CounterexampleConfig {
            a2: 0.5,
            ..Default::default()
        };
        assert!(bad.b2().is_err());
    }
}
