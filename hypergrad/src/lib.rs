//! # hypergrad — hypergradient estimators for approximate bi-level optimisation
//!
//! The pipeline, one module each:
//! [`problem`] (what a user defines: V, L_in, L_out, α) →
//! [`oracles`] (gradients and Hessian-vector products derived by autodiff, counted in calls) →
//! [`estimators`] (FOM, exact stored/recomputed, UFOM, adaptive UFOM, unrolled reference) →
//! [`optim`] (outer SGD/Adam) → [`driver`] (the outer loop). [`theory`] holds the paper's
//! closed forms; [`problems`] the built-in problems. Equation numbers refer to "Debiasing a
//! First-order Heuristic for Approximate Bi-level Optimization" (ICML 2021).

pub mod autodiff;
pub mod check;
pub mod device_check;
pub mod driver;
pub mod error;
pub mod estimators;
pub mod nn;
pub mod optim;
pub mod oracles;
pub mod params;
pub mod problem;
pub mod problems;
pub mod stats;
pub mod theory;

pub use error::{Error, Result};
pub use estimators::{Estimate, Estimator, EstimatorSpec};
pub use oracles::{Autodiff, Calls, Counted, Kept, KeptPoint, Oracles, UnrolledReference};
pub use params::ParamList;
pub use problem::{BilevelProblem, TaskDistribution};
