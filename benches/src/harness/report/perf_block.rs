//! The engine block of the README (`<!-- BEGIN reports/perf.json -->`): the `engine` section of
//! `reports/perf.json` — each reference case through each oracle implementation, criterion's
//! times and, where `just perf-jax` measured the JAX twin on the same machine in the same run,
//! the alternated ratios to it — as one table, so no timing in that section is copied by hand.
//! Without a JAX run the JAX columns are absent.

use crate::harness::perf::engine::EngineReport;
use anyhow::{Context as _, Result};
use std::fmt::Write as _;

fn ms(x: Option<f64>) -> String {
    x.map_or("—".into(), |x| format!("{x:.2}"))
}

fn ratio(x: Option<f64>) -> String {
    x.map_or("—".into(), |x| format!("{x:.2}"))
}

/// The block made of the `engine` section of `perf_json` (the text of `perf.json`).
pub fn perf_block(perf_json: &str) -> Result<String> {
    let value: serde_json::Value = serde_json::from_str(perf_json).context("parsing perf.json")?;
    let engine: EngineReport = serde_json::from_value(
        value
            .get("engine")
            .cloned()
            .context("perf.json has no `engine` section")?,
    )
    .context("reading perf.json's `engine` section")?;
    Ok(engine_block(&engine))
}

/// The block of an `engine` section (also what `just perf-jax` prints at its end).
pub fn engine_block(engine: &EngineReport) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "*From [`reports/perf.json`](reports/perf.json) (`just perf`{}): f32, one inner gradient and one HVP pair per call, criterion means; matmul 1000×784·784×256 at {:.0} GFLOP/s; RAYON_NUM_THREADS {}.*",
        if engine.jax.is_some() { " then `just perf-jax`" } else { "" },
        engine.matmul_gflops,
        engine.process.rayon_num_threads.as_deref().unwrap_or("unset"),
    );
    let _ = writeln!(md);
    let jax = engine.jax.as_ref();
    if let Some(j) = jax {
        let _ = writeln!(
            md,
            "JAX {} (jaxlib {}, Python {}) measured by `{}` at commit `{}`: {} rounds alternated with ufom's on each side, each the median of {} calls; ufom / JAX above 1 means ufom is slower.{}",
            j.versions.jax,
            j.versions.jaxlib,
            j.versions.python,
            j.command,
            j.git_commit.as_deref().map_or("unknown", |c| &c[..c.len().min(12)]),
            j.rounds,
            j.reps,
            if j.refused.is_empty() {
                String::new()
            } else {
                format!(" No ratio (the twin disagreed): {}.", j.refused.join("; "))
            }
        );
        let _ = writeln!(md);
    }
    let mut header = "| case | oracles | gradient (ms) | HVP (ms) | HVP / gradient |".to_string();
    let mut rule = "|---|---|---:|---:|---:|".to_string();
    if jax.is_some() {
        header += " gradient ufom / JAX (ms) | ratio | HVP ufom / JAX (ms) | ratio |";
        rule += "---:|---:|---:|---:|";
    }
    let _ = writeln!(md, "{header}\n{rule}");
    for c in &engine.cases {
        let mut row = format!(
            "| {} | {} | {:.2} | {:.2} | {:.2} |",
            c.case, c.oracles, c.gradient_ms, c.hvp_ms, c.hvp_over_gradient
        );
        if jax.is_some() {
            let _ = write!(
                row,
                " {} / {} | {} | {} / {} | {} |",
                ms(c.paired_gradient_ms),
                ms(c.jax_gradient_ms),
                ratio(c.gradient_over_jax),
                ms(c.paired_hvp_ms),
                ms(c.jax_hvp_ms),
                ratio(c.hvp_over_jax),
            );
        }
        let _ = writeln!(md, "{row}");
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed perf.json renders, with the JAX columns exactly when a JAX run is in it;
    /// a file without an engine section is refused (the control).
    #[test]
    fn the_engine_table_has_jax_columns_only_with_a_jax_run() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../reports/perf.json");
        let text = std::fs::read_to_string(path).expect("reports/perf.json");
        let md = perf_block(&text).expect("renders");
        let mut value: serde_json::Value = serde_json::from_str(&text).expect("json");
        let has_jax = value["engine"].get("jax").is_some();
        assert_eq!(md.contains("ufom / JAX"), has_jax, "{md}");
        assert!(md.contains("| conv_f64 | analytic |"), "{md}");
        // Without the JAX run: no JAX column.
        if let Some(engine) = value["engine"].as_object_mut() {
            engine.remove("jax");
        }
        let plain = perf_block(&value.to_string()).expect("renders");
        assert!(!plain.contains("JAX"), "{plain}");
        assert!(perf_block(r#"{"criterion": {}}"#).is_err());
    }
}
