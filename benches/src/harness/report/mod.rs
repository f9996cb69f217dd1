//! Reporters: turn [`ExperimentReport`] records into files for people and tools.
//!
//! Every reporter reads only the records of [`super::record`] and writes every file with
//! [`super::store::write_atomic`] (temp file + rename), so an interrupted run never leaves a
//! half-written report. [`write_all`] fans out to every reporter, like criterion's composite
//! report: `<experiment>.json`, `<experiment>.md`, `<experiment>_<figure>.svg` and
//! `bencher.json`. All output is deterministic: writing the same records twice gives the same
//! bytes.

mod bencher;
pub mod calibration;
mod markdown;
pub mod perf_block;
pub mod readme;
pub mod schema;
mod svg;

pub use bencher::{bencher_metrics, BencherFile, BencherMetric, BencherReporter, BENCHER_FILE};
pub use markdown::{render_markdown, MarkdownReporter};
pub use svg::{render_figure, SvgReporter};

use super::record::{ExperimentReport, Stat};
use super::store::write_json;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Something that writes files from experiment records.
pub trait Reporter {
    /// Short name, used in error messages.
    fn name(&self) -> &'static str;

    /// Writes this reporter's files for `reports` under `out_dir` and returns their paths.
    fn write(&self, reports: &[ExperimentReport], out_dir: &Path) -> Result<Vec<PathBuf>>;
}

/// Writes each report as pretty JSON to `<experiment>.json`.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonReporter;

impl Reporter for JsonReporter {
    fn name(&self) -> &'static str {
        "json"
    }

    fn write(&self, reports: &[ExperimentReport], out_dir: &Path) -> Result<Vec<PathBuf>> {
        let mut paths = Vec::with_capacity(reports.len());
        for report in reports {
            let path = out_dir.join(format!("{}.json", file_stem(report.experiment.name())));
            write_json(&path, report)?;
            paths.push(path);
        }
        Ok(paths)
    }
}

/// Every reporter, in the order [`write_all`] runs them.
pub fn all_reporters() -> Vec<Box<dyn Reporter>> {
    vec![
        Box::new(JsonReporter),
        Box::new(MarkdownReporter),
        Box::new(SvgReporter::default()),
        Box::new(BencherReporter),
    ]
}

/// Runs every reporter on `reports` into `out_dir` and returns the paths written.
///
/// A failing reporter does not stop the others; the error then names every reporter that
/// failed.
pub fn write_all(reports: &[ExperimentReport], out_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    let mut errors = Vec::new();
    for reporter in all_reporters() {
        match reporter.write(reports, out_dir) {
            Ok(p) => paths.extend(p),
            Err(e) => errors.push(format!("{} reporter: {e:#}", reporter.name())),
        }
    }
    if errors.is_empty() {
        Ok(paths)
    } else {
        anyhow::bail!(
            "writing reports into {}: {}",
            out_dir.display(),
            errors.join("; ")
        )
    }
}

/// A name made safe for a file name: ASCII letters, digits, `-`, `_` and `.` are kept, any
/// other character becomes `_` (the same rule as the cell store).
pub fn file_stem(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() || safe.chars().all(|c| c == '.') {
        format!("_{safe}")
    } else {
        safe
    }
}

/// File name of a figure's SVG: `<experiment>_<figure id>.svg`.
pub fn figure_file_name(experiment: &str, figure_id: &str) -> String {
    format!("{}_{}.svg", file_stem(experiment), file_stem(figure_id))
}

/// Formats a number with 4 significant digits: fixed notation for magnitudes in
/// [1e-3, 1e6), scientific otherwise; trailing zeros are dropped. NaN and infinities are
/// written as `NaN`, `inf` and `-inf`.
pub fn fmt_num(x: f64) -> String {
    const SIG: i32 = 4;
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return "0".into();
    }
    let mag = x.abs();
    if (1e-3..1e6).contains(&mag) {
        let exp = mag.log10().floor() as i32;
        let decimals = (SIG - 1 - exp).max(0) as usize;
        let s = format!("{x:.decimals$}");
        // Rounding can carry into a new digit (9999.95 → "10000.0"): still fine to trim.
        trim_zeros(&s)
    } else {
        let s = format!("{:.*e}", (SIG - 1) as usize, x);
        match s.split_once('e') {
            Some((mantissa, exp)) => format!("{}e{exp}", trim_zeros(mantissa)),
            None => s,
        }
    }
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// `mean ± std` with [`fmt_num`]; just the mean when there is one value.
pub fn fmt_stat(s: &Stat) -> String {
    if s.n <= 1 {
        fmt_num(s.mean)
    } else {
        format!("{} ± {}", fmt_num(s.mean), fmt_num(s.std))
    }
}

/// A byte count with a binary unit (`512 B`, `1.5 KiB`, `3.25 MiB`).
pub fn fmt_bytes(bytes: usize) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{} {unit}", fmt_num(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(1.0), "1");
        assert_eq!(fmt_num(0.123456), "0.1235");
        assert_eq!(fmt_num(-12.5), "-12.5");
        assert_eq!(fmt_num(123456.0), "123456");
        assert_eq!(fmt_num(1234567.0), "1.235e6");
        assert_eq!(fmt_num(0.00001234), "1.234e-5");
        assert_eq!(fmt_num(f64::NAN), "NaN");
        assert_eq!(fmt_num(f64::NEG_INFINITY), "-inf");
        assert_eq!(fmt_bytes(512), "512 B");
        assert_eq!(fmt_bytes(1536), "1.5 KiB");
        assert_eq!(file_stem("a/b c"), "a_b_c");
        assert_eq!(file_stem(".."), "_..");
    }
}
