//! Exact hypergradient with checkpointing (REFERENCE §8): Algorithm 2's backward sweep where
//! only `s` inner states are stored at a time and the others are recomputed from the nearest
//! stored one. With s = ⌈√r⌉ (the default) memory is O(√r); with s ≥ r − 1 it is
//! [`super::StoredExact`] without recomputation; the result is the exact hypergradient for every
//! s (checked against both exact estimators).
//!
//! Reversing steps i+1..j from a stored φ_i with s free slots:
//! - one step (j = i + 1): the sweep step at φ_i;
//! - no free slot: recompute φ_{k−1} from φ_i for k = j..i+1, one sweep step each;
//! - otherwise advance to φ_m, store it, reverse m+1..j with s − 1 slots, drop φ_m, and reverse
//!   i+1..m with s slots. m is the split of the dynamic programme in `checkpoint_schedule`, which
//!   minimises the recomputation for this cost model: a sweep step at k needs φ_{k−1} only (one
//!   HVP), so reversing is cheaper than in the model Griewank's binomial schedule (treeverse) is
//!   optimal for, and the binomial splits recompute more (r = 29, s = 6: 34 steps where 22
//!   suffice; r = 40, s = 2: 161 vs 95).
//!
//! The forward pass stores the checkpoints the first right-hand recursions ask for (the spine),
//! so they are not recomputed, and the programme counts them as free. r + 1 gradient calls for
//! the forward pass plus the recomputation F(r, s) of `checkpoint_schedule`
//! ([`Checkpointed::recomputation`]; the calls are counted, and the tests check they equal it),
//! r HVP calls; at most s + 2 inner states at once (φ_0, s checkpoints, one working state),
//! measured.

use super::checkpoint_schedule::Schedule;
use super::inner_loop::Backward;
use super::{Estimate, Estimator};
use crate::error::{invalid, Result};
use crate::oracles::{Counted, Oracles};
use crate::params::ParamList;
use rand::RngCore;
use std::collections::BTreeMap;

/// Exact back-propagation through the inner loop with `slots` stored checkpoints.
#[derive(Clone, Debug, Default)]
pub struct Checkpointed {
    slots: Option<usize>,
    /// The last schedule computed (reused while r and s stay the same).
    schedule: Option<Schedule>,
}

impl Checkpointed {
    /// `Some(s)`: s ≥ 1 checkpoints; `None`: ⌈√r⌉ for the problem's r.
    pub fn new(slots: Option<usize>) -> Result<Self> {
        if slots == Some(0) {
            return Err(invalid(
                "slots",
                0,
                "checkpointing needs >= 1 slot (recompute_exact is the zero-slot method)",
            ));
        }
        Ok(Self {
            slots,
            schedule: None,
        })
    }

    /// The number of checkpoints used for r inner steps.
    pub fn slots_for(&self, r: usize) -> usize {
        self.slots
            .unwrap_or_else(|| (r as f64).sqrt().ceil() as usize)
            .max(1)
    }

    /// Inner steps recomputed by the backward sweep for r inner steps (gradient calls beyond
    /// the forward pass's r + 1): F(r, s) of `checkpoint_schedule`, the least over every
    /// schedule with s checkpoints in this cost model.
    pub fn recomputation(&self, r: usize) -> u64 {
        let s = self.slots_for(r);
        Schedule::new(r, s).cost(r, s, true)
    }

    /// The schedule for r steps: the one kept from the previous call if it is for the same
    /// (r, s), else a new one (put back by the caller).
    fn take_schedule(&mut self, r: usize) -> Schedule {
        let s = self.slots_for(r);
        self.schedule
            .take()
            .filter(|sched| sched.covers(r, s))
            .unwrap_or_else(|| Schedule::new(r, s))
    }
}

/// The reversal's state: the problem, the backward vectors, the stored checkpoints.
struct Reversal<'a, O: Oracles> {
    o: &'a Counted<O>,
    theta: &'a ParamList,
    task: &'a O::Task,
    bw: Backward,
    schedule: &'a Schedule,
    /// Checkpoints the forward pass stored, by index.
    stored: BTreeMap<usize, ParamList>,
    /// States held by the recursion (φ_0 and the checkpoints it took), and the peak.
    held: usize,
    peak: usize,
}

