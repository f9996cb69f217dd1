//! The oracles of the algorithms (gradients, Hessian-vector products), derived by autodiff from
//! a [`BilevelProblem`], and [`Counted`], the wrapper that meters them in function calls.

use crate::autodiff::{
    backward_keep_graph, check_scalar, collect, ensure_second_order, grad_through,
};
use crate::error::Result;
use crate::params::ParamList;
use crate::problem::BilevelProblem;
use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// What the estimators may ask of a problem (REFERENCE §2).
pub trait Oracles: Send + Sync {
    /// The task type.
    type Task: Send + Sync;
    /// α_1..α_r.
    fn step_sizes(&self) -> &[f64];
    /// φ0 = V(θ, T) (value only).
    fn start(&self, theta: &ParamList, task: &Self::Task) -> Result<ParamList>;
    /// (∂V/∂θ)ᵀ v.
    fn start_vjp(&self, theta: &ParamList, task: &Self::Task, v: &ParamList) -> Result<ParamList>;
    /// ∂L_in/∂φ (θ, φ, T). One gradient call.
    fn inner_grad(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &Self::Task,
    ) -> Result<ParamList>;
    /// (∂L_out/∂θ, ∂L_out/∂φ) at (θ, φ, T). One gradient call.
    fn outer_grads(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &Self::Task,
    ) -> Result<(ParamList, ParamList)>;
    /// [(∂²L_in/∂θ∂φ)ᵀ v, (∂²L_in/∂φ²)ᵀ v] at (θ, φ, T). One HVP call.
    fn inner_hvp(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &Self::Task,
        v: &ParamList,
    ) -> Result<(ParamList, ParamList)>;

    /// ∂L_in/∂φ (θ, φ, T) plus what a later HVP at the same point may reuse (for autodiff, the
    /// graph of this gradient). One gradient call. The default keeps nothing.
    fn inner_grad_kept(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &Self::Task,
    ) -> Result<(ParamList, Kept)> {
        Ok((self.inner_grad(theta, phi, task)?, Kept::default()))
    }

    /// [`Oracles::inner_hvp`] at the (θ, φ) that `kept` came from, reusing it. Same values as
    /// `inner_hvp` (bitwise for autodiff: the same graph, built once). One HVP call.
    fn inner_hvp_kept(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &Self::Task,
        kept: &Kept,
        v: &ParamList,
    ) -> Result<(ParamList, ParamList)> {
        match &kept.0 {
            Some(point) => point.hvp(v),
            None => self.inner_hvp(theta, phi, task, v),
        }
    }
}

/// What [`Oracles::inner_grad_kept`] keeps for later HVPs at the same point: nothing, or a
/// [`KeptPoint`] (an autodiff graph, a hand-derived forward pass...).
#[derive(Clone, Default)]
pub struct Kept(Option<Arc<dyn KeptPoint>>);

impl Kept {
    /// Keeps `point` for [`Oracles::inner_hvp_kept`].
    pub fn new(point: impl KeptPoint + 'static) -> Self {
        Self(Some(Arc::new(point)))
    }

    /// The tensors it keeps alive ([`KeptPoint::held`]; none when it keeps nothing), for
    /// [`crate::autodiff::held_bytes`].
    pub fn held(&self) -> Vec<Tensor> {
        self.0.as_ref().map(|p| p.held()).unwrap_or_default()
    }
}

/// An inner gradient's intermediate results at one (θ, φ, T), able to answer HVPs there.
pub trait KeptPoint {
    /// [(∂²L_in/∂θ∂φ)ᵀ v, (∂²L_in/∂φ²)ᵀ v] at the kept point.
    fn hvp(&self, v: &ParamList) -> Result<(ParamList, ParamList)>;

    /// The tensors this point keeps for its HVPs (with their autodiff graphs, which
    /// [`crate::autodiff::held_bytes`] walks), not the task's data: what keeping it costs.
    fn held(&self) -> Vec<Tensor>;
}

