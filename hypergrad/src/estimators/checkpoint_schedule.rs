//! The schedule of [`super::Checkpointed`]: where to put the checkpoints so that the backward
//! sweep recomputes as few inner steps as possible, for this problem's cost model.
//!
//! **Cost model.** Step k maps φ_{k−1} to φ_k by one gradient call (eq. 2–3); sweep step k
//! needs φ_{k−1} only (one HVP, Algorithm 2), never φ_k, so reversing a step costs no forward
//! step — unlike the model Griewank's binomial schedule ("treeverse"/revolve) is optimal for,
//! where reversing a step also re-runs it. φ_0 is always held; besides it a schedule holds at
//! most s checkpoints and one working state. The forward pass computes φ_1..φ_r once (its r
//! gradient calls, and the one at φ_r for ∂L_out, are not counted) and may store any states it
//! passes as checkpoints; afterwards the sweep steps k = r..1 run in order. The **cost** is the
//! number of inner steps computed after the forward pass — the recomputation, i.e. the
//! estimator's gradient calls minus r + 1.
//!
//! **Recursion.** Reversing steps i+1..j (n = j − i) from a held φ_i with s free slots costs
//! - R(1, s) = 0 (the sweep step at φ_i), R(n, 0) = n(n−1)/2 (φ_{k−1} from φ_i for each k);
//! - R(n, s) = min over 1 ≤ m < n of m + R(n − m, s − 1) + R(m, s): advance to φ_{i+m}, store
//!   it, reverse the right part with s − 1 slots, drop it, reverse the left part with s slots.
//!
//! Right after the forward pass the states ahead of φ_i were computed anyway, so storing φ_{i+m}
//! is free and the right part is in the same position:
//! F(1, s) = 0, F(n, 0) = n(n−1)/2, F(n, s) = min over m of F(n − m, s − 1) + R(m, s).
//! The estimator's recomputation is F(r, s), its schedule the minimising splits (the smallest
//! m on ties). Restricting schedules to this recursion loses nothing: a shortest-path search
//! over every schedule of the model (the tests, r ≤ 10, s ≤ 4) finds the same minimum. Tables
//! for all n ≤ r, s' ≤ min(s, r − 1): O(r² s) integer operations, once per (r, s).

/// Minimal recomputation and split points for n ≤ r steps and s' ≤ s slots.
#[derive(Clone, Debug)]
pub(crate) struct Schedule {
    r: usize,
    slots: usize,
    /// (cost, split m) of R (index 0) and F (index 1), at n·(slots + 1) + s.
    table: [Vec<(u64, usize)>; 2],
}

impl Schedule {
    /// The tables for up to `r` steps and `slots` slots.
    pub fn new(r: usize, slots: usize) -> Self {
        let slots = slots.min(r.saturating_sub(1));
        let width = slots + 1;
        let size = (r + 1) * width;
        let (mut rev, mut fwd) = (vec![(0u64, 0); size], vec![(0u64, 0); size]);
        for n in 2..=r {
            let all = (n * (n - 1) / 2) as u64;
            rev[n * width] = (all, 0);
            fwd[n * width] = (all, 0);
            for s in 1..width {
                let (mut best_r, mut best_f) = ((u64::MAX, 0), (u64::MAX, 0));
                for m in 1..n {
                    let left = rev[m * width + s].0;
                    let right = (n - m) * width + s - 1;
                    let cost_r = m as u64 + rev[right].0 + left;
                    let cost_f = fwd[right].0 + left;
                    if cost_r < best_r.0 {
                        best_r = (cost_r, m);
                    }
                    if cost_f < best_f.0 {
                        best_f = (cost_f, m);
                    }
                }
                rev[n * width + s] = best_r;
                fwd[n * width + s] = best_f;
            }
        }
        Self {
            r,
            slots,
            table: [rev, fwd],
        }
    }

    /// Whether these tables answer for r steps and `slots` slots.
    pub fn covers(&self, r: usize, slots: usize) -> bool {
        self.r == r && self.slots == slots.min(r.saturating_sub(1))
    }

