//! `ufom bench --scale smoke` end to end into a temporary directory: every file it writes, the
//! JSON against its schema, resume, determinism apart from timing fields, and usage errors.

mod common;

use common::without_timing;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn ufom(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ufom"));
    cmd.args(args);
    // Use the shared data when CI (or the user) points at it; hypercleaning is skipped otherwise.
    if std::env::var_os("UFOM_DATA_DIR").is_none() {
        let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets");
        if shared.join("mnist").is_dir() {
            cmd.env("UFOM_DATA_DIR", shared);
        }
    }
    cmd.output().expect("run ufom")
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn validator() -> jsonschema::Validator {
    let schema = read(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/schema/experiment.schema.json"),
    );
    jsonschema::validator_for(&schema).expect("schema compiles")
}

#[test]
fn smoke_bench_writes_valid_reports_and_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("utf-8 path");
    let first = ufom(&["bench", "--scale", "smoke", "--out", out]);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    let ran_hypercleaning = dir.path().join("hypercleaning.json").exists();
    if !ran_hypercleaning {
        assert!(
            stderr.contains("skipped hypercleaning"),
            "hypercleaning neither ran nor said why: {stderr}"
        );
        eprintln!("SKIPPED part: hypercleaning (no MNIST found): {stderr}");
    }
    let v = validator();
    let mut experiments = vec!["synthetic"];
    if ran_hypercleaning {
        experiments.push("hypercleaning");
    }
    for name in &experiments {
        let report = read(&dir.path().join(format!("{name}.json")));
        let errors: Vec<String> = v.iter_errors(&report).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "{name}.json violates the schema: {errors:?}"
        );
        let md = std::fs::read_to_string(dir.path().join(format!("{name}.md")))
            .expect("markdown report");
        for fig in report["figures"].as_array().expect("figures") {
            let svg = dir
                .path()
                .join(format!("{name}_{}.svg", fig["id"].as_str().expect("id")));
            let text =
                std::fs::read_to_string(&svg).unwrap_or_else(|e| panic!("{}: {e}", svg.display()));
            assert!(text.contains("<svg"), "{} is not SVG", svg.display());
            assert!(md.contains(svg.file_name().and_then(|n| n.to_str()).expect("name")));
        }
        assert!(!report["methods"].as_array().expect("methods").is_empty());
        // Matched budgets, exactly: no run ends above the budget.
        let budget = report["budget"]["calls"].as_u64().expect("budget");
        for m in report["methods"].as_array().expect("methods") {
            for run in m["runs"].as_array().expect("runs") {
                let calls = run["calls"]["total"].as_u64().expect("calls");
                assert!(
                    calls <= budget,
                    "{name} {}: {calls} > {budget}",
                    m["method"]
                );
                assert!(
                    run["discarded_calls"].is_u64(),
                    "{name}: discarded calls recorded"
                );
            }
        }
    }
    let bencher = read(&dir.path().join("bencher.json"));
    assert!(bencher
        .as_object()
        .is_some_and(|m| m.keys().any(|k| k.starts_with("synthetic/"))));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // --resume reuses every finished cell: identical report, timing fields included.
    let before = read(&dir.path().join("synthetic.json"));
    let again = ufom(&[
        "bench",
        "--scale",
        "smoke",
        "--experiment",
        "synthetic",
        "--resume",
        "--out",
        out,
    ]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let after = read(&dir.path().join("synthetic.json"));
    assert_eq!(
        before["methods"], after["methods"],
        "resume recomputed finished cells"
    );

    // A fresh run with the same seeds gives the same report apart from timing fields.
    let fresh = tempfile::tempdir().expect("tempdir");
    let rerun = ufom(&[
        "bench",
        "--scale",
        "smoke",
        "--experiment",
        "synthetic",
        "--out",
        fresh.path().to_str().expect("utf-8"),
    ]);
    assert!(rerun.status.success());
    let mut a = without_timing(before);
    let mut b = without_timing(read(&fresh.path().join("synthetic.json")));
    a["environment"] = Value::Null;
    b["environment"] = Value::Null;
    assert_eq!(a, b, "same seed, different report");
}

#[test]
fn unknown_experiment_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ufom(&[
        "bench",
        "--scale",
        "smoke",
        "--experiment",
        "nope",
        "--out",
        dir.path().to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'nope'") && err.contains("--experiment") && err.contains("synthetic"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1);
}

/// Reports name the commit the binary was built from, even when run outside any repository
/// (before: `git rev-parse HEAD` of the current directory, so null there, and wrong in another
/// checkout).
#[test]
fn reports_record_the_build_commit_not_the_working_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_ufom"))
        .args([
            "bench",
            "--scale",
            "smoke",
            "--experiment",
            "synthetic",
            "--out",
        ])
        .arg(&out)
        .current_dir(dir.path())
        .output()
        .expect("run ufom");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report = read(&out.join("synthetic.json"));
    let recorded = report["environment"]["git_commit"].as_str().unwrap_or("");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(&root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match head {
        Some(head) => assert!(
            recorded == head || recorded == format!("{head}-dirty"),
            "recorded {recorded:?}, HEAD {head}"
        ),
        None => assert_eq!(recorded, "", "no checkout, yet a commit was recorded"),
    }
}

/// One output folder holds one scale: after a smoke run, a default-scale run into the same
/// folder is refused up front (exit 2, suggesting a folder), so it cannot overwrite or mix
/// reports; the same scale again is accepted (control).
#[test]
fn scales_are_not_mixed_in_one_output_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("utf-8 path");
    let synthetic = |scale: &str| {
        let run = ufom(&[
            "bench",
            "--scale",
            scale,
            "--experiment",
            "synthetic",
            "--out",
            out,
        ]);
        (
            run.status.code(),
            String::from_utf8_lossy(&run.stderr).into_owned(),
        )
    };
    let report = || std::fs::read(dir.path().join("synthetic.json")).expect("smoke report");
    let (code, err) = synthetic("smoke");
    assert_eq!(code, Some(0), "{err}");
    let before = report();
    let (code, err) = synthetic("default");
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("smoke-scale") && err.contains("default"),
        "{err}"
    );
    assert_eq!(before, report(), "the smoke report was touched");
    let (code, err) = synthetic("smoke");
    assert_eq!(code, Some(0), "{err}");
}
