//! Built-in problems: the Theorem-2 counterexample (Fig. 1), a quadratic family with a
//! closed-form ABLO gradient, an MLP problem of the data-hypercleaning shape, and MAML on the
//! few-shot conv net; the MLP and MAML have hand-derived (analytic) oracle twins.

pub mod convnet;
pub mod counterexample;
pub mod maml;
pub mod maml_analytic;
pub mod mlp;
pub mod mlp_analytic;
pub mod quadratic;

pub use convnet::ConvNet;
pub use counterexample::{Counterexample, CounterexampleConfig};
pub use maml::{synthetic_source, Maml, MamlTask, TaskSource};
pub use maml_analytic::MamlAnalytic;
pub use mlp::{MlpConfig, MlpData, MlpHypercleaning, MlpTask};
pub use mlp_analytic::MlpAnalytic;
pub use quadratic::{Quadratic, QuadraticConfig, QuadraticTask};

/// One standard normal draw.
pub(crate) fn normal<R: rand::Rng + ?Sized>(rng: &mut R) -> f64 {
    rand_distr::Distribution::<f64>::sample(&rand_distr::StandardNormal, rng)
}
