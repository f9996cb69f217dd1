//! The README's result sections, generated from the committed reports: between the markers
//! `<!-- BEGIN reports/<experiment>.json -->` and `<!-- END reports/<experiment>.json -->` the
//! README holds exactly what [`render_block`] makes of that report (`ufom report reports
//! --readme README.md` rewrites the blocks; `--check` and a test fail when they differ), so no
//! number in those sections is copied by hand.

use super::super::record::ExperimentReport;
use super::fmt_num;
use super::markdown::{write_claims, write_table};
use anyhow::{bail, Result};
use std::fmt::Write as _;

/// The opening marker of `experiment`'s block.
pub fn begin_marker(experiment: &str) -> String {
    format!("<!-- BEGIN reports/{experiment}.json -->")
}

/// The closing marker of `experiment`'s block.
pub fn end_marker(experiment: &str) -> String {
    format!("<!-- END reports/{experiment}.json -->")
}

/// The README block of one report: provenance, the paper's tables with ours beside them, the
/// claims with their verdicts, and each method's seconds per call.
pub fn render_block(r: &ExperimentReport) -> String {
    let mut md = String::new();
    let commit = r.environment.git_commit.as_deref().unwrap_or("unknown");
    let short: String = commit.chars().take(12).collect();
    let train_s: f64 = r
        .methods
        .iter()
        .flat_map(|m| &m.runs)
        .map(|x| x.wall_s)
        .sum();
    let _ = writeln!(
        md,
        "*From [`reports/{e}.json`](reports/{e}.json) ([Markdown](reports/{e}.md)): scale {scale}, \
         cells computed by {code}, report assembled at commit `{short}`, {seeds} seed(s), budget {calls} calls per run ({desc}); cells took {mins} \
         min of training and evaluation on {device}.*",
        e = r.experiment,
        scale = serde_json::to_value(r.scale)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        code = r.describe_cell_code(),
        seeds = r.seeds.len(),
        calls = r.budget.calls,
        desc = r.budget.description,
        mins = fmt_num(train_s / 60.0),
        device = r.environment.device,
    );
    let _ = writeln!(md);
    for t in &r.tables {
        let _ = write_table(&mut md, t, "####");
    }
    let _ = write_claims(&mut md, &r.claims, "####");
    let rates: Vec<String> = r
        .methods
        .iter()
        .map(|m| format!("{} {}", m.method, fmt_num(1e3 * m.seconds_per_call)))
        .collect();
    let _ = writeln!(
        md,
        "Training time per function call (ms): {}.",
        rates.join(", ")
    );
    let diverged: Vec<String> = r
        .methods
        .iter()
        .filter(|m| m.diverged > 0)
        .map(|m| format!("{} ({} of {})", m.method, m.diverged, m.runs.len()))
        .collect();
    if !diverged.is_empty() {
        let _ = writeln!(md, "Diverged runs: {}.", diverged.join(", "));
    }
    md
}

/// `readme` with every generated block replaced by the block of its report. A block whose
/// report is missing, or an unclosed block, is an error naming it.
pub fn update(readme: &str, reports: &[ExperimentReport]) -> Result<String> {
    update_with(readme, |name| {
        reports
            .iter()
            .find(|r| r.experiment.name() == name)
            .map(render_block)
    })
}

/// [`update`] with the blocks from `block(name)` (`None`: no such report) — experiment
/// reports and the estimator map (`reports/map.json`) alike.
pub fn update_with(readme: &str, block: impl Fn(&str) -> Option<String>) -> Result<String> {
    let mut out = String::with_capacity(readme.len());
    let mut rest = readme;
    while let Some(start) = rest.find("<!-- BEGIN reports/") {
        let after = &rest[start..];
        let Some(name_end) = after.find(".json -->") else {
            bail!(
                "README: unterminated marker at `{}`",
                &after[..after.len().min(40)]
            );
        };
        let name = &after["<!-- BEGIN reports/".len()..name_end];
        let begin = begin_marker(name);
        let end = end_marker(name);
        let Some(end_at) = after.find(&end) else {
            bail!("README: `{begin}` has no `{end}`");
        };
        let Some(text) = block(name) else {
            bail!("README has a block for reports/{name}.json but no report in the folder renders it (absent, or without what the block shows)");
        };
        out.push_str(&rest[..start]);
        out.push_str(&begin);
        out.push_str("\n\n");
        out.push_str(&text);
        out.push('\n');
        out.push_str(&end);
        rest = &after[end_at + end.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The experiments that have a block in `readme`.
pub fn blocks_in(readme: &str) -> Vec<String> {
    readme
        .match_indices("<!-- BEGIN reports/")
        .filter_map(|(i, m)| {
            let after = &readme[i + m.len()..];
            after.find(".json -->").map(|e| after[..e].to_string())
        })
        .collect()
}
