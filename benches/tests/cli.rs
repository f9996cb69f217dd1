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
        "stored_exact",
        "--json",
    ]);
    let rec = json(&[
        "hypergrad",
        "--problem",
        "counterexample",
        "--theta",
        "3",
        "--estimator",
        "recompute_exact",
        "--json",
    ]);
    assert_eq!(exact["estimator"], "stored_exact");
    assert_eq!(rec["estimator"], "recompute_exact");
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
        &["map", "--problem", "nope"],
        &["map", "--samples", "1"],
        &[
            "hypergrad",
            "--problem",
            "quadratic",
            "--theta",
            "1",
            "--estimator",
            "aid_cg",
            "--param",
            "cg_steps=0",
        ],
        &[
            "hypergrad",
            "--problem",
            "quadratic",
            "--theta",
            "1",
            "--estimator",
            "neumann",
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

/// Results that are not finite numbers are reported as failures, not printed with exit 0.
#[test]
fn non_finite_results_fail_with_a_message() {
    for args in [
        &["counterexample", "--d", "1e308"][..],
        &["qstar", "--d2", "1e308", "--v2", "1e308", "--r", "10"][..],
        &[
            "hypergrad",
            "--problem",
            "mlp",
            "--theta",
            "-800",
            "--estimator",
            "stored_exact",
        ][..],
    ] {
        let out = ufom(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("is not finite"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} printed a result");
    }
    // Control: the same commands with ordinary inputs succeed.
    json(&["counterexample", "--d", "0.06", "--json"]);
    json(&["qstar", "--d2", "1", "--v2", "1", "--r", "10", "--json"]);
}

/// An r beyond what the closed form can raise a power to is an argument error, not a
/// silently wrapped integer.
#[test]
fn counterexample_r_beyond_i32_is_rejected() {
    let out = ufom(&["counterexample", "--d", "0.06", "--r", "4294967297"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("r"), "{err}");
}

/// Names and messages print floats compactly: q = 1e-300 does not become 300 digits.
#[test]
fn tiny_q_gives_a_short_estimator_name() {
    let v = json(&[
        "hypergrad",
        "--problem",
        "counterexample",
        "--theta",
        "3",
        "--estimator",
        "ufom",
        "--q",
        "1e-300",
        "--json",
    ]);
    assert_eq!(v["estimator"], "ufom(q=1e-300)");
    // Control: ordinary values keep their plain decimal form.
    let v = json(&[
        "hypergrad",
        "--problem",
        "counterexample",
        "--theta",
        "3",
        "--estimator",
        "ufom",
        "--q",
        "0.1",
        "--json",
    ]);
    assert_eq!(v["estimator"], "ufom(q=0.1)");
}

/// Warnings reach the user without RUST_LOG, -q silences them, and stderr carries no colour
/// codes when it is not a terminal. The warning: a damaged resume cell is dropped (and rerun).
#[test]
fn warnings_show_by_default_without_colour_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let o = out.to_str().expect("utf-8 path");
    let run = |extra: &[&str]| -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_ufom"))
            .args(["bench", "--experiment", "synthetic", "--scale", "smoke"])
            .args(["--methods", "fom", "--seeds", "1", "--resume", "--out", o])
            .args(extra)
            .env_remove("RUST_LOG")
            .env("HF_HOME", dir.path())
            .output()
            .expect("run ufom");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{err}");
        err
    };
    let clean = run(&[]);
    assert!(
        !clean.contains("WARN"),
        "nothing to warn about yet: {clean}"
    );
    let damage = || {
        let cells = out.join("cells/synthetic");
        for key in std::fs::read_dir(&cells).expect("cells") {
            for cell in std::fs::read_dir(key.expect("key").path()).expect("key dir") {
                std::fs::write(cell.expect("cell").path(), "{ damaged").expect("damage");
            }
        }
    };
    damage();
    let default = run(&[]);
    assert!(
        default.contains("WARN") && default.contains("ignoring unreadable cell"),
        "no warning shown: {default}"
    );
    assert!(
        !default.contains('\x1b'),
        "colour codes off a terminal: {default:?}"
    );
    damage();
    let quiet = run(&["-q"]);
    assert!(!quiet.contains("WARN"), "-q still warns: {quiet}");
}

/// A flag the chosen estimator would ignore is rejected rather than silently dropped.
#[test]
fn q_with_a_deterministic_estimator_is_rejected() {
    for est in ["fom", "stored_exact", "recompute_exact", "adaptive"] {
        let out = ufom(&[
            "hypergrad",
            "--problem",
            "counterexample",
            "--theta",
            "3",
            "--estimator",
            est,
            "--q",
            "0.1",
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{est}: {err}");
        assert!(err.contains("--q"), "{est}: {err}");
    }
}

/// "exact" named two estimators (stored states in the CLI, recomputed in the reports): it is
/// refused as ambiguous, naming both variants.
#[test]
fn the_ambiguous_name_exact_is_refused() {
    for name in ["exact", "recompute"] {
        let out = ufom(&[
            "hypergrad",
            "--problem",
            "counterexample",
            "--theta",
            "3",
            "--estimator",
            name,
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains("stored_exact") && err.contains("recompute_exact"),
            "{name}: {err}"
        );
    }
}

/// An experiment asked for by name whose data is missing fails naming the experiment and the
/// data, with the same exit status whether or not `--out` exists (it used to blame the output
/// directory, or exit 0).
#[test]
fn requested_experiment_without_data_fails_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("data");
    std::fs::create_dir(&empty).expect("mkdir");
    let existing = dir.path().join("out");
    std::fs::create_dir(&existing).expect("mkdir");
    for out in [dir.path().join("absent"), existing] {
        let run = Command::new(env!("CARGO_BIN_EXE_ufom"))
            .args([
                "bench",
                "--scale",
                "smoke",
                "--experiment",
                "cifar100",
                "--out",
            ])
            .arg(&out)
            .arg("--data-dir")
            .arg(&empty)
            .env_remove("UFOM_DATA_DIR")
            .env("HF_HOME", dir.path())
            .output()
            .expect("run ufom");
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{}: {err}", out.display());
        assert!(err.contains("cifar100"), "{err}");
        assert!(!err.contains("output directory"), "blames --out: {err}");
    }
}

/// Flags a subcommand would ignore are refused: `data fetch` downloads into the Hub cache, so a
/// `--data-dir` there is an error naming it (before: silently ignored). Control: `data info`
/// with the same `--data-dir` is accepted as a flag (and fails only because the folder lacks
/// the data, exit 1).
#[test]
fn data_fetch_refuses_a_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf-8");
    let out = ufom(&["data", "fetch", "mnist", "--data-dir", d]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--data-dir") && err.contains("HF_HOME"),
        "{err}"
    );
    let info = Command::new(env!("CARGO_BIN_EXE_ufom"))
        .args(["data", "info", "mnist", "--data-dir", d])
        .env_remove("UFOM_DATA_DIR")
        .env("HF_HOME", dir.path())
        .output()
        .expect("run ufom");
    assert_eq!(
        info.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&info.stderr)
    );
}

/// A new estimator reaches the CLI through its registry entry alone: `truncated` with
/// `--param k=r` gives the stored-exact hypergradient, a smaller K another one; a missing or
/// unknown setting is refused by name.
#[test]
fn truncated_is_selectable_with_its_setting() {
    let base = [
        "hypergrad",
        "--problem",
        "counterexample",
        "--theta",
        "3",
        "--json",
        "--estimator",
    ];
    let run = |extra: &[&str]| json(&[&base[..], extra].concat());
    let exact = run(&["stored_exact"]);
    let full = run(&["truncated", "--param", "k=10"]);
    let short = run(&["truncated", "--param", "k=3"]);
    assert_eq!(full["grad"], exact["grad"]);
    assert_eq!(full["estimator"], "truncated(k=10)");
    assert_ne!(short["grad"], exact["grad"]);
    assert_eq!(short["calls"]["hvp"], 6, "two tasks × K = 3 HVPs");
    for (extra, want) in [
        (&["truncated"][..], "`k`"),
        (
            &["truncated", "--param", "k=3", "--param", "z=1"][..],
            "`z`",
        ),
    ] {
        let out = ufom(&[&base[..], extra].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(want), "{extra:?}: {err}");
    }
}

#[test]
fn the_sources_estimators_run_from_the_cli_with_their_calls() {
    for (est, param, hvp) in [
        ("checkpointed", "slots=2", 5),
        ("aid_cg", "cg_steps=3", 3),
        ("neumann", "terms=4", 5),
    ] {
        let v = json(&[
            "hypergrad",
            "--problem",
            "quadratic",
            "--theta",
            "0.5",
            "--estimator",
            est,
            "--param",
            param,
            "--json",
        ]);
        assert_eq!(v["calls"]["hvp"], hvp, "{est}: {v}");
        assert!(
            v["grad"].as_array().is_some_and(|g| g.len() == 3),
            "{est}: {v}"
        );
    }
}

/// Sizes that would overflow or exhaust memory are refused up front, naming the flag (before:
/// `--seeds 2^64−1 --dry-run` panicked, `--seeds 99999999999` and `map --samples 99999999999`
/// aborted on an 800 GB allocation, `--seeds -1` blamed an "unexpected argument").
#[test]
fn huge_or_negative_sizes_name_their_flag() {
    for (args, flag) in [
        (
            &[
                "bench",
                "--scale",
                "smoke",
                "--experiment",
                "synthetic",
                "--seeds",
                "18446744073709551615",
                "--dry-run",
            ][..],
            "--seeds",
        ),
        (
            &["bench", "--seeds", "99999999999", "--dry-run"][..],
            "--seeds",
        ),
        (&["bench", "--seeds", "-1", "--dry-run"][..], "--seeds"),
        (&["map", "--samples", "99999999999"][..], "--samples"),
    ] {
        let out = ufom(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: {err}");
    }
    // Control: the largest accepted value plans without allocating per seed up front.
    let out = ufom(&[
        "bench",
        "--scale",
        "smoke",
        "--experiment",
        "synthetic",
        "--seeds",
        "10000",
        "--dry-run",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ufom slurm` refuses settings SLURM would reject or misread, naming the flag (before:
/// `--max-parallel 0` was dropped, `--time "bogus time"` and `--gpus-per-task 0` were written
/// into the script). Control: a valid day-hour time gets past the flags (to the missing plan).
#[test]
fn slurm_settings_are_checked_before_the_script_is_written() {
    for (flag, value) in [
        ("--max-parallel", "0"),
        ("--time", "bogus time"),
        ("--time", "4:00:00:00"),
        ("--gpus-per-task", "0"),
        ("--cpus-per-task", "0"),
        ("--partition", "gpu\n#SBATCH --x"),
    ] {
        let out = ufom(&["slurm", "/nonexistent-plan", flag, value]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(err.contains(flag), "{flag} {value}: {err}");
    }
    let out = ufom(&["slurm", "/nonexistent-plan", "--time", "1-02:03:04"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a plan folder"), "{err}");
}

/// An `--out` that is a file is refused up front, naming it (before: every experiment failed on
/// its own and the summary claimed finished reports were written); `--dry-run` refuses what the
/// real run would.
#[test]
fn out_must_be_a_folder_and_dry_run_refuses_what_the_run_would() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").expect("file");
    let f = file.to_str().expect("utf-8");
    for extra in [&[][..], &["--dry-run"][..]] {
        let mut args = vec![
            "bench",
            "--scale",
            "smoke",
            "--experiment",
            "synthetic",
            "--out",
            f,
        ];
        args.extend_from_slice(extra);
        let out = ufom(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains("--out") && err.contains("a-file"), "{err}");
    }
    // A folder of smoke-scale reports: a default-scale dry run is refused as the run would be.
    let smoke = dir.path().join("smoke");
    let s = smoke.to_str().expect("utf-8");
    let run = ufom(&[
        "bench",
        "--scale",
        "smoke",
        "--experiment",
        "synthetic",
        "--out",
        s,
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let dry = ufom(&[
        "bench",
        "--scale",
        "default",
        "--experiment",
        "synthetic",
        "--dry-run",
        "--out",
        s,
    ]);
    let err = String::from_utf8_lossy(&dry.stderr);
    assert_eq!(dry.status.code(), Some(2), "{err}");
    assert!(err.contains("smoke-scale reports"), "{err}");
    // Control: a folder (absent: created by the run) plans fine.
    let ok = ufom(&[
        "bench",
        "--scale",
        "smoke",
        "--experiment",
        "synthetic",
        "--dry-run",
        "--out",
        dir.path().join("new").to_str().expect("utf-8"),
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

/// What a new user meets first: a command without its subcommand prints its help as help is
/// printed (several lines on stderr, exit 2), not joined into one line with "; "; plain
/// `ufom doctor` on a build without `cuda` checks the CPU and succeeds, and its help states
/// that default.
#[test]
fn first_contact_help_and_doctor_defaults() {
    for args in [&[][..], &["data"][..], &["cell"][..]] {
        let out = ufom(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            err.lines().count() > 3 && !err.contains("; Usage:"),
            "{args:?}: {err}"
        );
        assert!(err.contains("Usage:"), "{err}");
    }
    let help = String::from_utf8_lossy(&ufom(&["doctor", "--help"]).stdout).into_owned();
    assert!(!help.contains("[default: cuda]"), "{help}");
    assert!(help.contains("`cpu` otherwise"), "{help}");
    if !cfg!(feature = "cuda") {
        let out = ufom(&["doctor"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("no cuda feature"), "{text}");
    }
}

/// Errors blame the right thing (before: `--alpha 100` said "invalid a1", r = 2^30 was refused
/// as "needs r <= 2^30", `--d2 inf` said "inf must be >= 0", a huge r blamed a1 and a2).
#[test]
fn errors_name_the_culprit() {
    for (args, want) in [
        (
            &["counterexample", "--d", "0.06", "--alpha", "100"][..],
            "invalid alpha = 100",
        ),
        (
            &["counterexample", "--d", "0.06", "--r", "1073741824"][..],
            "needs r <= 1073741823",
        ),
        (
            &["counterexample", "--d", "0.06", "--r", "100000"][..],
            "invalid r = 100000",
        ),
        (
            &["qstar", "--d2", "inf", "--v2", "1", "--r", "10"][..],
            "must be a finite number",
        ),
    ] {
        let out = ufom(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // Control: the defaults are valid.
    assert!(ufom(&["counterexample", "--d", "0.06"]).status.success());
}

/// A flag no selected experiment reads is refused, not ignored (before: `bench --experiment
/// synthetic --backward-clip 0.1` ran without it). Control: with a few-shot experiment it plans.
#[test]
fn backward_clip_without_a_few_shot_experiment_is_refused() {
    let out = ufom(&[
        "bench",
        "--scale",
        "smoke",
        "--experiment",
        "synthetic",
        "--backward-clip",
        "0.1",
        "--dry-run",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--backward-clip"), "{err}");
    let ok = ufom(&[
        "bench",
        "--scale",
        "smoke",
        "--experiment",
        "synthetic",
        "--experiment",
        "cifar100",
        "--backward-clip",
        "0.1",
        "--list",
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

/// `ufom map` checks scale and scope before replacing a map (before: `map --scale smoke`
/// replaced the default-scale map.json, `--problem X` dropped the other problems, and `--scale
/// paper` ran the default sizes labelled "paper"). Control: the same scale and scope replaces.
#[test]
fn map_never_replaces_a_map_of_another_scale_or_scope() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("utf-8");
    let first = ufom(&[
        "map",
        "--scale",
        "smoke",
        "--problem",
        "counterexample",
        "--out",
        out,
    ]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    for (args, want) in [
        (
            &[
                "map",
                "--scale",
                "default",
                "--problem",
                "counterexample",
                "--out",
                out,
            ][..],
            "smoke-scale map",
        ),
        (
            &["map", "--scale", "paper", "--out", out][..],
            "no paper scale",
        ),
    ] {
        let o = ufom(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // A map of more problems is never narrowed by --problem.
    let wide = tempfile::tempdir().expect("tempdir");
    let w = wide.path().to_str().expect("utf-8");
    let both = ufom(&[
        "map",
        "--scale",
        "smoke",
        "--problem",
        "counterexample",
        "--problem",
        "quadratic",
        "--out",
        w,
    ]);
    assert!(both.status.success());
    let narrow = ufom(&[
        "map",
        "--scale",
        "smoke",
        "--problem",
        "counterexample",
        "--out",
        w,
    ]);
    let err = String::from_utf8_lossy(&narrow.stderr);
    assert_eq!(narrow.status.code(), Some(2), "{err}");
    assert!(err.contains("quadratic") && err.contains("drop"), "{err}");
    let again = ufom(&[
        "map",
        "--scale",
        "smoke",
        "--problem",
        "counterexample",
        "--out",
        out,
    ]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

/// Ignored or conflicting estimator settings are refused (before: `--q 0.1 --param q=0.2` used
/// 0.1, `--param k=5 --param k=6` used 6, `k=1000` with r = 10 ran, and a missing `k` suggested
/// a `--k` flag that does not exist).
#[test]
fn conflicting_or_ignored_settings_are_refused() {
    let base = [
        "hypergrad",
        "--problem",
        "counterexample",
        "--theta",
        "3",
        "--estimator",
    ];
    for (extra, want) in [
        (
            &["ufom", "--q", "0.1", "--param", "q=0.2"][..],
            "both set q",
        ),
        (
            &["truncated", "--param", "k=5", "--param", "k=6"][..],
            "given twice",
        ),
        (&["truncated", "--param", "k=1000"][..], "exceeds"),
        (&["truncated"][..], "--param k=VALUE"),
    ] {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let out = ufom(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra:?}");
        assert!(err.contains(want), "{extra:?}: {err}");
        assert!(!err.contains("--k "), "{err}");
    }
    // Control: k = r is accepted.
    let args: Vec<&str> = base
        .iter()
        .chain(&["truncated", "--param", "k=10"])
        .copied()
        .collect();
    assert!(ufom(&args).status.success());
}

/// The README's main example shows what UFOM is: the command it prints draws the exact branch on
/// a task, so its estimate differs from FOM's (before: its one draw took no exact branch and
/// printed FOM's value). The section's title counts its commands.
#[test]
fn the_readme_main_example_draws_the_exact_branch() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README");
    assert!(readme.contains("## Three commands"));
    let line = readme
        .lines()
        .skip_while(|l| !l.starts_with("# Main job"))
        .nth(1)
        .expect("the main job's command");
    let args: Vec<&str> = line
        .split(" -- ")
        .nth(1)
        .expect("cargo run … -- ARGS")
        .split_whitespace()
        .collect();
    let out = ufom(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{line}");
    assert!(text.contains("exact branch drawn: [false, true]"), "{text}");
    let fom: Vec<&str> = args
        .iter()
        .map(|a| if *a == "ufom" { "fom" } else { a })
        .collect();
    let fom: Vec<&str> = fom.into_iter().take_while(|a| *a != "--q").collect();
    let fom_text = String::from_utf8_lossy(&ufom(&fom).stdout).into_owned();
    let grad = |t: &str| {
        t.lines()
            .find(|l| l.starts_with("grad:"))
            .map(str::to_string)
    };
    assert_ne!(grad(&text), grad(&fom_text), "UFOM printed FOM's value");
}

/// Found by `tests/fuzz_cli.rs`: `map --seed 18446744073709551615` overflowed deriving the
/// problems' seeds (a panic, exit 101). Seeds wrap now.
#[test]
fn the_largest_map_seed_is_a_seed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ufom(&[
        "map",
        "--scale",
        "smoke",
        "--problem",
        "quadratic",
        "--samples",
        "4",
        "--seed",
        "18446744073709551615",
        "--out",
        dir.path().to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
