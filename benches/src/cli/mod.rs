//! Subcommands of the `ufom` binary and their shared argument handling.

pub mod bench;
pub mod cluster;
pub mod doctor;
pub mod hypergrad;
pub mod map;
pub mod report;
pub mod schema;
pub mod theory;

/// A bad command-line argument found after parsing (exit code 2, like clap's own errors).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The exit code for `e`: 2 for the user's argument errors, 130 for Ctrl-C, 1 otherwise.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<bench::InterruptedRun>().is_some() {
        130
    } else if is_usage_error(e) {
        2
    } else {
        1
    }
}

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

/// The error chain on one line, each cause once: a cause whose text its parent's message
/// already contains (errors that print their source) is not repeated.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if parts.last().is_some_and(|p| p.contains(&text)) {
            continue;
        }
        parts.push(text);
    }
    parts.join(": ").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[derive(Debug, thiserror::Error)]
    #[error("f.gz: corrupt gzip stream: {0}")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("invalid deflate data")]
    struct Inner;

    #[test]
    fn causes_that_the_message_already_shows_are_not_repeated() {
        let e = anyhow::Error::new(Outer(Inner)).context("reading MNIST");
        assert_eq!(
            one_line(&e),
            "reading MNIST: f.gz: corrupt gzip stream: invalid deflate data"
        );
        // Control: a cause not shown by its parent is kept.
        let e = anyhow::Error::new(Inner).context("reading MNIST");
        assert_eq!(one_line(&e), "reading MNIST: invalid deflate data");
    }
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
        Err(format!("{x} must be a finite number > 0"))
    }
}

/// A finite non-negative number (clap value parser).
pub fn non_negative(s: &str) -> Result<f64, String> {
    let x: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if x >= 0.0 && x.is_finite() {
        Ok(x)
    } else {
        Err(format!("{x} must be a finite number >= 0"))
    }
}

/// A result the command computed that is not a finite number (exit code 1: the inputs are
/// valid but outside what f64 can represent for this computation).
#[derive(Debug, thiserror::Error)]
#[error("{what} is not finite ({detail}): {hint}")]
pub struct NonFinite {
    /// What was computed.
    pub what: String,
    /// Its value(s).
    pub detail: String,
    /// Which inputs to change.
    pub hint: &'static str,
}

/// Fails with [`NonFinite`] unless every value is finite.
pub fn ensure_finite(what: &str, values: &[f64], hint: &'static str) -> anyhow::Result<()> {
    let bad = values.iter().filter(|v| !v.is_finite()).count();
    if bad == 0 {
        return Ok(());
    }
    let detail = if values.len() == 1 {
        format!("{}", values[0])
    } else {
        let first = values
            .iter()
            .find(|v| !v.is_finite())
            .copied()
            .unwrap_or(f64::NAN);
        format!("{bad} of {} entries, e.g. {first}", values.len())
    };
    Err(NonFinite {
        what: what.to_string(),
        detail,
        hint,
    }
    .into())
}

/// Prints `value` as one JSON line.
pub fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

/// The most cells `--jobs` runs at once: far above any machine's cores.
pub const MAX_JOBS: u64 = 1024;

/// `--jobs N` on this process's threads, or without it one cell per thread.
pub fn jobs(arg: Option<u64>, config: &crate::config::Config) -> ufom_bench::harness::jobs::Jobs {
    use ufom_bench::harness::jobs::Jobs;
    match arg {
        Some(n) => Jobs::new(n as usize, config.threads),
        None => Jobs::for_threads(config.threads),
    }
}