/// ∂L_in/∂φ with its autodiff graph, and the leaves θ and φ it was built from.
#[derive(Clone)]
struct KeptGraph {
    theta: Vec<Var>,
    phi: Vec<Var>,
    grad: ParamList,
}

impl KeptPoint for KeptGraph {
    /// The backward pass of ⟨∂L_in/∂φ, v⟩ through the kept graph.
    fn hvp(&self, v: &ParamList) -> Result<(ParamList, ParamList)> {
        let second = self.grad.dot_tensor(&v.detach())?.backward()?;
        Ok((
            collect(&second, &self.theta, false)?,
            collect(&second, &self.phi, false)?,
        ))
    }

    /// The gradient — its graph keeps alive the intermediate results of the loss that its
    /// backward pass used, and whatever they were computed from — and the leaves, the copies
    /// of θ and φ made for this graph.
    fn held(&self) -> Vec<Tensor> {
        let leaves = self.theta.iter().chain(&self.phi).map(|v| v.as_tensor());
        self.grad.tensors().iter().chain(leaves).cloned().collect()
    }
}

/// U^(n)(θ, T): n steps of inner GD (eq. 2–3) from φ0 = V(θ, T), one gradient call each.
pub fn rollout<O: Oracles + ?Sized>(
    o: &O,
    theta: &ParamList,
    task: &O::Task,
    n: usize,
) -> Result<ParamList> {
    let mut phi = o.start(theta, task)?;
    for &alpha in &o.step_sizes()[..n] {
        phi = phi.axpy(-alpha, &o.inner_grad(theta, &phi, task)?)?;
    }
    Ok(phi)
}

/// The slow reference: back-propagation through the whole graph of the inner loop.
pub trait UnrolledReference: Oracles {
    /// d/dθ L_out(θ, U^(r)(θ, T), T) by autodiff through all r steps.
    fn unrolled_gradient(&self, theta: &ParamList, task: &Self::Task) -> Result<ParamList>;
}

/// Oracles of a problem computed by candle's reverse mode (HVPs by reverse-over-reverse).
pub struct Autodiff<P> {
    problem: P,
}

impl<P: BilevelProblem> Autodiff<P> {
    /// Wraps `problem`, enabling (and checking) second-order autodiff on this thread.
    pub fn new(problem: P) -> Result<Self> {
        ensure_second_order()?;
        Ok(Self { problem })
    }

    /// The problem.
    pub fn problem(&self) -> &P {
        &self.problem
    }
}

impl<P: BilevelProblem> Oracles for Autodiff<P> {
    type Task = P::Task;

    fn step_sizes(&self) -> &[f64] {
        self.problem.step_sizes()
    }

    fn start(&self, theta: &ParamList, task: &P::Task) -> Result<ParamList> {
        Ok(self.problem.start(&theta.detach(), task)?.detach())
    }

    fn start_vjp(&self, theta: &ParamList, task: &P::Task, v: &ParamList) -> Result<ParamList> {
        if !self.problem.start_depends_on_theta() {
            return theta.zeros_like();
        }
        ensure_second_order()?;
        let th = theta.to_vars()?;
        let phi0 = self.problem.start(&ParamList::from_vars(&th), task)?;
        let grads = phi0.dot_tensor(&v.detach())?.backward()?;
        collect(&grads, &th, false)
    }

    fn inner_grad(&self, theta: &ParamList, phi: &ParamList, task: &P::Task) -> Result<ParamList> {
        ensure_second_order()?;
        let ph = phi.to_vars()?;
        let loss = self
            .problem
            .inner_loss(&theta.detach(), &ParamList::from_vars(&ph), task)?;
        let grads = check_scalar(&loss, "inner")?.backward()?;
        collect(&grads, &ph, false)
    }

