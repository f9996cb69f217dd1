//! Exact hypergradient with checkpointing (binomial checkpointing, Griewank's "treeverse";
//! REFERENCE §8): Algorithm 2's backward sweep where only `s` inner states are stored at a
//! time and the others are recomputed from the nearest stored one. With s = ⌈√r⌉ (the default)
//! memory is O(√r); with s ≥ r − 1 it is [`super::StoredExact`] without recomputation; the
//! result is the exact hypergradient for every s (checked against both exact estimators).
//!
//! Reversing steps i+1..j from a stored φ_i with s free slots:
//! - one step (j = i + 1): the sweep step at φ_i;
//! - no free slot: recompute φ_{k−1} from φ_i for k = j..i+1, one sweep step each;
//! - otherwise advance to φ_m, store it, reverse m+1..j with s − 1 slots, drop φ_m, and reverse
//!   i+1..m with s slots. m splits the n = j − i steps as binomial checkpointing does: with t the
//!   least number of repetitions such that C(s + t, s) ≥ n, the right part takes as many steps
//!   as s − 1 slots reverse at t repetitions, C(s − 1 + t, s − 1).
//!
//! The forward pass already stores the checkpoints the first right-hand recursions will ask
//! for, so they are not recomputed. r + 1 gradient calls for the forward pass plus the
//! recomputation (counted, not modelled), r HVP calls; at most s + 2 inner states at once
//! (φ_0, s checkpoints, one working state), measured.

use super::inner_loop::Backward;
use super::{Estimate, Estimator};
use crate::error::{invalid, Result};
use crate::oracles::{Counted, Oracles};
use crate::params::ParamList;
use rand::RngCore;
use std::collections::BTreeMap;

/// Exact back-propagation through the inner loop with `slots` stored checkpoints.
#[derive(Clone, Copy, Debug, Default)]
pub struct Checkpointed {
    slots: Option<usize>,
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
        Ok(Self { slots })
    }

    /// The number of checkpoints used for r inner steps.
    pub fn slots_for(&self, r: usize) -> usize {
        self.slots
            .unwrap_or_else(|| (r as f64).sqrt().ceil() as usize)
            .max(1)
    }
}

/// C(s + t, s): the most steps s slots reverse with t repetitions.
fn beta(s: usize, t: usize) -> u128 {
    (1..=s as u128).fold(1u128, |acc, k| acc * (t as u128 + k) / k)
}

/// How many of n ≥ 2 steps go to the left part when s ≥ 1 slots are free.
fn split(n: usize, s: usize) -> usize {
    let mut t = 0;
    while beta(s, t) < n as u128 {
        t += 1;
    }
    let right = beta(s - 1, t).min(n as u128 - 1) as usize;
    n - right
}

/// The reversal's state: the problem, the backward vectors, the stored checkpoints.
struct Reversal<'a, O: Oracles> {
    o: &'a Counted<O>,
    theta: &'a ParamList,
    task: &'a O::Task,
    bw: Backward,
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

    /// Reverses steps i+1..j from φ_i with `s` free slots.
    fn reverse(&mut self, phi_i: &ParamList, i: usize, j: usize, s: usize) -> Result<()> {
        if j == i + 1 {
            return self.step_back(phi_i, j);
        }
        if s == 0 {
            for k in (i + 1..=j).rev() {
                let phi = self.advance(phi_i, i, k - 1)?;
                self.step_back(&phi, k)?;
            }
            return Ok(());
        }
        let m = i + split(j - i, s);
        let phi_m = match self.stored.remove(&m) {
            Some(phi) => phi,
            None => self.advance(phi_i, i, m)?,
        };
        self.held += 1;
        self.reverse(&phi_m, m, j, s - 1)?;
        self.held -= 1;
        drop(phi_m);
        self.reverse(phi_i, i, m, s)
    }
}

/// The checkpoints of the right-hand spine: (0, r, s) → m_1 → (m_1, r, s − 1) → m_2 → …
fn spine(r: usize, mut s: usize) -> Vec<usize> {
    let (mut i, mut out) = (0, Vec::new());
    while s > 0 && r - i > 1 {
        i += split(r - i, s);
        out.push(i);
        s -= 1;
    }
    out
}

impl<O: Oracles> Estimator<O> for Checkpointed {
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
        let phi0 = o.start(theta, task)?;
        let state_bytes = phi0.bytes();
        // Forward: φ_r, storing the spine's checkpoints on the way.
        let wanted = spine(r, s);
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
            stored,
            held: 1,
            peak,
        };
        rev.reverse(&phi0, 0, r, s)?;
        let grad = rev.bw.gradient(o, theta, task)?;
        Ok(Estimate::new(grad, rev.peak, state_bytes).with("slots", s as f64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_respect_the_binomial_bounds() {
        assert_eq!(beta(2, 3), 10);
        assert_eq!(beta(0, 7), 1);
        for n in 2..200 {
            for s in 1..8 {
                let left = split(n, s);
                assert!((1..n).contains(&left), "n = {n}, s = {s}: {left}");
            }
        }
        // Enough slots: every step is a checkpoint, nothing is recomputed.
        assert_eq!(spine(5, 4), vec![1, 2, 3, 4]);
    }
}
