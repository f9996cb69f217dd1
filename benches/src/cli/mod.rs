//! Subcommands of the `ufom` binary and their shared argument handling.

pub mod bench;
pub mod hypergrad;
pub mod theory;

/// A bad command-line argument found after parsing (exit code 2, like clap's own errors).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Whether `e` is the user's argument error (exit 2) rather than a failure (exit 1).
pub fn is_usage_error(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<UsageError>().is_some()
            || matches!(
                c.downcast_ref::<::hypergrad::Error>(),
                Some(::hypergrad::Error::InvalidArgument { .. })
            )
    })
}

/// The error chain on one line.
pub fn one_line(e: &anyhow::Error) -> String {
    e.chain()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(": ")
        .replace('\n', " ")
}

/// A probability in (0, 1] (clap value parser).
pub fn probability(s: &str) -> Result<f64, String> {
    let q: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if q > 0.0 && q <= 1.0 {
        Ok(q)
    } else {
        Err(format!("{q} is outside (0, 1]"))
    }
}

/// A finite positive number (clap value parser).
pub fn positive(s: &str) -> Result<f64, String> {
    let x: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if x > 0.0 && x.is_finite() {
        Ok(x)
    } else {
        Err(format!("{x} must be positive"))
    }
}

/// A finite non-negative number (clap value parser).
pub fn non_negative(s: &str) -> Result<f64, String> {
    let x: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if x >= 0.0 && x.is_finite() {
        Ok(x)
    } else {
        Err(format!("{x} must be >= 0"))
    }
}

/// Prints `value` as one JSON line.
pub fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}
