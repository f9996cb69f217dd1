//! [`summarise`]: criterion's estimates and the bench's memory rows → [`PerfReport`], with the
//! log–log growth of each estimator's cost in r.

use super::estimates::read_timing;
use super::schema::{
    EstimatorRow, MemoryRow, OracleReport, PerfEnvironment, PerfMeta, PerfReport, Scaling,
    PERF_COMMAND, SCHEMA_VERSION,
};
use anyhow::Result;
use std::path::Path;

/// Builds the report from criterion's directory and the bench's memory rows. Fails if any
/// benchmark's estimates are missing or stale, so a partial run never yields a report.
pub fn summarise(
    criterion_dir: &Path,
    memory: &[MemoryRow],
    meta: &PerfMeta,
) -> Result<PerfReport> {
    let since = meta.fresh_since;
    let gradient = read_timing(
        criterion_dir,
        &meta.oracle_group,
        &meta.gradient_id,
        None,
        since,
    )?;
    let hvp = read_timing(criterion_dir, &meta.oracle_group, &meta.hvp_id, None, since)?;
    let oracle = OracleReport {
        problem: meta.oracle_problem.clone(),
        hvp_over_gradient: hvp.mean_s / gradient.mean_s,
        hvp_over_gradient_range: [
            hvp.mean_ci_lower_s / gradient.mean_ci_upper_s,
            hvp.mean_ci_upper_s / gradient.mean_ci_lower_s,
        ],
        gradient,
        hvp,
    };

    let mut estimators = Vec::with_capacity(memory.len());
    for m in memory {
        let param = m.r.to_string();
        let time = read_timing(
            criterion_dir,
            &meta.estimator_group,
            &m.estimator,
            Some(&param),
            since,
        )?;
        let mean_calls = m.mean_calls.unwrap_or((m.grad_calls + m.hvp_calls) as f64);
        estimators.push(EstimatorRow {
            estimator: m.estimator.clone(),
            r: m.r,
            seconds_per_call: if mean_calls > 0.0 {
                time.mean_s / mean_calls
            } else {
                f64::NAN
            },
            time,
            grad_calls: m.grad_calls,
            hvp_calls: m.hvp_calls,
            mean_calls,
            peak_states: m.peak_states,
            peak_state_bytes: m.peak_state_bytes,
        });
    }
    let scaling = scaling(&estimators);

    Ok(PerfReport {
        schema_version: SCHEMA_VERSION,
        command: PERF_COMMAND.to_string(),
        environment: PerfEnvironment {
            git_commit: meta.git_commit.clone(),
            threads: meta.threads,
            platform: meta.platform.clone(),
            device: meta.device.clone(),
        },
        settings: meta.settings.clone(),
        oracle,
        estimator_problem: meta.estimator_problem.clone(),
        estimators,
        scaling,
        skipped: meta.skipped.clone(),
        notes: meta.notes.clone(),
        engine: None,
    })
}

/// Log–log slopes per estimator, in order of first appearance.
fn scaling(rows: &[EstimatorRow]) -> Vec<Scaling> {
    let mut names: Vec<&str> = Vec::new();
    for r in rows {
        if !names.contains(&r.estimator.as_str()) {
            names.push(&r.estimator);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let mine: Vec<&EstimatorRow> = rows.iter().filter(|r| r.estimator == name).collect();
            let xs: Vec<f64> = mine.iter().map(|r| r.r as f64).collect();
            let slope_of = |f: &dyn Fn(&EstimatorRow) -> f64| {
                log_log_slope(&xs, &mine.iter().map(|r| f(r)).collect::<Vec<_>>())
            };
            Scaling {
                estimator: name.to_string(),
                rs: mine.iter().map(|r| r.r).collect(),
                time_exponent: slope_of(&|r: &EstimatorRow| r.time.mean_s),
                calls_exponent: slope_of(&|r: &EstimatorRow| r.mean_calls),
                peak_bytes_exponent: slope_of(&|r: &EstimatorRow| r.peak_state_bytes as f64),
            }
        })
        .collect()
}