    fn outer_grads(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &P::Task,
    ) -> Result<(ParamList, ParamList)> {
        ensure_second_order()?;
        let (th, ph) = (theta.to_vars()?, phi.to_vars()?);
        let loss = self.problem.outer_loss(
            &ParamList::from_vars(&th),
            &ParamList::from_vars(&ph),
            task,
        )?;
        let grads = check_scalar(&loss, "outer")?.backward()?;
        Ok((collect(&grads, &th, false)?, collect(&grads, &ph, false)?))
    }

    fn inner_hvp(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &P::Task,
        v: &ParamList,
    ) -> Result<(ParamList, ParamList)> {
        self.gradient_graph(theta, phi, task)?.hvp(v)
    }

    fn inner_grad_kept(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &P::Task,
    ) -> Result<(ParamList, Kept)> {
        let graph = self.gradient_graph(theta, phi, task)?;
        Ok((graph.grad.detach(), Kept::new(graph)))
    }
}

impl<P: BilevelProblem> Autodiff<P> {
    /// ∂L_in/∂φ at (θ, φ) with the graph kept (θ and φ as leaves): the first half of an HVP.
    fn gradient_graph(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &P::Task,
    ) -> Result<KeptGraph> {
        ensure_second_order()?;
        let (th, ph) = (theta.to_vars()?, phi.to_vars()?);
        let loss = self.problem.inner_loss(
            &ParamList::from_vars(&th),
            &ParamList::from_vars(&ph),
            task,
        )?;
        let grads = backward_keep_graph(&check_scalar(&loss, "inner")?)?;
        let grad = collect(&grads, &ph, true)?;
        Ok(KeptGraph {
            theta: th,
            phi: ph,
            grad,
        })
    }
}

impl<P: BilevelProblem> UnrolledReference for Autodiff<P> {
    fn unrolled_gradient(&self, theta: &ParamList, task: &P::Task) -> Result<ParamList> {
        ensure_second_order()?;
        let th = theta.to_vars()?;
        let theta_t = ParamList::from_vars(&th);
        let mut phi = self.problem.start(&theta_t, task)?;
        for &alpha in self.problem.step_sizes() {
            let (_, g) = grad_through(|p| self.problem.inner_loss(&theta_t, p, task), &phi)?;
            phi = phi.axpy(-alpha, &g)?;
        }
        let loss = self.problem.outer_loss(&theta_t, &phi, task)?;
        let grads = check_scalar(&loss, "outer")?.backward()?;
        collect(&grads, &th, false)
    }
}

/// Oracle calls, the unit of the paper's budgets (C1 = C2 = 1: one call each).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calls {
    /// Gradient evaluations ∂L_in/∂φ and (∂L_out/∂θ, ∂L_out/∂φ).
    pub grad: u64,
    /// Hessian-vector products (one per double backward).
    pub hvp: u64,
}

impl Calls {
    /// Gradient plus HVP calls: the paper's "function calls".
    pub fn total(&self) -> u64 {
        self.grad + self.hvp
    }
}

impl std::ops::Sub for Calls {
    type Output = Calls;
    fn sub(self, rhs: Calls) -> Calls {
        Calls {
            grad: self.grad - rhs.grad,
            hvp: self.hvp - rhs.hvp,
        }
    }
}

impl std::ops::Add for Calls {
    type Output = Calls;
    fn add(self, rhs: Calls) -> Calls {
        Calls {
            grad: self.grad + rhs.grad,
            hvp: self.hvp + rhs.hvp,
        }
    }
}

impl std::ops::AddAssign for Calls {
    fn add_assign(&mut self, rhs: Calls) {
        *self = *self + rhs;
    }
}

/// Counts every oracle call of the oracles it wraps, so budgets are a property of the problem.
/// V and its vector-Jacobian product are not function calls in Proposition 1 and are not counted.
///
/// A [`Counted::fork`] shares the oracles and counts its own calls from zero, adding each to
/// the counters it was forked from too: the tasks of a parallel meta-batch each count their
/// estimate's calls while the run's counter sees them all.
pub struct Counted<O> {
    inner: Arc<O>,
    /// This counter, then the ones it was forked from (the root last).
    counters: Vec<Arc<Mutex<Calls>>>,
    on_call: Option<Arc<dyn Fn(Calls) + Send + Sync>>,
}

