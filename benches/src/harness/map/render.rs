//! The map's reports, made from `map.json` alone: a Markdown table per problem, one SVG per
//! problem (relative bias² + variance against calls per estimate, one point per setting,
//! coloured by estimator family) and the README block.

use super::{MapPoint, MapReport, ProblemMap};
use crate::harness::record::{Figure, Series};
use crate::harness::report::render_figure;
use crate::harness::report::{fmt_bytes, fmt_num};
use crate::harness::store::{write_atomic, write_json};
use anyhow::Result;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Relative errors below this are drawn at it (exact estimators: rounding only).
pub const PLOT_FLOOR: f64 = 1e-16;

/// The SVG's file name for a problem.
pub fn figure_file(problem: &str) -> String {
    format!("map_{problem}.svg")
}

/// Writes `map.json`, `map.md` and the SVGs into `out` (atomically, each); returns the paths.
pub fn write(report: &MapReport, out: &Path) -> Result<Vec<PathBuf>> {
    let json = out.join("map.json");
    write_json(&json, report)?;
    let mut paths = vec![json];
    paths.extend(write_views(report, out)?);
    Ok(paths)
}

/// Writes `map.md` and the SVGs from a report (what `ufom report` re-renders).
pub fn write_views(report: &MapReport, out: &Path) -> Result<Vec<PathBuf>> {
    let md = out.join("map.md");
    write_atomic(&md, markdown(report).as_bytes())?;
    let mut paths = vec![md];
    for p in &report.problems {
        let path = out.join(figure_file(&p.name));
        write_atomic(&path, render_figure(&figure(p), 820, 460)?.as_bytes())?;
        paths.push(path);
    }
    Ok(paths)
}

fn sci(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else {
        format!("{x:.2e}")
    }
}

/// `value [lo, hi]` relative to `norm2`; the value alone without an interval or when it is a
/// point.
fn with_ci(value: f64, ci: Option<[f64; 2]>, norm2: f64) -> String {
    match ci {
        Some([lo, hi]) if hi > lo => format!(
            "{} [{}, {}]",
            sci(value / norm2),
            sci(lo / norm2),
            sci(hi / norm2)
        ),
        _ => sci(value / norm2),
    }
}

fn row(md: &mut String, pt: &MapPoint, norm2: f64) {
    let [lo, hi] = pt.projected_interval;
    let _ = writeln!(
        md,
        "| {} | {} | {} | {} | [{}, {}] {} | {} | {} | {} | {} |",
        pt.label,
        pt.n,
        with_ci(pt.bias2, pt.bias2_ci95, norm2),
        with_ci(pt.variance, pt.variance_ci95, norm2),
        sci(lo),
        sci(hi),
        if pt.consistent_with_unbiased {
            "∋ 0"
        } else {
            "∌ 0"
        },
        fmt_num(pt.grad_calls),
        fmt_num(pt.hvp_calls),
        fmt_num(pt.ms_per_estimate),
        fmt_bytes(pt.peak_state_bytes),
    );
}

/// One problem's table.
fn table(md: &mut String, p: &ProblemMap, heading: &str) {
    let _ = writeln!(
        md,
        "{heading} {} — {}\n\n‖G_exact‖² = {}; dim φ = {}.\n",
        p.name,
        p.description,
        sci(p.exact_sq_norm),
        p.inner_dim
    );
    let _ = writeln!(
        md,
        "| setting | n | bias²/‖G‖² [95 % CI] | variance over ξ at this (θ, T) /‖G‖² [95 % CI] | 99 % CI of uᵀ(g − G) | grad calls | HVP calls | ms / estimate | peak memory |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    for pt in &p.points {
        row(md, pt, p.exact_sq_norm);
    }
    let _ = writeln!(md);
}

