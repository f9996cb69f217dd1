//! Reading criterion's `estimates.json` files (the measure stage's output) for the summary.

use crate::harness::store::read_json;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Criterion's `estimates.json` (the parts read here). Times are in nanoseconds per iteration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CriterionEstimates {
    /// Mean time per iteration.
    pub mean: CriterionEstimate,
    /// Median time per iteration.
    pub median: CriterionEstimate,
    /// Standard deviation of the per-sample mean times.
    pub std_dev: CriterionEstimate,
}

/// One statistic of criterion's `estimates.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CriterionEstimate {
    /// Bootstrap confidence interval.
    pub confidence_interval: CriterionInterval,
    /// Point estimate (ns).
    pub point_estimate: f64,
    /// Bootstrap standard error (ns).
    pub standard_error: f64,
}

/// A confidence interval of criterion's `estimates.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CriterionInterval {
    /// e.g. 0.95.
    pub confidence_level: f64,
    /// Lower bound (ns).
    pub lower_bound: f64,
    /// Upper bound (ns).
    pub upper_bound: f64,
}

/// Where criterion keeps the latest estimates of `group/function[/parameter]`.
pub fn estimates_path(
    criterion_dir: &Path,
    group: &str,
    function: &str,
    parameter: Option<&str>,
) -> PathBuf {
    let mut p = criterion_dir.join(group).join(function);
    if let Some(param) = parameter {
        p = p.join(param);
    }
    p.join("new").join("estimates.json")
}

/// Time per iteration of one benchmark, in seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Mean time per iteration.
    pub mean_s: f64,
    /// Lower bound of the mean's confidence interval.
    pub mean_ci_lower_s: f64,
    /// Upper bound of the mean's confidence interval.
    pub mean_ci_upper_s: f64,
    /// Level of that interval (criterion's default 0.95).
    pub confidence_level: f64,
    /// Median time per iteration.
    pub median_s: f64,
    /// Standard deviation of the per-sample mean times.
    pub std_dev_s: f64,
}

impl Timing {
    /// From criterion's estimates (ns → s).
    pub fn from_estimates(e: &CriterionEstimates) -> Self {
        const NS: f64 = 1e-9;
        Self {
            mean_s: e.mean.point_estimate * NS,
            mean_ci_lower_s: e.mean.confidence_interval.lower_bound * NS,
            mean_ci_upper_s: e.mean.confidence_interval.upper_bound * NS,
            confidence_level: e.mean.confidence_interval.confidence_level,
            median_s: e.median.point_estimate * NS,
            std_dev_s: e.std_dev.point_estimate * NS,
        }
    }
}

/// Reads the timing of one benchmark; with `fresh_since`, refuses estimates older than it
/// (left over from an earlier run, e.g. when a filter skipped the benchmark this time).
pub fn read_timing(
    criterion_dir: &Path,
    group: &str,
    function: &str,
    parameter: Option<&str>,
    fresh_since: Option<SystemTime>,
) -> Result<Timing> {
    let path = estimates_path(criterion_dir, group, function, parameter);
    if !path.is_file() {
        bail!(
            "no criterion estimates at {} (benchmark not run?)",
            path.display()
        );
    }
    if let Some(since) = fresh_since {
        let modified = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .with_context(|| format!("reading the time of {}", path.display()))?;
        if modified < since {
            bail!(
                "criterion estimates at {} predate this run (benchmark skipped?)",
                path.display()
            );
        }
    }
    let est: CriterionEstimates = read_json(&path)?;
    let t = Timing::from_estimates(&est);
    if !(t.mean_s.is_finite() && t.mean_s > 0.0) {
        bail!(
            "non-positive mean time {} s in {}",
            t.mean_s,
            path.display()
        );
    }
    Ok(t)
}
