//! The tables of an experiment's page: the paper's tables with our numbers beside the
//! published ones, the claims with their verdicts (both also used by the README's blocks), and
//! the per-method summary; with the text escaping for cells and links.

use crate::harness::claims::{verdict_word, MIN_PAIRS};
use crate::harness::record::{ClaimVerdict, MethodReport, Metric, Stat, Table, Verdict};
use crate::harness::report::{fmt_bytes, fmt_num, fmt_stat};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// Placeholder for a missing value.
pub(super) const MISSING: &str = "—";

/// The paper's claims with their verdicts, as a table.
pub(crate) fn write_claims(
    md: &mut String,
    claims: &[ClaimVerdict],
    heading: &str,
) -> std::fmt::Result {
    if claims.is_empty() {
        return Ok(());
    }
    writeln!(md, "{heading} The paper's claims, tested on these runs")?;
    writeln!(md)?;
    writeln!(
        md,
        "| Claim | Source | Metric | Test | n | Effect [95 % CI] | d_z | p | Verdict |"
    )?;
    writeln!(md, "|---|---|---|---|---:|---|---:|---:|---|")?;
    for c in claims {
        let effect = match (c.effect, c.ci95) {
            (Some(e), Some([lo, hi])) => {
                format!("{} [{}, {}]", fmt_num(e), fmt_num(lo), fmt_num(hi))
            }
            (Some(e), None) => fmt_num(e),
            _ => MISSING.into(),
        };
        let opt = |v: Option<f64>| v.map(fmt_num).unwrap_or_else(|| MISSING.into());
        // A significant verdict in bold.
        let word = verdict_word(c.verdict);
        let mut verdict = match c.verdict {
            Verdict::Supported | Verdict::Contradicted => format!("**{word}**"),
            Verdict::NotResolved | Verdict::InsufficientData => word.to_string(),
        };
        if c.diverged > 0 {
            let _ = write!(verdict, " ({} diverged, left out)", c.diverged);
        }
        writeln!(
            md,
            "| {} | {} | {} | {} | {} | {effect} | {} | {} | {verdict} |",
            cell(&c.statement),
            cell(&c.source),
            cell(c.metric.name()),
            cell(&c.test),
            c.n,
            opt(c.effect_size_dz),
            opt(c.p_value),
        )?;
    }
    writeln!(md)?;
    writeln!(
        md,
        "Effect: mean difference in the claim's direction (positive = as claimed). Supported / \
         contradicted: significant at α = 0.05 for / against the claim; otherwise not resolved. \
         Insufficient data: fewer than {MIN_PAIRS} pairs, so no test. Pairs with a diverged run \
         are left out of the test and counted beside the verdict."
    )?;
    writeln!(md)?;
    Ok(())
}

/// A paper table: one row per method, "ours" and "paper" side by side for each column.
pub(crate) fn write_table(md: &mut String, t: &Table, heading: &str) -> std::fmt::Result {
    let caption = if t.caption.trim().is_empty() {
        "Table"
    } else {
        t.caption.as_str()
    };
    writeln!(md, "{heading} {}", inline(caption))?;
    writeln!(md)?;
    let mut header = String::from("| Method |");
    let mut rule = String::from("|---|");
    for (i, key) in t.columns.iter().enumerate() {
        let name = t
            .headers
            .get(i)
            .filter(|h| !h.trim().is_empty())
            .unwrap_or(key);
        let name = cell(name);
        let _ = write!(header, " {name} (ours) | {name} (paper) |");
        rule.push_str("---:|---:|");
    }
    writeln!(md, "{header}")?;
    writeln!(md, "{rule}")?;
    for row in &t.rows {
        let mut line = format!("| {} |", cell(&row.label));
        for key in &t.columns {
            let ours = row
                .ours
                .get(key)
                .map(fmt_stat)
                .unwrap_or_else(|| MISSING.into());
            let paper = row
                .published
                .get(key)
                .map(|v| fmt_num(*v))
                .unwrap_or_else(|| MISSING.into());
            let _ = write!(line, " {ours} | {paper} |");
        }
        writeln!(md, "{line}")?;
    }
    writeln!(md)?;
    Ok(())
}

/// Per-method summary: every summary metric, calls, wall time, time per call, memory.
pub(super) fn write_summary(md: &mut String, methods: &[MethodReport]) -> std::fmt::Result {
    if methods.is_empty() {
        return Ok(());
    }
    let metrics: BTreeSet<Metric> = methods
        .iter()
        .flat_map(|m| m.summary.keys().copied())
        .collect();
    writeln!(md, "## Methods")?;
    writeln!(md)?;
    writeln!(
        md,
        "Final metrics over finished runs (mean ± std over seeds)."
    )?;
    writeln!(md)?;
    let mut header = String::from("| Method | runs | diverged |");
    let mut rule = String::from("|---|---:|---:|");
    for m in &metrics {
        let _ = write!(header, " {} |", cell(m.name()));
        rule.push_str("---:|");
    }
    header.push_str(" calls | wall time (s) | s / call | peak state |");
    rule.push_str("---:|---:|---:|---:|");
    writeln!(md, "{header}")?;
    writeln!(md, "{rule}")?;
    for m in methods {
        let mut line = format!(
            "| {} | {} | {} |",
            cell(&m.method),
            m.runs.len(),
            m.diverged
        );
        for key in &metrics {
            let v = m
                .summary
                .get(key)
                .map(fmt_stat)
                .unwrap_or_else(|| MISSING.into());
            let _ = write!(line, " {v} |");
        }
        let calls: Vec<f64> = m.runs.iter().map(|r| r.calls.total as f64).collect();
        let wall: Vec<f64> = m.runs.iter().map(|r| r.wall_s).collect();
        let peak = m.runs.iter().map(|r| r.peak_state_bytes).max();
        let _ = write!(
            line,
            " {} | {} | {} | {} |",
            opt_stat(Stat::of(&calls)),
            opt_stat(Stat::of(&wall)),
            if m.seconds_per_call.is_finite() {
                fmt_num(m.seconds_per_call)
            } else {
                MISSING.into()
            },
            peak.map(fmt_bytes).unwrap_or_else(|| MISSING.into()),
        );
        writeln!(md, "{line}")?;
    }
    writeln!(md)?;
    Ok(())
}

pub(super) fn opt_stat(s: Option<Stat>) -> String {
    s.as_ref().map(fmt_stat).unwrap_or_else(|| MISSING.into())
}

/// Text on one line (newlines become spaces).
pub(super) fn inline(s: &str) -> String {
    s.split(['\r', '\n'])
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text for a table cell: one line, `|` escaped.
pub(super) fn cell(s: &str) -> String {
    inline(s).replace('|', "\\|")
}

/// Text for a link or image label: one line, brackets escaped.
pub(super) fn link_text(s: &str) -> String {
    inline(s).replace('[', "\\[").replace(']', "\\]")
}
