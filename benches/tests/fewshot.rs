//! The few-shot experiments end to end: `cifar100` at smoke scale on small official-format
//! CIFAR-100 binary files written here (every method, both m, report files, resume), the clear
//! skip when real data is missing, and `omniglot` at smoke scale when the shared Omniglot is
//! present (skipped, with a message, otherwise).

use serde_json::Value;
use std::path::Path;

mod common;
use common::{ufom_isolated as ufom, write_cifar};

#[test]
fn cifar100_smoke_runs_end_to_end_on_small_official_files() {
    let data = tempfile::tempdir().expect("tempdir");
    write_cifar(data.path(), 0, None);
    let out = tempfile::tempdir().expect("tempdir");
    let (d, o) = (
        data.path().to_str().expect("utf-8"),
        out.path().to_str().expect("utf-8"),
    );
    let args = [
        "bench",
        "--experiment",
        "cifar100",
        "--scale",
        "smoke",
        "--data-dir",
        d,
        "--out",
        o,
    ];
    let run = ufom(&args, data.path());
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("cifar100.json")).expect("json"),
    )
    .expect("parse");
    let methods = report["methods"].as_array().expect("methods");
    assert_eq!(methods.len(), 12, "6 methods × m ∈ {{20, 30}}");
    let budget = report["budget"]["calls"].as_u64().expect("budget");
    for m in methods {
        let name = m["method"].as_str().expect("name");
        let run = &m["runs"][0];
        let acc = run["final_metrics"]["test_acc"].as_f64().expect("test_acc");
        assert!((0.0..=100.0).contains(&acc), "{name}: {acc}");
        assert!(
            run["final_metrics"]["test_acc_ci95"].as_f64().is_some(),
            "{name}"
        );
        assert!(
            run["calls"]["total"].as_u64().expect("calls") <= budget,
            "{name} over budget"
        );
        assert!(run["seconds_per_call"].as_f64().expect("s/call") > 0.0);
        assert!(
            run["curve"].as_array().expect("curve").len() >= 2,
            "{name} curve"
        );
        if name.starts_with("reptile") {
            assert_eq!(run["calls"]["hvp"], 0);
            assert!(run["final_metrics"]["test_acc_reptile_eval"]
                .as_f64()
                .is_some());
        }
        if name.starts_with("fom") {
            assert_eq!(run["calls"]["hvp"], 0);
        }
        if name.starts_with("recompute_exact") {
            assert!(run["calls"]["hvp"].as_u64().expect("hvp") > 0);
        }
    }
    // 30-way needs the widened (70/30) class split; recorded in the config.
    assert!(report["config"]["cifar_30way_split"].is_string());
    let table = &report["tables"][0];
    assert!(table["caption"]
        .as_str()
        .expect("caption")
        .contains("Table 2"));
    let exact = table["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["label"] == "recompute_exact")
        .expect("exact row");
    assert_eq!(exact["published"]["m20"], 19.9);
    assert!(exact["ours"]["m30"]["mean"].is_number());
    assert!(report["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .any(|n| n.as_str().is_some_and(|s| s.contains("Ordering"))));
    for f in [
        "cifar100.md",
        "cifar100_acc_calls_20way.svg",
        "cifar100_acc_calls_30way.svg",
        "cifar100_acc_time_30way.svg",
    ] {
        let text =
            std::fs::read_to_string(out.path().join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(!text.is_empty(), "{f}");
    }
    let md = std::fs::read_to_string(out.path().join("cifar100.md")).expect("md");
    assert!(md.contains("19.9") && md.contains("reptile"), "{md}");

    // Resume: every cell is reused, the methods are unchanged.
    let mut resume_args = args.to_vec();
    resume_args.push("--resume");
    let again = ufom(&resume_args, data.path());
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let after: Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("cifar100.json")).expect("json"),
    )
    .expect("parse");
    assert_eq!(
        report["methods"], after["methods"],
        "resume recomputed finished cells"
    );
}

#[test]
fn cifar100_requested_without_data_fails_with_a_clear_reason() {
    let empty = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    let (d, o) = (
        empty.path().to_str().expect("utf-8"),
        out.path().to_str().expect("utf-8"),
    );
    let run = ufom(
        &[
            "bench",
            "--experiment",
            "cifar100",
            "--scale",
            "smoke",
            "--data-dir",
            d,
            "--out",
            o,
        ],
        empty.path(),
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    // Asked for by name, a missing data set fails the run (exit 1) with the reason; without
    // --experiment it would be skipped (bench_smoke covers that).
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cifar100") && stderr.contains("missing"),
        "{stderr}"
    );
    assert!(!out.path().join("cifar100.json").exists());
}

#[test]
fn omniglot_smoke_on_the_shared_data_when_present() {
    let root = std::env::var_os("UFOM_DATA_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets"));
    if !root.join("omniglot").is_dir() {
        eprintln!("SKIPPED: no Omniglot under {}", root.display());
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    let hf = tempfile::tempdir().expect("tempdir");
    let (d, o) = (
        root.to_str().expect("utf-8"),
        out.path().to_str().expect("utf-8"),
    );
    let run = ufom(
        &[
            "bench",
            "--experiment",
            "omniglot",
            "--scale",
            "smoke",
            "--data-dir",
            d,
            "--out",
            o,
        ],
        hf.path(),
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("omniglot.json")).expect("json"),
    )
    .expect("parse");
    let names: Vec<&str> = report["methods"]
        .as_array()
        .expect("methods")
        .iter()
        .filter_map(|m| m["method"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "recompute_exact@20",
            "fom@20",
            "ufom_q0.1@20",
            "ufom_q0.2@20",
            "adaptive@20",
            "reptile@20"
        ]
    );
    // Both published tables: the paper's (no 20-way entry) and UFO-BLO's (20-way exact 95.8).
    let ufo = report["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["caption"].as_str().is_some_and(|c| c.contains("UFO-BLO")))
        .expect("UFO-BLO table");
    let exact = ufo["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["label"] == "recompute_exact")
        .expect("exact");
    assert_eq!(exact["published"]["m20"], 95.8);
}

/// `ufom report` merges a plan folder from its cells alone: the data set is gone when the
/// merge runs, and the report still records the checksums of the files the cells were
/// computed on (from the cell store's manifest). Control: without the manifest the merge
/// cannot find the cells and fails.
#[test]
fn a_plan_folder_merges_without_its_data() {
    let data = tempfile::tempdir().expect("tempdir");
    let plan = tempfile::tempdir().expect("tempdir");
    write_cifar(data.path(), 0, None);
    let sha = ufom_datasets::source::sha256_path(&data.path().join("cifar100/train.bin"))
        .expect("sha256");
    let (d, p) = (
        data.path().to_str().expect("utf-8"),
        plan.path().to_str().expect("utf-8"),
    );
    let hf = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| {
        let o = ufom(args, hf.path());
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        );
        (o.status.success(), out, err)
    };
    let (ok, _, err) = run(&[
        "bench",
        "--experiment",
        "cifar100",
        "--scale",
        "smoke",
        "--methods",
        "fom",
        "--seeds",
        "1",
        "--data-dir",
        d,
        "--plan",
        p,
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = run(&[
        "cell",
        "run",
        "--plan",
        p,
        "--index",
        "0",
        "--cells-per-task",
        "2",
    ]);
    assert!(ok, "{err}");
    drop(data);
    let (ok, _, err) = run(&["report", p]);
    assert!(ok, "{err}");
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(plan.path().join("cifar100.json")).expect("json"),
    )
    .expect("parse");
    assert!(
        report["data"]
            .as_array()
            .expect("data")
            .iter()
            .any(|f| f["sha256"] == sha.as_str()),
        "{}",
        report["data"]
    );
    assert_eq!(report["methods"].as_array().expect("methods").len(), 2);
    // Control: the manifest is what finds the cells.
    for store in std::fs::read_dir(plan.path().join("cells/cifar100")).expect("store") {
        std::fs::remove_file(store.expect("entry").path().join("store.json")).expect("rm");
    }
    let (ok, _, err) = run(&["report", p]);
    assert!(!ok);
    assert!(err.contains("not finished"), "{err}");
}

/// Data-source fallbacks are visible: a mistyped `--data-dir` is refused before anything runs;
/// a `--data-dir` that lacks the set warns before falling back to `UFOM_DATA_DIR`; a plan made
/// with `UFOM_DATA_DIR` records that directory, so its tasks find the data in a fresh shell.
#[test]
fn data_source_fallbacks_are_never_silent() {
    let data = tempfile::tempdir().expect("tempdir");
    write_cifar(data.path(), 0, None);
    let empty = tempfile::tempdir().expect("tempdir");
    let plan = tempfile::tempdir().expect("tempdir");
    let hf = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ufom"))
            .args(args)
            .env("UFOM_DATA_DIR", data.path())
            .env("HF_HOME", hf.path())
            .env("HF_HUB_CACHE", hf.path().join("hub"))
            .output()
            .expect("run ufom")
    };
    let typo = run(&[
        "bench",
        "--scale",
        "smoke",
        "--data-dir",
        "/nonexistent/typo",
        "--dry-run",
    ]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&typo.stderr).contains("--data-dir /nonexistent/typo"));
    let e = empty.path().to_str().expect("utf-8");
    let fallback = run(&[
        "bench",
        "--scale",
        "smoke",
        "--experiment",
        "cifar100",
        "--data-dir",
        e,
        "--dry-run",
    ]);
    let err = String::from_utf8_lossy(&fallback.stderr);
    assert!(fallback.status.success(), "{err}");
    assert!(
        err.contains("cifar100 is not in the data directory"),
        "{err}"
    );
    let p = plan.path().to_str().expect("utf-8");
    let planned = run(&[
        "bench",
        "--scale",
        "smoke",
        "--experiment",
        "cifar100",
        "--methods",
        "fom",
        "--plan",
        p,
    ]);
    assert!(
        planned.status.success(),
        "{}",
        String::from_utf8_lossy(&planned.stderr)
    );
    let plan_json: Value = serde_json::from_str(
        &std::fs::read_to_string(plan.path().join("plan.json")).expect("plan.json"),
    )
    .expect("parse");
    let want = std::fs::canonicalize(data.path()).expect("canonical");
    assert_eq!(plan_json["data_dir"], want.to_str().expect("utf-8"));
}
