//! `verify.json`: one [`Record`] per check, keyed by check name, for a CI dashboard. The tests
//! write `target/verify.json` ([`default_path`]), or the file `VERIFY_REPORT` names
//! ([`report_path_from_env`]); `just verify-report` refreshes the tracked copy
//! `reports/verify.json` from a complete run.
//!
//! Tests run in parallel threads and in several test binaries (processes), so every write is a
//! read–modify–write under an exclusive lock (a file in the temporary directory), and the new file
//! replaces the old one atomically (temporary file + rename). Records carry no timestamps: a
//! rerun with the same seeds writes the same file. Field meanings: `verify/README.md`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Version of the file layout; bump on any incompatible change of [`Report`] or [`Record`].
pub const SCHEMA_VERSION: u32 = 1;

/// What a check concluded, or is expected to conclude.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// H0 (the theory's claim) not rejected / the check holds.
    Pass,
    /// H0 rejected / the check fails.
    Reject,
}

impl Verdict {
    /// `Reject` when `rejected`.
    pub fn from_rejected(rejected: bool) -> Self {
        if rejected {
            Self::Reject
        } else {
            Self::Pass
        }
    }
}

/// One check's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Unique name, `<test file>/<check>`.
    pub check: String,
    /// Which statistic `statistic` is (`t`, `hotelling_t2`, `holm_min_adj_p`, `rel_error`...).
    pub statistic_name: String,
    /// The statistic's value (±∞ and NaN are written as `null`, e.g. the t of a constant
    /// sample away from its target).
    #[serde(deserialize_with = "null_as_nan")]
    pub statistic: f64,
    /// p-value, for hypothesis tests (Holm-adjusted where a family was tested).
    pub p_value: Option<f64>,
    /// Confidence interval `[lo, hi]`, for interval checks.
    pub interval: Option<[f64; 2]>,
    /// The value the interval must contain, for interval checks.
    pub target: Option<f64>,
    /// The threshold: α for tests, a tolerance or bound for deterministic checks.
    #[serde(deserialize_with = "null_as_nan")]
    pub threshold: f64,
    /// Sample size (draws, seeds or cases).
    pub n: u64,
    /// Seed of the first random draw.
    pub seed: u64,
    /// What the check concluded.
    pub verdict: Verdict,
    /// What it must conclude: `reject` for a negative control.
    pub expected: Verdict,
    /// `verdict == expected`.
    pub ok: bool,
    /// Free-form context (estimator, q, problem).
    pub detail: String,
}

/// Reads a number written by serde_json, which writes non-finite floats as `null`.
fn null_as_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

impl Record {
    /// A record with no p-value or interval; fill the optional fields by struct update.
    pub fn new(check: &str, statistic_name: &str, statistic: f64, threshold: f64) -> Self {
        Self {
            check: check.into(),
            statistic_name: statistic_name.into(),
            statistic,
            p_value: None,
            interval: None,
            target: None,
            threshold,
            n: 0,
            seed: 0,
            verdict: Verdict::Pass,
            expected: Verdict::Pass,
            ok: true,
            detail: String::new(),
        }
    }

    /// Sets the verdicts (and `ok`).
    pub fn verdicts(mut self, verdict: Verdict, expected: Verdict) -> Self {
        self.verdict = verdict;
        self.expected = expected;
        self.ok = verdict == expected;
        self
    }
}

/// The whole file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Records by check name (sorted, so the file is stable).
    pub checks: BTreeMap<String, Record>,
}

/// Errors of the report writer, with the file involved.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// An I/O error on `path`.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `path` is not a valid report.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn json(path: &Path) -> impl FnOnce(serde_json::Error) -> ReportError + '_ {
    move |source| ReportError::Json {
        path: path.to_path_buf(),
        source,
    }
}

/// The environment variable naming the file the tests write their records to.
pub const REPORT_ENV: &str = "VERIFY_REPORT";

/// `target/verify.json` of this workspace — never a tracked file; `just verify-report` copies a
/// complete run's file to `reports/verify.json`.
pub fn default_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("verify.json")
}

/// The report file for the value of [`REPORT_ENV`]: that path when set and not empty, else
/// [`default_path`].
pub fn report_path(var: Option<std::ffi::OsString>) -> PathBuf {
    var.filter(|p| !p.is_empty())
        .map_or_else(default_path, PathBuf::from)
}

