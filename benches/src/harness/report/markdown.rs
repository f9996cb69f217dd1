//! `<experiment>.md`: a human summary of one experiment — setup, the paper's tables with our
//! numbers beside the published ones, a per-method summary, notes and links to the figures.

use super::super::record::{ClaimVerdict, ExperimentReport, MethodReport, Stat, Table, Verdict};
use super::super::store::write_atomic;
use super::{figure_file_name, file_stem, fmt_bytes, fmt_num, fmt_stat, Reporter};
use anyhow::Result;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Placeholder for a missing value.
const MISSING: &str = "—";

/// Writes `<experiment>.md` for each report.
#[derive(Clone, Copy, Debug, Default)]
pub struct MarkdownReporter;

impl Reporter for MarkdownReporter {
    fn name(&self) -> &'static str {
        "markdown"
    }

    fn write(&self, reports: &[ExperimentReport], out_dir: &Path) -> Result<Vec<PathBuf>> {
        let mut paths = Vec::with_capacity(reports.len());
        for report in reports {
            let path = out_dir.join(format!("{}.md", file_stem(&report.experiment)));
            write_atomic(&path, render_markdown(report).as_bytes())?;
            paths.push(path);
        }
        Ok(paths)
    }
}

/// The Markdown text of one report (what [`MarkdownReporter`] writes).
pub fn render_markdown(r: &ExperimentReport) -> String {
    let mut md = String::new();
    // Writing into a String cannot fail.
    let _ = write_report(&mut md, r);
    md
}

fn write_report(md: &mut String, r: &ExperimentReport) -> std::fmt::Result {
    writeln!(md, "# {}", inline(&r.title))?;
    writeln!(md)?;
    writeln!(
        md,
        "Experiment `{}` · scale **{}** · report format v{}",
        inline(&r.experiment),
        scale_name(r),
        r.schema_version
    )?;
    writeln!(md)?;
    if !r.scale_note.trim().is_empty() {
        for line in r.scale_note.lines() {
            writeln!(md, "> {line}")?;
        }
        writeln!(md)?;
    }

    writeln!(md, "## Setup")?;
    writeln!(md)?;
    writeln!(
        md,
        "- **Budget:** {} function calls per run — {}",
        r.budget.calls,
        inline(&r.budget.description)
    )?;
    let seeds: Vec<String> = r.seeds.iter().map(u64::to_string).collect();
    writeln!(
        md,
        "- **Seeds ({}):** {}",
        r.seeds.len(),
        if seeds.is_empty() {
            MISSING.to_string()
        } else {
            seeds.join(", ")
        }
    )?;
    let env = &r.environment;
    writeln!(
        md,
        "- **Commit:** {}",
        match &env.git_commit {
            Some(c) if !c.is_empty() => format!("`{}`", inline(c)),
            _ => "unknown".to_string(),
        }
    )?;
    writeln!(
        md,
        "- **Device:** {} · **dtype:** {} · **threads:** {} · **platform:** {}",
        inline(&env.device),
        inline(&env.dtype),
        env.threads,
        inline(&env.platform)
    )?;
    if !env.crate_versions.is_empty() {
        let versions: Vec<String> = env
            .crate_versions
            .iter()
            .map(|(k, v)| format!("{} {}", inline(k), inline(v)))
            .collect();
        writeln!(md, "- **Versions:** {}", versions.join(", "))?;
    }
    writeln!(md)?;

    if !r.config.is_null() {
        writeln!(md, "<details><summary>Configuration</summary>")?;
        writeln!(md)?;
        writeln!(md, "```json")?;
        let config =
            serde_json::to_string_pretty(&r.config).unwrap_or_else(|_| r.config.to_string());
        writeln!(md, "{config}")?;
        writeln!(md, "```")?;
        writeln!(md)?;
        writeln!(md, "</details>")?;
        writeln!(md)?;
    }

    for table in &r.tables {
        write_table(md, table, "##")?;
    }
    write_claims(md, &r.claims, "##")?;

    write_summary(md, &r.methods)?;

    if !r.figures.is_empty() {
        writeln!(md, "## Figures")?;
        writeln!(md)?;
        for fig in &r.figures {
            let file = figure_file_name(&r.experiment, &fig.id);
            let title = if fig.title.trim().is_empty() {
                fig.id.as_str()
            } else {
                fig.title.as_str()
            };
            writeln!(md, "### {}", inline(title))?;
            writeln!(md)?;
            writeln!(md, "![{}]({file})", link_text(title))?;
            writeln!(md)?;
        }
    }

    if !r.notes.is_empty() {
        writeln!(md, "## Notes")?;
        writeln!(md)?;
        for note in &r.notes {
            writeln!(md, "- {}", inline(note))?;
        }
        writeln!(md)?;
    }
    Ok(())
}

fn scale_name(r: &ExperimentReport) -> String {
    serde_json::to_value(r.scale)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{:?}", r.scale).to_lowercase())
}

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
        let verdict = match c.verdict {
            Verdict::Supported => "**supported**",
            Verdict::Contradicted => "**contradicted**",
            Verdict::NotResolved => "not resolved",
        };
        writeln!(
            md,
            "| {} | {} | {} | {} | {} | {effect} | {} | {} | {verdict} |",
            cell(&c.statement),
            cell(&c.source),
            cell(&c.metric),
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
         contradicted: significant at α = 0.05 for / against the claim; otherwise not resolved."
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
fn write_summary(md: &mut String, methods: &[MethodReport]) -> std::fmt::Result {
    if methods.is_empty() {
        return Ok(());
    }
    let metrics: BTreeSet<&str> = methods
        .iter()
        .flat_map(|m| m.summary.keys().map(String::as_str))
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
        let _ = write!(header, " {} |", cell(m));
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
                .get(*key)
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

fn opt_stat(s: Option<Stat>) -> String {
    s.as_ref().map(fmt_stat).unwrap_or_else(|| MISSING.into())
}

/// Text on one line (newlines become spaces).
fn inline(s: &str) -> String {
    s.split(['\r', '\n'])
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text for a table cell: one line, `|` escaped.
fn cell(s: &str) -> String {
    inline(s).replace('|', "\\|")
}

/// Text for a link or image label: one line, brackets escaped.
fn link_text(s: &str) -> String {
    inline(s).replace('[', "\\[").replace(']', "\\]")
}