    fn entry(&self, n: usize, s: usize, after_forward: bool) -> (u64, usize) {
        assert!(n <= self.r, "schedule for {} steps asked about {n}", self.r);
        self.table[usize::from(after_forward)][n * (self.slots + 1) + s.min(self.slots)]
    }

    /// F(n, s) (`after_forward`) or R(n, s): the fewest inner steps recomputed.
    pub fn cost(&self, n: usize, s: usize, after_forward: bool) -> u64 {
        self.entry(n, s, after_forward).0
    }

    /// The left part m (1 ≤ m < n) of the split that attains the cost; n ≥ 2, s ≥ 1.
    pub fn split(&self, n: usize, s: usize, after_forward: bool) -> usize {
        self.entry(n, s, after_forward).1
    }

    /// The checkpoints the forward pass stores: the right-hand spine of F(r, s),
    /// (0, r, s) → m_1 → (m_1, r, s − 1) → m_2 → …
    pub fn spine(&self, mut s: usize) -> Vec<usize> {
        let (mut i, mut out) = (0, Vec::new());
        while s > 0 && self.r - i > 1 {
            i += self.split(self.r - i, s, true);
            out.push(i);
            s -= 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Reverse;
    use std::collections::{BinaryHeap, HashMap};

    /// A point of a schedule: the forward pass at φ_w, or the sweep with step k next (k = 0:
    /// done) and the working state at φ_w (or none); `held` = the checkpoints, as bits 1..r−1.
    #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
    enum Point {
        Forward {
            w: usize,
            held: u32,
        },
        Sweep {
            k: usize,
            w: Option<usize>,
            held: u32,
        },
    }

    /// The least cost (the module's definition) over every schedule of the model, by a
    /// shortest-path search: in the forward pass, step (free), store or drop a checkpoint; in
    /// the sweep, advance the working state (cost 1; never past φ_{k−1}, which no later step
    /// needs), store it, drop a checkpoint, restart from φ_0 or a checkpoint, or take sweep
    /// step k when φ_{k−1} is held.
    fn brute_force(r: usize, s: usize) -> u64 {
        let bit = |c: usize| 1u32 << c;
        let (mut dist, mut queue) = (HashMap::new(), BinaryHeap::new());
        let start = Point::Forward { w: 0, held: 0 };
        dist.insert(start, 0u64);
        queue.push(Reverse((0u64, start)));
        while let Some(Reverse((d, point))) = queue.pop() {
            if dist[&point] < d {
                continue;
            }
            let mut next: Vec<(u64, Point)> = Vec::new();
            let held = match point {
                Point::Sweep { k: 0, .. } => return d,
                Point::Forward { w, held }
                | Point::Sweep {
                    w: Some(w), held, ..
                } if w >= 1 && w < r && held & bit(w) == 0 && (held.count_ones() as usize) < s => {
                    next.push((0, with_held(point, held | bit(w))));
                    held
                }
                Point::Forward { held, .. } | Point::Sweep { held, .. } => held,
            };
            for c in (1..r).filter(|&c| held & bit(c) != 0) {
                next.push((0, with_held(point, held & !bit(c))));
            }
            match point {
                Point::Forward { w, held } if w + 1 == r => {
                    let w = None;
                    next.push((0, Point::Sweep { k: r, w, held }));
                }
                Point::Forward { w, held } => next.push((0, Point::Forward { w: w + 1, held })),
                Point::Sweep { k, w, held } => {
                    let at = |c: usize| c == 0 || held & bit(c) != 0 || w == Some(c);
                    if at(k - 1) {
                        next.push((0, Point::Sweep { k: k - 1, w, held }));
                    }
                    if let Some(w) = w.filter(|&w| w + 1 < k) {
                        next.push((
                            1,
                            Point::Sweep {
                                k,
                                w: Some(w + 1),
                                held,
                            },
                        ));
                    }
                    for c in (0..r).filter(|&c| c == 0 || held & bit(c) != 0) {
                        next.push((
                            0,
                            Point::Sweep {
                                k,
                                w: Some(c),
                                held,
                            },
                        ));
                    }
                }
            }
            for (cost, p) in next {
                if dist.get(&p).is_none_or(|&old| d + cost < old) {
                    dist.insert(p, d + cost);
                    queue.push(Reverse((d + cost, p)));
                }
            }
        }
        unreachable!("every schedule can finish by recomputing from φ_0")
    }

    fn with_held(point: Point, held: u32) -> Point {
        match point {
            Point::Forward { w, .. } => Point::Forward { w, held },
            Point::Sweep { k, w, .. } => Point::Sweep { k, w, held },
        }
    }

    #[test]
    fn the_recursion_is_optimal_over_every_schedule() {
        for r in 1..=10 {
            for s in 1..=4 {
                let dp = Schedule::new(r, s).cost(r, s, true);
                assert_eq!(dp, brute_force(r, s), "r = {r}, s = {s}");
            }
        }
        // The search is not trivially equal: without the forward pass's free checkpoints
        // (R instead of F) the recursion costs more.
        assert!(Schedule::new(10, 2).cost(10, 2, false) > brute_force(10, 2));
    }

    /// Griewank's binomial split (the previous schedule): with t the least number of
    /// repetitions such that C(s + t, s) ≥ n, the right part takes C(s − 1 + t, s − 1) steps.
    fn binomial_cost(i: usize, j: usize, s: usize, after_forward: bool) -> u64 {
        let n = j - i;
        if n == 1 {
            return 0;
        }
        if s == 0 {
            return (n * (n - 1) / 2) as u64;
        }
        let beta = |s: usize, t: usize| (1..=s).fold(1usize, |acc, k| acc * (t + k) / k);
        let t = (0..).find(|&t| beta(s, t) >= n).unwrap_or(0);
        let m = i + n - beta(s - 1, t).min(n - 1);
        let advance = if after_forward { 0 } else { (m - i) as u64 };
        advance + binomial_cost(m, j, s - 1, after_forward) + binomial_cost(i, m, s, false)
    }

    #[test]
    fn the_cost_model_schedule_beats_the_binomial_one() {
        for (r, s, binomial, ours) in [(29, 6, 34, 22), (40, 2, 161, 95), (99, 10, 148, 110)] {
            assert_eq!(binomial_cost(0, r, s, true), binomial, "r = {r}, s = {s}");
            assert_eq!(
                Schedule::new(r, s).cost(r, s, true),
                ours,
                "r = {r}, s = {s}"
            );
        }
        for r in 1..=60 {
            for s in 1..=8 {
                let sched = Schedule::new(r, s);
                let ours = sched.cost(r, s, true);
                assert!(ours <= binomial_cost(0, r, s, true), "r = {r}, s = {s}");
                // More slots never cost more; enough slots cost nothing.
                assert!(ours <= sched.cost(r, s - 1, true), "r = {r}, s = {s}");
                if s + 1 >= r {
                    assert_eq!(ours, 0, "r = {r}, s = {s}");
                }
            }
        }
    }

    #[test]
    fn splits_and_spine_stay_inside_the_steps() {
        let sched = Schedule::new(30, 5);
        for n in 2..=30 {
            for s in 1..=5 {
                for after_forward in [false, true] {
                    let m = sched.split(n, s, after_forward);
                    assert!((1..n).contains(&m), "n = {n}, s = {s}: {m}");
                }
            }
        }
        let spine = sched.spine(5);
        assert!(spine.windows(2).all(|w| w[0] < w[1]) && spine.len() <= 5);
        assert!(spine.iter().all(|&c| (1..30).contains(&c)), "{spine:?}");
        // Enough slots: every step is a checkpoint, nothing is recomputed.
        assert_eq!(Schedule::new(5, 4).spine(4), vec![1, 2, 3, 4]);
        assert!(Schedule::new(5, 9).covers(5, 4) && !Schedule::new(5, 2).covers(5, 3));
    }
}