/// The verification tests' edge, and the one environment read of this crate (the project's
/// table of variables: `benches/src/config.rs`): where [`record_and_assert`] writes,
/// [`report_path`] of `$VERIFY_REPORT`. The crate's other functions take paths as values.
pub fn report_path_from_env() -> PathBuf {
    report_path(std::env::var_os(REPORT_ENV))
}

/// The lock file of `path`: in the temporary directory (so `reports/` holds only the report),
/// named by a hash of the absolute path so that every process writing `path` uses the same one.
fn lock_path(path: &Path) -> PathBuf {
    let abs = path
        .parent()
        .and_then(|d| d.canonicalize().ok())
        .unwrap_or_default()
        .join(path.file_name().unwrap_or_default());
    let hash = abs
        .to_string_lossy()
        .bytes()
        .fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        });
    std::env::temp_dir().join(format!("verify-report-{hash:016x}.lock"))
}

/// Inserts (or replaces) `records` in the report at `path`, under an exclusive file lock.
/// A file with another schema version is started afresh; an unreadable one is an error.
pub fn write_records(path: &Path, records: &[Record]) -> Result<(), ReportError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let lock_path = lock_path(path);
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io(&lock_path))?;
    lock.lock().map_err(io(&lock_path))?;
    let mut report = match fs::read_to_string(path) {
        Ok(text) => {
            let value: serde_json::Value = serde_json::from_str(&text).map_err(json(path))?;
            if value
                .get("schema_version")
                .and_then(serde_json::Value::as_u64)
                == Some(SCHEMA_VERSION.into())
            {
                serde_json::from_value::<Report>(value).map_err(json(path))?
            } else {
                // Another layout version: start afresh.
                Report::default()
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Report::default(),
        Err(e) => return Err(io(path)(e)),
    };
    report.schema_version = SCHEMA_VERSION;
    for r in records {
        report.checks.insert(r.check.clone(), r.clone());
    }
    let text = serde_json::to_string_pretty(&report).map_err(|source| ReportError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    let tmp = path.with_extension(format!("json.tmp{}", std::process::id()));
    {
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(text.as_bytes()).map_err(io(&tmp))?;
        f.write_all(b"\n").map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    fs::rename(&tmp, path).map_err(io(path))?;
    lock.unlock().map_err(io(&lock_path))?;
    Ok(())
}

/// Reads a report.
pub fn read(path: &Path) -> Result<Report, ReportError> {
    let text = fs::read_to_string(path).map_err(io(path))?;
    serde_json::from_str(&text).map_err(|source| ReportError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `records` to [`report_path_from_env`] and panics with every record whose verdict
/// differs from its expectation — the one assertion each test ends with.
pub fn record_and_assert(records: &[Record]) {
    if let Err(e) = write_records(&report_path_from_env(), records) {
        panic!("could not write the report: {e}");
    }
    let failed: Vec<String> = records
        .iter()
        .filter(|r| !r.ok)
        .map(|r| {
            format!(
                "{}: {} = {:.4e}, p = {:?}, interval = {:?}, target = {:?}, threshold = {:e}, verdict {:?} (expected {:?}); {}",
                r.check, r.statistic_name, r.statistic, r.p_value, r.interval, r.target, r.threshold, r.verdict, r.expected, r.detail
            )
        })
        .collect();
    assert!(
        failed.is_empty(),
        "checks with an unexpected verdict:\n{}",
        failed.join("\n")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_writers_keep_every_record() {
        let dir = std::env::temp_dir().join(format!("verify-report-test-{}", std::process::id()));
        let path = dir.join("verify.json");
        let _ = fs::remove_file(&path);
        std::thread::scope(|s| {
            for t in 0..4 {
                let path = path.clone();
                s.spawn(move || {
                    for i in 0..5 {
                        // Non-finite statistics must survive the round trip (as NaN).
                        let r = Record::new(&format!("t{t}/c{i}"), "x", f64::INFINITY, 0.01);
                        write_records(&path, &[r]).unwrap();
                    }
                });
            }
        });
        let report = read(&path).unwrap();
        assert_eq!(report.schema_version, SCHEMA_VERSION);
        assert_eq!(report.checks.len(), 20);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_variable_names_the_report_file_and_empty_means_unset() {
        assert_eq!(report_path(None), default_path());
        assert_eq!(report_path(Some("".into())), default_path());
        assert_eq!(
            report_path(Some("/x/verify.json".into())),
            PathBuf::from("/x/verify.json")
        );
    }
}