impl<O: Oracles> Reversal<'_, O> {
    fn note_peak(&mut self, working: usize) {
        self.peak = self.peak.max(self.held + self.stored.len() + working);
    }

    /// φ_to from φ_from by inner GD steps.
    fn advance(&mut self, phi: &ParamList, from: usize, to: usize) -> Result<ParamList> {
        self.note_peak(1);
        let alphas = self.o.step_sizes();
        let mut phi = phi.clone();
        for &alpha in &alphas[from..to] {
            phi = phi.axpy(-alpha, &self.o.inner_grad(self.theta, &phi, self.task)?)?;
        }
        Ok(phi)
    }

    /// The sweep step j at φ_{j−1}.
    fn step_back(&mut self, phi_prev: &ParamList, j: usize) -> Result<()> {
        let alpha = self.o.step_sizes()[j - 1];
        self.bw
            .step_back(self.o, self.theta, self.task, phi_prev, alpha)
    }

    /// Reverses steps i+1..j from φ_i with `s` free slots; `after_forward`: on the spine, whose
    /// checkpoints the forward pass stored.
    fn reverse(
        &mut self,
        phi_i: &ParamList,
        (i, j): (usize, usize),
        s: usize,
        after_forward: bool,
    ) -> Result<()> {
        if j <= i + 1 {
            return if j == i + 1 {
                self.step_back(phi_i, j)
            } else {
                Ok(())
            };
        }
        if s == 0 {
            for k in (i + 1..=j).rev() {
                let phi = self.advance(phi_i, i, k - 1)?;
                self.step_back(&phi, k)?;
            }
            return Ok(());
        }
        let m = i + self.schedule.split(j - i, s, after_forward);
        let phi_m = match self.stored.remove(&m) {
            Some(phi) => phi,
            None => self.advance(phi_i, i, m)?,
        };
        self.held += 1;
        self.reverse(&phi_m, (m, j), s - 1, after_forward)?;
        self.held -= 1;
        drop(phi_m);
        self.reverse(phi_i, (i, m), s, false)
    }
}

impl<O: Oracles> Estimator<O> for Checkpointed {
    /// Nothing carries over between estimates: each task of a meta-batch gets a copy.
    fn for_task(&self) -> Option<Box<dyn Estimator<O> + Send>> {
        Some(Box::new(self.clone()))
    }

    fn name(&self) -> String {
        match self.slots {
            Some(s) => format!("checkpointed(slots={s})"),
            None => "checkpointed(slots=sqrt(r))".into(),
        }
    }

    fn compute(
        &mut self,
        o: &Counted<O>,
        theta: &ParamList,
        task: &O::Task,
        _rng: &mut dyn RngCore,
    ) -> Result<Estimate> {
        let alphas = o.step_sizes();
        let r = alphas.len();
        let s = self.slots_for(r);
        let schedule = self.take_schedule(r);
        let phi0 = o.start(theta, task)?;
        let state_bytes = phi0.bytes();
        // Forward: φ_r, storing the spine's checkpoints on the way.
        let wanted = schedule.spine(s);
        let mut stored = BTreeMap::new();
        let mut peak = 1;
        let mut phi = phi0.clone();
        for (j, &alpha) in alphas.iter().enumerate() {
            phi = phi.axpy(-alpha, &o.inner_grad(theta, &phi, task)?)?;
            if wanted.contains(&(j + 1)) {
                stored.insert(j + 1, phi.clone());
            }
            peak = peak.max(2 + stored.len());
        }
        let bw = Backward::at_end(o, theta, task, &phi)?;
        drop(phi);
        let mut rev = Reversal {
            o,
            theta,
            task,
            bw,
            schedule: &schedule,
            stored,
            held: 1,
            peak,
        };
        rev.reverse(&phi0, (0, r), s, true)?;
        let grad = rev.bw.gradient(o, theta, task)?;
        let peak = rev.peak;
        self.schedule = Some(schedule);
        Ok(Estimate::new(grad, peak, state_bytes).with("slots", s as f64))
    }
}
