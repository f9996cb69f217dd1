//! `<experiment>.md`: a human summary of one experiment — setup, the paper's tables with our
//! numbers beside the published ones, a per-method summary, notes and links to the figures.
//!
//! This file lays out the page; [`tables`] writes its tables.

mod tables;

use super::super::record::ExperimentReport;
use super::super::store::write_atomic;
use super::{figure_file_name, file_stem, Reporter};
use anyhow::Result;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use tables::{inline, link_text, write_summary, MISSING};
pub(crate) use tables::{write_claims, write_table};

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
            let path = out_dir.join(format!("{}.md", file_stem(report.experiment.name())));
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
        inline(r.experiment.name()),
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
        "- **Cells computed by:** {} · **analysed by:** {} · **report assembled at commit:** {}",
        inline(&r.describe_cell_code()),
        r.analysed_by
            .as_ref()
            .map_or("unrecorded".to_string(), |c| inline(&c.describe())),
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
            let file = figure_file_name(r.experiment.name(), &fig.id);
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
