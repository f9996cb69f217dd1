//! The calibration block of the READMEs (`<!-- BEGIN reports/verify.json -->`): the
//! calibration records of `verify.json` — `calibration/<setting>/<what>`, written by
//! `verify/tests/calibration.rs` through `just calibrate` — as one table, so the calibration
//! figures are generated from a record, never copied from printed output.

use anyhow::{bail, Context as _, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The fields of a `verify.json` record this block reads.
#[derive(Deserialize)]
struct Check {
    statistic: Option<f64>,
    interval: Option<[f64; 2]>,
    n: u64,
    detail: String,
    ok: bool,
}

#[derive(Deserialize)]
struct VerifyFile {
    checks: BTreeMap<String, Check>,
}

fn rate(c: &Check) -> String {
    let r = c.statistic.unwrap_or(f64::NAN);
    match c.interval {
        _ if c.n == 1 => format!("{r:.0} (one deterministic run)"),
        Some([lo, hi]) => format!("{r:.4} ({lo:.4}–{hi:.4})"),
        None => format!("{r:.4}"),
    }
}

/// The block made of the calibration records in `verify_json` (the text of `verify.json`).
pub fn calibration_block(verify_json: &str) -> Result<String> {
    let file: VerifyFile = serde_json::from_str(verify_json).context("parsing verify.json")?;
    // setting → what → record
    let mut settings: BTreeMap<&str, BTreeMap<&str, &Check>> = BTreeMap::new();
    for (name, check) in &file.checks {
        if let Some(rest) = name.strip_prefix("calibration/") {
            if let Some((setting, what)) = rest.split_once('/') {
                settings.entry(setting).or_default().insert(what, check);
            }
        }
    }
    if settings.is_empty() {
        bail!("verify.json holds no calibration record; run `just calibrate`");
    }
    let mut md = String::from(
        "| setting | runs | false-rejection rate, Holm family over q (95 % CI) | per q | power vs FOM | power vs UFOM without 1/q (lowest over q) |\n|---|---:|---|---|---|---|\n",
    );
    let (mut total, mut ok) = (0, 0);
    for checks in settings.values() {
        total += checks.len();
        ok += checks.values().filter(|c| c.ok).count();
        let family = checks.get("family").copied();
        let per_q: Vec<String> = checks
            .iter()
            .filter_map(|(w, c)| {
                let q = w.strip_prefix('q')?;
                Some(format!("q = {q}: {:.4}", c.statistic.unwrap_or(f64::NAN)))
            })
            .collect();
        let drop = checks
            .iter()
            .filter(|(w, _)| w.starts_with("power_no_1_over_q/"))
            .map(|(_, c)| *c)
            .min_by(|a, b| {
                a.statistic
                    .unwrap_or(f64::NAN)
                    .total_cmp(&b.statistic.unwrap_or(f64::NAN))
            });
        let label = family
            .or(checks.values().next().copied())
            .map_or("", |c| c.detail.as_str());
        let _ = writeln!(
            md,
            "| {label} | {} | {} | {} | {} | {} |",
            family.map_or(0, |c| c.n),
            family.map_or("—".into(), rate),
            per_q.join("; "),
            checks.get("power_fom").map_or("—".into(), |c| rate(c)),
            drop.map_or("—".into(), rate),
        );
    }
    let _ = writeln!(
        md,
        "\nα = 0.01. The calibration asserts every family rate ≤ 2.5 α and every power ≥ 0.99: {ok} of {total} recorded figures hold. From `reports/verify.json` (`calibration/…` records), written by `just calibrate`."
    );
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_row_per_setting_from_the_records() {
        let json = r#"{"schema_version": 1, "checks": {
            "calibration/a/family": {"statistic": 0.01, "interval": [0.001, 0.036], "n": 200, "detail": "setting A", "ok": true},
            "calibration/a/q0.5": {"statistic": 0.015, "interval": [0.0, 0.1], "n": 200, "detail": "setting A", "ok": true},
            "calibration/a/power_fom": {"statistic": 1.0, "interval": [0.0, 1.0], "n": 1, "detail": "setting A", "ok": true},
            "other/check": {"statistic": 1.0, "interval": null, "n": 1, "detail": "", "ok": false}
        }}"#;
        let md = calibration_block(json).unwrap();
        assert!(md.contains("| setting A | 200 | 0.0100 (0.0010–0.0360) | q = 0.5: 0.0150 | 1 (one deterministic run) | — |"), "{md}");
        assert!(md.contains("3 of 3 recorded figures hold"), "{md}");
        // Control: without calibration records there is no block, not an empty table.
        assert!(calibration_block(r#"{"schema_version": 1, "checks": {}}"#).is_err());
    }
}