impl<O: Oracles> Counted<O> {
    /// Wraps `inner` with zeroed counters.
    pub fn new(inner: O) -> Self {
        Self {
            inner: Arc::new(inner),
            counters: vec![Arc::default()],
            on_call: None,
        }
    }

    /// Calls `hook` with the root counter's running count after every counted call (progress
    /// reporting inside long estimates).
    pub fn on_call(mut self, hook: impl Fn(Calls) + Send + Sync + 'static) -> Self {
        self.on_call = Some(Arc::new(hook));
        self
    }

    /// A counter of the same oracles starting from zero, whose calls count here too.
    pub fn fork(&self) -> Self {
        let mut counters = vec![Arc::default()];
        counters.extend(self.counters.iter().cloned());
        Self {
            inner: self.inner.clone(),
            counters,
            on_call: self.on_call.clone(),
        }
    }

    /// Calls so far (with those of its forks).
    pub fn calls(&self) -> Calls {
        *lock(&self.counters[0])
    }

    /// The wrapped oracles.
    pub fn inner(&self) -> &O {
        &self.inner
    }

    fn charge(&self, grad: u64, hvp: u64) {
        let mut root = Calls::default();
        for c in &self.counters {
            let mut c = lock(c);
            *c += Calls { grad, hvp };
            root = *c;
        }
        if let Some(hook) = &self.on_call {
            hook(root);
        }
    }
}

/// The count behind `m` (a counter only ever holds a finished addition, so a panic elsewhere
/// cannot leave it half-written: a poisoned lock is still read).
fn lock(m: &Mutex<Calls>) -> std::sync::MutexGuard<'_, Calls> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<O: Oracles> Oracles for Counted<O> {
    type Task = O::Task;

    fn step_sizes(&self) -> &[f64] {
        self.inner.step_sizes()
    }
    fn start(&self, theta: &ParamList, task: &O::Task) -> Result<ParamList> {
        self.inner.start(theta, task)
    }
    fn start_vjp(&self, theta: &ParamList, task: &O::Task, v: &ParamList) -> Result<ParamList> {
        self.inner.start_vjp(theta, task, v)
    }
    fn inner_grad(&self, theta: &ParamList, phi: &ParamList, task: &O::Task) -> Result<ParamList> {
        self.charge(1, 0);
        self.inner.inner_grad(theta, phi, task)
    }
    fn outer_grads(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &O::Task,
    ) -> Result<(ParamList, ParamList)> {
        self.charge(1, 0);
        self.inner.outer_grads(theta, phi, task)
    }
    fn inner_hvp(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &O::Task,
        v: &ParamList,
    ) -> Result<(ParamList, ParamList)> {
        self.charge(0, 1);
        self.inner.inner_hvp(theta, phi, task, v)
    }
    fn inner_grad_kept(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &O::Task,
    ) -> Result<(ParamList, Kept)> {
        self.charge(1, 0);
        self.inner.inner_grad_kept(theta, phi, task)
    }
    fn inner_hvp_kept(
        &self,
        theta: &ParamList,
        phi: &ParamList,
        task: &O::Task,
        kept: &Kept,
        v: &ParamList,
    ) -> Result<(ParamList, ParamList)> {
        self.charge(0, 1);
        self.inner.inner_hvp_kept(theta, phi, task, kept, v)
    }
}

impl<O: UnrolledReference> UnrolledReference for Counted<O> {
    /// Charged as the work it does: r inner gradients and one outer gradient forward, and a
    /// backward pass through the r steps costing one HVP each.
    fn unrolled_gradient(&self, theta: &ParamList, task: &O::Task) -> Result<ParamList> {
        let r = self.inner.step_sizes().len() as u64;
        self.charge(r + 1, r);
        self.inner.unrolled_gradient(theta, task)
    }
}
