//! The problems the tests run on and the sampling loops they share. Every draw goes through
//! one `ChaCha8Rng::seed_from_u64(seed)`.

use candle_core::{DType, Device};
use hypergrad::autodiff::check_scalar;
use hypergrad::estimators::{Fom, Unrolled};
use hypergrad::oracles::rollout;
use hypergrad::problems::{
    Counterexample, CounterexampleConfig, MlpAnalytic, MlpConfig, MlpData, MlpHypercleaning,
    MlpTask,
};
use hypergrad::{
    Autodiff, BilevelProblem, Calls, Counted, Estimator, Oracles, ParamList, Result,
    UnrolledReference,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The suite's random number generator.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Counted oracles of a problem.
pub type Problem<P> = Counted<Autodiff<P>>;

/// Oracles that know their problem: [`Autodiff`]`<P>` and the MLP's hand-derived twin
/// [`MlpAnalytic`], so one generic test body runs through either.
pub trait ProblemOracles: UnrolledReference {
    /// The problem the oracles differentiate.
    type Problem: BilevelProblem<Task = Self::Task>;

    /// The problem.
    fn problem(&self) -> &Self::Problem;

    /// Central differences (h) of M^(r)(θ) = L_out(θ, U^(r)(θ, T), T), the r inner steps taken
    /// with these oracles' own ∂L_in/∂φ.
    fn finite_difference_gradient(
        &self,
        theta: &ParamList,
        task: &Self::Task,
        h: f64,
    ) -> Result<Vec<f64>> {
        let objective = |t: &ParamList| -> Result<f64> {
            let phi = rollout(self, t, task, self.step_sizes().len())?;
            let loss = self.problem().outer_loss(&t.detach(), &phi, task)?;
            Ok(check_scalar(&loss, "outer")?
                .to_dtype(DType::F64)?
                .to_scalar::<f64>()?)
        };
        let base = theta.to_vec()?;
        let mut grad = Vec::with_capacity(base.len());
        for i in 0..base.len() {
            let (mut plus, mut minus) = (base.clone(), base.clone());
            plus[i] += h;
            minus[i] -= h;
            let fp = objective(&theta.with_values(&plus)?)?;
            let fm = objective(&theta.with_values(&minus)?)?;
            grad.push((fp - fm) / (2.0 * h));
        }
        Ok(grad)
    }
}

impl<P: BilevelProblem> ProblemOracles for Autodiff<P> {
    type Problem = P;

    fn problem(&self) -> &P {
        Autodiff::problem(self)
    }

    /// The engine's own reference, [`hypergrad::check::finite_difference_gradient`].
    fn finite_difference_gradient(
        &self,
        theta: &ParamList,
        task: &P::Task,
        h: f64,
    ) -> Result<Vec<f64>> {
        hypergrad::check::finite_difference_gradient(self, theta, task, h)
    }
}

/// Oracles of the hypercleaning MLP (autodiff or analytic), with the task type pinned.
pub trait MlpOracles: ProblemOracles<Problem = MlpHypercleaning, Task = MlpTask> {}

impl<O: ProblemOracles<Problem = MlpHypercleaning, Task = MlpTask>> MlpOracles for O {}

/// The inner steps go through the analytic ∂L_in/∂φ, so the finite differences check the
/// analytic HVPs against the map the analytic gradients define.
impl ProblemOracles for MlpAnalytic {
    type Problem = MlpHypercleaning;

    fn problem(&self) -> &MlpHypercleaning {
        MlpAnalytic::problem(self)
    }
}

/// The counterexample of Fig. 1a–c (D = 0.06, r = 10, α = 0.1, a = (0.5, 1.5)).
pub fn counterexample() -> Result<Problem<Counterexample>> {
    let p = Counterexample::from_config(&CounterexampleConfig::default())?;
    Ok(Counted::new(Autodiff::new(p)?))
}

/// The counterexample of Fig. 1d–f: b = (0, 10), A = 10, r = 10, inner step `step`.
pub fn fig1d_counterexample(step: f64) -> Result<Problem<Counterexample>> {
    let p = Counterexample::with_params([0.5, 1.5], [0.0, 10.0], 10.0, 10, step)?;
    Ok(Counted::new(Autodiff::new(p)?))
}

/// The tiny hypercleaning MLP of the engine's tests: 24 training and 16 validation examples of
/// dimension 5, 3 classes, half the labels corrupted; hidden 6, r = 4, α = 0.5, last step
/// folded into L_out. `task_batch = Some(b)` makes tasks random mini-batches of b examples.
pub fn tiny_mlp_problem(task_batch: Option<usize>) -> Result<MlpHypercleaning> {
    let (data, _) = MlpData::synthetic(24, 16, 5, 3, 0.5, 7, DType::F64, &Device::Cpu)?;
    let cfg = MlpConfig {
        hidden: 6,
        steps: 4,
        alpha: 0.5,
        fold_last_step: true,
        init_seed: 3,
        task_batch,
    };
    MlpHypercleaning::new(data, cfg)
}

/// [`tiny_mlp_problem`] through candle autodiff.
pub fn tiny_mlp(task_batch: Option<usize>) -> Result<Problem<MlpHypercleaning>> {
    Ok(Counted::new(Autodiff::new(tiny_mlp_problem(task_batch)?)?))
}

/// [`tiny_mlp_problem`] through its hand-derived oracles [`MlpAnalytic`].
pub fn tiny_mlp_analytic(task_batch: Option<usize>) -> Result<Counted<MlpAnalytic>> {
    Ok(Counted::new(MlpAnalytic::new(tiny_mlp_problem(
        task_batch,
    )?)?))
}

/// A θ for the MLP with N(0, 1) entries from `seed` (the same θ through either oracles).
pub fn mlp_theta<O: MlpOracles>(o: &Counted<O>, seed: u64) -> Result<ParamList> {
    let zero = o.inner().problem().theta_zero()?;
    let mut r = rng(seed);
    let values: Vec<f64> = (0..zero.numel())
        .map(|_| crate::stats::standard_normal(&mut r))
        .collect();
    zero.with_values(&values)
}

/// (G_FO, G_exact) at (θ, T): the engine's FOM, and the exact gradient from the unrolled
/// autodiff reference — a code path independent of the engine's backward sweep, so a bug in the
/// sweep (shared by stored exact, recompute exact and UFOM) cannot cancel out of a comparison.
pub fn fo_and_exact<O: UnrolledReference>(
    o: &Counted<O>,
    theta: &ParamList,
    task: &O::Task,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let mut r = rng(0);
    let fo = Fom.estimate(o, theta, task, &mut r)?.grad.to_vec()?;
    let exact = Unrolled.estimate(o, theta, task, &mut r)?.grad.to_vec()?;
    Ok((fo, exact))
}

/// One estimate, flattened.
#[derive(Clone, Debug)]
pub struct Draw {
    /// The hypergradient.
    pub grad: Vec<f64>,
    /// Calls it cost.
    pub calls: Calls,
    /// ξ, for randomised estimators.
    pub exact_drawn: Option<bool>,
}

/// `n` estimates at θ from one `ChaCha8Rng(seed)`; `task` draws T from the same generator
/// (return a fixed task to condition on it — the generator then only draws ξ).
pub fn draws<O: Oracles>(
    est: &mut dyn Estimator<O>,
    o: &Counted<O>,
    theta: &ParamList,
    mut task: impl FnMut(&mut ChaCha8Rng) -> Result<O::Task>,
    n: usize,
    seed: u64,
) -> Result<Vec<Draw>> {
    let mut r = rng(seed);
    (0..n)
        .map(|_| {
            let t = task(&mut r)?;
            let e = est.estimate(o, theta, &t, &mut r)?;
            Ok(Draw {
                grad: e.grad.to_vec()?,
                calls: e.calls,
                exact_drawn: e.exact_drawn(),
            })
        })
        .collect()
}

/// `n` draws of G_FO + ξ·scale·(G_exact − G_FO) from cached gradients, with ξ drawn exactly
/// as the engine draws it for a fixed task (one `random_bool(q)` per estimate from
/// `ChaCha8Rng(seed)`): statistically identical to — and for scale = 1/q, up to rounding
/// the same numbers as — [`draws`] with the engine's `Ufom`, at a fraction of the cost. Used only for the
/// calibration runs, which also compare it against the engine.
pub fn simulate(
    g_fo: &[f64],
    g_exact: &[f64],
    q: f64,
    scale: f64,
    n: usize,
    seed: u64,
) -> Vec<Vec<f64>> {
    let mut r = rng(seed);
    (0..n)
        .map(|_| {
            let xi = r.random_bool(q);
            g_fo.iter()
                .zip(g_exact)
                .map(|(f, e)| if xi { f + scale * (e - f) } else { *f })
                .collect()
        })
        .collect()
}

/// ‖v‖².
pub fn sq_norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum()
}

/// a − b.
pub fn sub(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}