fn provenance(r: &MapReport) -> String {
    let commit = r.environment.git_commit.as_deref().unwrap_or("unknown");
    let short: String = commit.chars().take(12).collect();
    format!(
        "Scale {scale}, commit `{short}`, seed {seed}; {samples} estimates per randomised setting \
         (UFOM), {repeats} per deterministic one; {mins} min on {device} ({threads} threads). \
         Command: `{cmd}`.",
        scale = serde_json::to_value(r.scale)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        seed = r.seed,
        samples = r.samples,
        repeats = r.repeats,
        mins = fmt_num(r.wall_s / 60.0),
        device = r.environment.device,
        threads = r.environment.threads,
        cmd = r.command,
    )
}

const READING: &str = "bias² is the unbiased estimate ‖ḡ − G‖² − tr(S)/n of ‖E g − G‖² \
(it may come out slightly negative for an unbiased estimator); variance is tr(S) = E‖g − E g‖², \
the spread over the estimator's own draws ξ at the one fixed (θ, T) — not the paper's V², a \
maximum over θ of a variance over tasks (the map does not vary T); both relative to ‖G‖², G the \
exact hypergradient (stored exact, Alg. 2) at the problem's (θ, T), with 95 % intervals by batch \
means (K = min(20, n/2) batches). Each setting draws from its own seed, derived from the map's \
seed and the setting. \
The interval is the 99 % t-interval of the mean of uᵀ(g − G) along a fixed random unit u: \
∋ 0 where the data are consistent with an unbiased estimator. Calls and time are per estimate; \
peak memory is the bytes of inner states held at once, with the gradient graphs stored exact \
and truncated keep (unrolled: its states only, a lower bound). AID and Neumann differentiate the \
inner minimiser φ*, not φ_r, so their bias at a finite r is the price of that model; where the \
inner loss does not involve θ (the counterexample, MAML) they, and truncation below K = r, \
return ∂L_out/∂θ alone, and CG on an indefinite Hessian (the MLP) can move away from H⁻¹g.";

/// The whole Markdown report.
pub fn markdown(r: &MapReport) -> String {
    let mut md = String::from("# Bias–variance–cost map of the hypergradient estimators\n\n");
    let _ = writeln!(md, "{}\n\n{READING}\n", provenance(r));
    for p in &r.problems {
        table(&mut md, p, "##");
        let _ = writeln!(md, "![{0}]({1})\n", p.name, figure_file(&p.name));
    }
    md
}

/// The README block: provenance, then per problem its figure and table.
pub fn readme_block(r: &MapReport) -> String {
    let mut md = format!(
        "*From [`reports/map.json`](reports/map.json) ([Markdown](reports/map.md)). {}*\n\n{READING}\n\n",
        provenance(r)
    );
    for p in &r.problems {
        table(&mut md, p, "####");
        let _ = writeln!(md, "![{0}](reports/{1})\n", p.name, figure_file(&p.name));
    }
    md
}

/// One problem's figure: relative bias² + variance against calls per estimate, per family.
pub fn figure(p: &ProblemMap) -> Figure {
    let mut families: Vec<&str> = Vec::new();
    for pt in &p.points {
        if !families.contains(&pt.family.as_str()) {
            families.push(&pt.family);
        }
    }
    let series = families
        .iter()
        .map(|f| {
            let pts: Vec<&MapPoint> = p.points.iter().filter(|pt| &pt.family == f).collect();
            Series {
                label: f.to_string(),
                x: pts.iter().map(|pt| pt.calls()).collect(),
                y: pts.iter().map(|pt| pt.rel_mse().max(PLOT_FLOOR)).collect(),
                y_err: None,
            }
        })
        .collect();
    let mut fig = Figure::lines(
        &p.name,
        &format!(
            "{}: (bias² + variance)/‖G‖² vs cost (exact at 1e-16)",
            p.name
        ),
        "gradient + HVP calls per estimate",
        "relative bias² + variance",
        series,
    )
    .log_x()
    .log_y(true);
    fig.scatter = true;
    fig
}
