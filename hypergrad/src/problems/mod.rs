//! Built-in problems: the Theorem-2 counterexample (Fig. 1), a quadratic family with a
//! closed-form ABLO gradient, and an MLP problem of the data-hypercleaning shape.

pub mod counterexample;
pub mod mlp;
pub mod quadratic;

pub use counterexample::{Counterexample, CounterexampleConfig};
pub use mlp::{MlpConfig, MlpData, MlpHypercleaning, MlpTask};
pub use quadratic::{Quadratic, QuadraticConfig, QuadraticTask};

/// One standard normal draw.
pub(crate) fn normal<R: rand::Rng + ?Sized>(rng: &mut R) -> f64 {
    rand_distr::Distribution::<f64>::sample(&rand_distr::StandardNormal, rng)
}
