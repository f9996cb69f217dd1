//! The `ufom` binary end to end: JSON fields, closed forms, and exit code 2 on bad arguments.

use std::process::{Command, Output};

fn ufom(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ufom"))
        .args(args)
        .output()
        .expect("run ufom")
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = ufom(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

#[test]
fn hypergrad_json_has_estimator_grad_and_calls() {
    let exact = json(&[
        "hypergrad",
        "--problem",
        "counterexample",
        "--theta",
        "3",
        "--estimator",
        "exact",
        "--json",
    ]);
    let rec = json(&[
        "hypergrad",
        "--problem",
        "counterexample",
        "--theta",
        "3",
        "--estimator",
        "recompute",
        "--json",
    ]);
    assert_eq!(exact["estimator"], "exact");
    assert_eq!(exact["calls"]["grad"], 22); // two tasks × (r + 1)
    assert_eq!(exact["calls"]["hvp"], 20);
    assert_eq!(rec["calls"]["grad"], 112); // two tasks × (r + 1 + r(r − 1)/2)
    let (a, b) = (
        exact["grad"][0].as_f64().unwrap(),
        rec["grad"][0].as_f64().unwrap(),
    );
    assert!((a - b).abs() < 1e-12);
    let ufom_a = json(&[
        "hypergrad",
        "--problem",
        "counterexample",
        "--theta",
        "-3",
        "--estimator",
        "ufom",
        "--q",
        "0.5",
        "--seed",
        "4",
        "--json",
    ]);
    let ufom_b = json(&[
        "hypergrad",
        "--problem",
        "counterexample",
        "--theta",
        "-3",
        "--estimator",
        "ufom",
        "--q",
        "0.5",
        "--seed",
        "4",
        "--json",
    ]);
    assert_eq!(ufom_a, ufom_b, "same seed, same result");
    for problem in ["quadratic", "mlp"] {
        let v = json(&[
            "hypergrad",
            "--problem",
            problem,
            "--theta",
            "0.2",
            "--estimator",
            "fom",
            "--json",
        ]);
        assert!(v["grad"].as_array().is_some_and(|g| !g.is_empty()));
    }
}

#[test]
fn closed_forms() {
    let c = json(&["counterexample", "--d", "0.06", "--json"]);
    assert!((c["b2"].as_f64().unwrap() - 17.395).abs() < 1e-3);
    assert!((c["A"].as_f64().unwrap() - 12.597).abs() < 1e-3);
    let q = json(&["qstar", "--d2", "0.1", "--v2", "1", "--r", "10", "--json"]);
    assert_eq!(q["condition_holds"], true);
    let qs = q["qstar"].as_f64().unwrap();
    assert!(qs > 0.0 && qs < 1.0);
}

#[test]
fn bad_arguments_exit_2_with_one_line() {
    let cases: &[&[&str]] = &[
        &[
            "hypergrad",
            "--problem",
            "counterexample",
            "--theta",
            "3",
            "--estimator",
            "ufom",
            "--q",
            "-0.1",
        ],
        &[
            "hypergrad",
            "--problem",
            "counterexample",
            "--theta",
            "3",
            "--estimator",
            "ufom",
            "--q",
            "1.5",
        ],
        &[
            "hypergrad",
            "--problem",
            "counterexample",
            "--theta",
            "3",
            "--estimator",
            "ufom",
        ],
        &[
            "hypergrad",
            "--problem",
            "nope",
            "--theta",
            "3",
            "--estimator",
            "fom",
        ],
        &[
            "hypergrad",
            "--problem",
            "counterexample",
            "--theta",
            "3",
            "--estimator",
            "nope",
        ],
        &[
            "hypergrad",
            "--problem",
            "quadratic",
            "--theta",
            "1,2",
            "--estimator",
            "fom",
        ],
        &["counterexample", "--d", "0.06", "--r", "0"],
        &["counterexample", "--d", "-1"],
        &["qstar", "--d2", "1", "--v2", "1", "--r", "0"],
        &[
            "qstar", "--d2", "1", "--v2", "1", "--r", "5", "--eps", "0.7",
        ],
    ];
    for args in cases {
        let out = ufom(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{args:?}: not one line: {err}"
        );
        assert!(err.starts_with("error"), "{args:?}: {err}");
    }
}

#[test]
fn every_subcommand_has_help() {
    for sub in ["hypergrad", "counterexample", "qstar", "data"] {
        let out = ufom(&[sub, "--help"]);
        assert!(out.status.success(), "{sub} --help");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"));
    }
}