/// Least-squares slope of log y on log x; `None` with fewer than two distinct positive points.
pub fn log_log_slope(xs: &[f64], ys: &[f64]) -> Option<f64> {
    let pts: Vec<(f64, f64)> = xs
        .iter()
        .zip(ys)
        .filter(|(x, y)| **x > 0.0 && **y > 0.0 && x.is_finite() && y.is_finite())
        .map(|(x, y)| (x.ln(), y.ln()))
        .collect();
    if pts.len() < 2 {
        return None;
    }
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then_some(sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::perf::{estimates_path, MlpSize};
    use crate::harness::store::write_json;
    use std::time::SystemTime;

    fn estimates(mean_ns: f64) -> serde_json::Value {
        let est = |v: f64| {
            serde_json::json!({
                "confidence_interval": {
                    "confidence_level": 0.95,
                    "lower_bound": v * 0.9,
                    "upper_bound": v * 1.1
                },
                "point_estimate": v,
                "standard_error": v * 0.05
            })
        };
        // The full shape criterion writes, including fields the summariser ignores.
        serde_json::json!({
            "mean": est(mean_ns),
            "median": est(mean_ns),
            "median_abs_dev": est(mean_ns * 0.1),
            "slope": null,
            "std_dev": est(mean_ns * 0.2)
        })
    }

    fn size() -> MlpSize {
        MlpSize {
            n_train: 4,
            n_val: 2,
            dim: 3,
            hidden: 2,
            classes: 2,
            phi_params: 3 * 2 + 2 + 2 * 2 + 2,
            dtype: "f32".into(),
        }
    }

    fn meta() -> PerfMeta {
        PerfMeta {
            git_commit: None,
            threads: 2,
            platform: "test".into(),
            device: "cpu".into(),
            oracle_group: "oracle".into(),
            gradient_id: "gradient".into(),
            hvp_id: "hvp".into(),
            oracle_problem: size(),
            estimator_group: "estimator".into(),
            estimator_problem: size(),
            settings: "fake".into(),
            skipped: vec![],
            notes: vec![],
            fresh_since: None,
        }
    }

    fn row(estimator: &str, r: usize, calls: u64, bytes: usize) -> MemoryRow {
        MemoryRow {
            estimator: estimator.into(),
            r,
            grad_calls: calls,
            hvp_calls: 0,
            mean_calls: None,
            timed_estimates: 0,
            peak_states: bytes / 8,
            peak_state_bytes: bytes,
        }
    }

    fn fake_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write_json(
            &estimates_path(d, "oracle", "gradient", None),
            &estimates(2e6),
        )
        .unwrap();
        write_json(&estimates_path(d, "oracle", "hvp", None), &estimates(5e6)).unwrap();
        for r in [10usize, 100] {
            let p = r.to_string();
            // linear: 1 µs × r; quadratic: 1 µs × r²
            let lin = estimates_path(d, "estimator", "lin", Some(&p));
            write_json(&lin, &estimates(1e3 * r as f64)).unwrap();
            let quad = estimates_path(d, "estimator", "quad", Some(&p));
            write_json(&quad, &estimates(1e3 * (r * r) as f64)).unwrap();
        }
        dir
    }

    #[test]
    fn summarises_a_fake_criterion_directory() {
        let dir = fake_dir();
        let memory = vec![
            row("lin", 10, 10, 80),
            row("lin", 100, 100, 800),
            row("quad", 10, 100, 8),
            row("quad", 100, 10_000, 8),
        ];
        let rep = summarise(dir.path(), &memory, &meta()).unwrap();
        assert_eq!(rep.schema_version, SCHEMA_VERSION);
        assert!((rep.oracle.gradient.mean_s - 2e-3).abs() < 1e-12);
        assert!((rep.oracle.hvp_over_gradient - 2.5).abs() < 1e-12);
        let [lo, hi] = rep.oracle.hvp_over_gradient_range;
        assert!(lo < 2.5 && 2.5 < hi);
        assert_eq!(rep.estimators.len(), 4);
        let q100 = &rep.estimators[3];
        assert_eq!((q100.estimator.as_str(), q100.r), ("quad", 100));
        assert!((q100.time.mean_s - 1e-2).abs() < 1e-12);
        assert!((q100.seconds_per_call - 1e-6).abs() < 1e-15);
        assert!((q100.time.mean_ci_upper_s - 1.1e-2).abs() < 1e-12);
        let s: Vec<_> = rep.scaling.iter().map(|s| s.estimator.as_str()).collect();
        assert_eq!(s, ["lin", "quad"]);
        assert!((rep.scaling[0].time_exponent.unwrap() - 1.0).abs() < 1e-9);
        assert!((rep.scaling[1].time_exponent.unwrap() - 2.0).abs() < 1e-9);
        assert!((rep.scaling[0].peak_bytes_exponent.unwrap() - 1.0).abs() < 1e-9);
        assert!(rep.scaling[1].peak_bytes_exponent.unwrap().abs() < 1e-9);
        // Round-trips through JSON.
        let text = serde_json::to_string(&rep).unwrap();
        let back: PerfReport = serde_json::from_str(&text).unwrap();
        assert_eq!(back, rep);
    }

    #[test]
    fn missing_estimates_fail() {
        let dir = fake_dir();
        let memory = vec![row("lin", 10, 10, 80), row("lin", 20, 20, 160)];
        let err = summarise(dir.path(), &memory, &meta()).unwrap_err();
        assert!(
            format!("{err:#}").contains("no criterion estimates"),
            "{err:#}"
        );
    }

    #[test]
    fn stale_estimates_fail() {
        let dir = fake_dir();
        let mut m = meta();
        m.fresh_since = Some(SystemTime::now() + std::time::Duration::from_secs(3600));
        let err = summarise(dir.path(), &[], &m).unwrap_err();
        assert!(format!("{err:#}").contains("predate"), "{err:#}");
    }

    #[test]
    fn slope_needs_two_points() {
        assert_eq!(log_log_slope(&[1.0], &[1.0]), None);
        assert_eq!(log_log_slope(&[1.0, 2.0], &[0.0, 0.0]), None);
        let s = log_log_slope(&[1.0, 2.0, 4.0], &[3.0, 6.0, 12.0]).unwrap();
        assert!((s - 1.0).abs() < 1e-12);
    }
}
