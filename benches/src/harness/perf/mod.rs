//! Summary of the criterion performance benches (`cargo bench -p ufom-bench --bench perf`) into
//! `reports/perf.json`.
//!
//! The bench times the oracles (one inner gradient vs one HVP on the hypercleaning MLP, the
//! C2/C1 cost ratio of the paper's §4.4) and every estimator as the inner horizon r grows.
//! Criterion writes one `estimates.json` per benchmark under
//! `<criterion_dir>/<group>/<function>[/<parameter>]/new/`; [`summarise`] reads the mean (point
//! estimate and confidence interval, in ns) of each, and joins the estimator timings with the
//! memory and call counts the bench measured outside its timing loops ([`MemoryRow`]).
//!
//! Nothing here asserts on timings: these are benchmarks, not timed tests.
//!
//! [`schema`] holds the report's types, [`summary`] builds it.

pub mod cases;
pub mod engine;
mod estimates;
pub mod jax;
pub mod oracle_timing;
mod schema;
mod summary;
pub use estimates::*;
pub use schema::*;
pub use summary::*;
