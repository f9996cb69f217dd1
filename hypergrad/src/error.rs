//! The engine's error type.

/// Everything that can go wrong inside the engine. Variants name the culprit.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor operation failed inside candle.
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),

    /// Second-order autodiff does not work: candle detached the gradients of a backward pass
    /// that should keep its graph, so every Hessian-vector product would silently be zero.
    #[error(
        "second-order autodiff is broken: candle returned detached gradients from \
         backward_create_graph (is the patched candle-core of vendor/ in use? see vendor/PATCHES.md)"
    )]
    SecondOrderDetached,

    /// A configuration value is out of its domain.
    #[error("invalid {name} = {value}: {reason}")]
    InvalidArgument {
        /// The argument's name.
        name: &'static str,
        /// Its offending value, formatted.
        value: String,
        /// What the domain is.
        reason: String,
    },

    /// Two parameter lists that must match do not.
    #[error("parameter lists do not match: {0}")]
    Mismatch(String),

    /// A task could not be drawn (e.g. from a data set).
    #[error("drawing a task: {0}")]
    TaskSampling(Box<dyn std::error::Error + Send + Sync>),

    /// A loss was not a scalar.
    #[error("{which} loss must be a scalar, got shape {shape:?}")]
    NotScalar {
        /// Which loss.
        which: &'static str,
        /// Its shape.
        shape: Vec<usize>,
    },
}

/// Result alias of the engine.
pub type Result<T> = std::result::Result<T, Error>;

/// Shorthand for an [`Error::InvalidArgument`].
pub(crate) fn invalid(name: &'static str, value: impl std::fmt::Display, reason: &str) -> Error {
    Error::InvalidArgument {
        name,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// Whether `x` is a finite number above zero (NaN is not).
pub(crate) fn is_positive(x: f64) -> bool {
    x > 0.0 && x.is_finite()
}
