//! # verify — statistical and numerical verification of the hypergradient estimators
//!
//! The library holds the helpers; the claims are checked by the integration tests in
//! `verify/tests/` (one file per claim, see `verify/README.md`): UFOM's unbiasedness
//! (eq. 12–13), the variance identity and Lemma 1, exact ≡ recompute ≡ unrolled ≡ finite
//! differences, Theorems 1 and 2 on the counterexample, Proposition 1's call counts, and the
//! first and second derivatives of every candle op the models use. Each positive check has a
//! negative control (a [`sabotage`]d estimator or oracle) that must be rejected.

pub mod checks;
pub mod fixtures;
pub mod opcheck;
pub mod report;
pub mod sabotage;
pub mod stats;
