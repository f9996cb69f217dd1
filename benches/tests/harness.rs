//! Harness v2 end to end: resume keyed by the data actually used, a failing experiment keeping
//! the others' reports (data checked before any training), method/seed selection, `--list`,
//! `--dry-run`, `ufom report`, Ctrl-C with its resume hint, and configuration only through
//! flags.

mod common;

use common::{summary_cells, text, ufom_isolated as ufom, write_cifar};
use serde_json::Value;
use std::path::Path;

fn read(path: &Path) -> Value {
    let s = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Fault 1: cells are reused only for the same data. Control: same data, `--resume` reuses
/// every cell; then the training file changes (same size, other pixels) and nothing is reused.
#[test]
fn resume_never_reuses_cells_computed_on_other_data() {
    let data = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    write_cifar(data.path(), 0, None);
    let args = [
        "bench",
        "--experiment",
        "cifar100",
        "--scale",
        "smoke",
        "--methods",
        "fom",
        "--data-dir",
        s(data.path()),
        "--out",
        s(out.path()),
        "--resume",
    ];
    let first = ufom(&args, data.path());
    let (stdout, stderr) = text(&first);
    assert!(first.status.success(), "{stderr}");
    assert_eq!(summary_cells(&stdout, "cifar100"), (2, 0), "fom@20, fom@30");
    let report = read(&out.path().join("cifar100.json"));
    let files = report["data"].as_array().expect("data files");
    assert_eq!(files.len(), 2, "train.bin and test.bin: {files:?}");
    let train = data.path().join("cifar100/train.bin");
    let recorded = files
        .iter()
        .find(|f| f["path"].as_str().is_some_and(|p| p.ends_with("train.bin")))
        .expect("train.bin recorded");
    let sha = ufom_datasets::source::sha256_path(&train).expect("sha256");
    assert_eq!(recorded["sha256"], sha.as_str());

    // Control: same data, every cell resumed.
    let again = ufom(&args, data.path());
    let (stdout, stderr) = text(&again);
    assert!(again.status.success(), "{stderr}");
    assert_eq!(summary_cells(&stdout, "cifar100"), (0, 2));

    // Other pixels, same file sizes and names: nothing is reused.
    write_cifar(data.path(), 7, None);
    let changed = ufom(&args, data.path());
    let (stdout, stderr) = text(&changed);
    assert!(changed.status.success(), "{stderr}");
    assert_eq!(summary_cells(&stdout, "cifar100"), (2, 0));
    let report = read(&out.path().join("cifar100.json"));
    let new_sha = ufom_datasets::source::sha256_path(&train).expect("sha256");
    assert_ne!(new_sha, sha);
    assert!(report["data"]
        .as_array()
        .expect("data")
        .iter()
        .any(|f| f["sha256"] == new_sha.as_str()));
}

/// Fault 2: a CIFAR class with too few images fails `cifar100` before any of its training,
/// naming the class; `synthetic`, run in the same command, still writes its reports; exit 1.
#[test]
fn a_failing_experiment_keeps_the_others_reports() {
    let data = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    write_cifar(data.path(), 0, Some(7));
    let run = ufom(
        &[
            "bench",
            "--experiment",
            "synthetic",
            "--experiment",
            "cifar100",
            "--scale",
            "smoke",
            "--seeds",
            "1",
            "--data-dir",
            s(data.path()),
            "--out",
            s(out.path()),
        ],
        data.path(),
    );
    let (stdout, stderr) = text(&run);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cifar100") && stderr.contains("class fine7 has 1 images"),
        "{stderr}"
    );
    assert!(stdout.contains("FAILED"), "{stdout}");
    assert!(out.path().join("synthetic.json").is_file(), "{stdout}");
    assert!(out.path().join("synthetic.md").is_file());
    assert!(!out.path().join("cifar100.json").exists());
    assert!(
        !out.path().join("cells/cifar100").exists(),
        "cifar100 trained before its data check"
    );
}

/// `--methods` and `--seeds` select cells; an unknown method is a usage error naming the
/// available ones.
#[test]
fn methods_and_seeds_select_the_cells() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    let run = ufom(
        &[
            "bench",
            "--experiment",
            "synthetic",
            "--scale",
            "smoke",
            "--methods",
            "fom,recompute_exact",
            "--seeds",
            "1",
            "--out",
            s(out.path()),
        ],
        home.path(),
    );
    let (_, stderr) = text(&run);
    assert!(run.status.success(), "{stderr}");
    let report = read(&out.path().join("synthetic.json"));
    let labels: Vec<&str> = report["methods"]
        .as_array()
        .expect("methods")
        .iter()
        .map(|m| m["method"].as_str().expect("label"))
        .collect();
    assert_eq!(labels, ["fom", "recompute_exact"]);
    assert_eq!(report["seeds"], serde_json::json!([0]));
    assert_eq!(
        report["methods"][1]["spec"]["learner"]["estimator"]["kind"],
        "recompute_exact"
    );

    let bad = ufom(
        &[
            "bench",
            "--scale",
            "smoke",
            "--methods",
            "sgd",
            "--out",
            s(out.path()),
        ],
        home.path(),
    );
    let (_, stderr) = text(&bad);
    assert_eq!(bad.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("unknown method `sgd`") && stderr.contains("ufom_q0.1"),
        "{stderr}"
    );
}

/// `--list` and `--dry-run` print the plan and write nothing; after a run, the estimate is
/// calibrated from its seconds per call.
#[test]
fn list_and_dry_run_print_the_plan_and_train_nothing() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    let list = ufom(&["bench", "--list", "--out", s(out.path())], home.path());
    let (stdout, stderr) = text(&list);
    assert!(list.status.success(), "{stderr}");
    for want in [
        "synthetic",
        "hypercleaning",
        "omniglot",
        "cifar100",
        "methods: fom, ufom_q0.1, recompute_exact",
        "reptile@20",
        "smoke",
        "paper",
    ] {
        assert!(stdout.contains(want), "--list lacks {want}:\n{stdout}");
    }
    assert!(stdout.contains("NOT RUNNABLE"), "no data here:\n{stdout}");
    assert_eq!(std::fs::read_dir(out.path()).expect("dir").count(), 0);

    let dry = [
        "bench",
        "--experiment",
        "synthetic",
        "--scale",
        "smoke",
        "--methods",
        "fom",
        "--seeds",
        "1",
        "--out",
        s(out.path()),
        "--dry-run",
        "--resume",
    ];
    let plan = ufom(&dry, home.path());
    let (stdout, stderr) = text(&plan);
    assert!(plan.status.success(), "{stderr}");
    assert!(
        stdout.contains("1 method(s) × 1 seed(s) = 1 cells"),
        "{stdout}"
    );
    assert!(stdout.contains("unknown (no earlier run"), "{stdout}");
    assert!(stdout.contains("nothing was trained"), "{stdout}");
    assert_eq!(std::fs::read_dir(out.path()).expect("dir").count(), 0);

    // After a run of two seeds, a dry run of three with --resume has one cell left to estimate.
    let mut run = dry.to_vec();
    run.retain(|a| *a != "--dry-run" && *a != "--resume");
    run[8] = "2";
    let done = ufom(&run, home.path());
    assert!(done.status.success(), "{}", text(&done).1);
    let mut three = dry.to_vec();
    three[8] = "3";
    let plan = ufom(&three, home.path());
    let (stdout, _) = text(&plan);
    assert!(
        stdout.contains("estimated training time:") && !stdout.contains("unknown"),
        "{stdout}"
    );
}

/// `ufom report DIR` re-renders Markdown, SVG and bencher.json from the JSON alone, byte for
/// byte; a folder without reports, or an old-schema report, is an error naming it.
#[test]
fn report_rerenders_every_file_from_the_json() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    let run = ufom(
        &[
            "bench",
            "--experiment",
            "synthetic",
            "--scale",
            "smoke",
            "--seeds",
            "1",
            "--out",
            s(out.path()),
        ],
        home.path(),
    );
    assert!(run.status.success(), "{}", text(&run).1);
    let rendered: Vec<(std::path::PathBuf, Vec<u8>)> = std::fs::read_dir(out.path())
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|x| x != "json" || p.ends_with("bencher.json"))
        })
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read");
            (p, bytes)
        })
        .collect();
    assert!(rendered.len() >= 3, "{rendered:?}");
    for (p, _) in &rendered {
        std::fs::remove_file(p).expect("remove");
    }
    let again = ufom(&["report", s(out.path())], home.path());
    let (stdout, stderr) = text(&again);
    assert!(again.status.success(), "{stderr}");
    for (p, bytes) in &rendered {
        assert_eq!(
            &std::fs::read(p).expect("re-rendered"),
            bytes,
            "{}",
            p.display()
        );
        assert!(stdout.contains(s(p)), "{stdout}");
    }

    let empty = tempfile::tempdir().expect("tempdir");
    let none = ufom(&["report", s(empty.path())], home.path());
    assert_eq!(none.status.code(), Some(1));
    assert!(text(&none).1.contains("no experiment report"));

    let mut old = read(&out.path().join("synthetic.json"));
    old["schema_version"] = serde_json::json!(1);
    std::fs::write(empty.path().join("synthetic.json"), old.to_string()).expect("write");
    let stale = ufom(&["report", s(empty.path())], home.path());
    let (_, stderr) = text(&stale);
    assert_eq!(stale.status.code(), Some(1));
    assert!(
        stderr.contains("synthetic.json") && stderr.contains("schema version 1"),
        "{stderr}"
    );
}

/// Fault 10: Ctrl-C stops the run at the next outer step, keeps the finished cells, says how to
/// continue (`--resume`) and exits 130; nothing half-trained is saved.
#[cfg(unix)]
#[test]
fn ctrl_c_keeps_finished_cells_and_hints_resume() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let home = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    let child = Command::new(env!("CARGO_BIN_EXE_ufom"))
        .args([
            "bench",
            "--experiment",
            "synthetic",
            "--scale",
            "default",
            "--out",
            s(out.path()),
        ])
        .env("HF_HOME", home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ufom");
    let cells = out.path().join("cells/synthetic");
    let saved = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&cells)
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .filter(|p| p.file_name().is_some_and(|n| n != "store.json"))
            .collect()
    };
    let start = Instant::now();
    while saved().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no cell finished in 5 minutes"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let output = child.wait_with_output().expect("wait");
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(130), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("--resume") && stderr.contains("interrupted"),
        "{stderr}"
    );
    assert!(stdout.contains("interrupted"), "summary: {stdout}");
    let kept = saved();
    assert!(!kept.is_empty() && kept.len() < 15, "{kept:?}");
    for p in &kept {
        assert_eq!(read(p)["status"], "finished", "{}", p.display());
    }
    assert!(!out.path().join("synthetic.json").exists());
}

/// Configuration goes through flags only: the old environment variable is refused (not
/// silently ignored); `--backward-clip` shows in the method labels.
#[test]
fn backward_clip_is_a_flag_not_an_environment_variable() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    let o = s(out.path());
    let env = std::process::Command::new(env!("CARGO_BIN_EXE_ufom"))
        .args(["bench", "--list", "--out", o])
        .env("UFOM_FEWSHOT_BACKWARD_CLIP", "10")
        .output()
        .expect("run");
    let (_, stderr) = text(&env);
    assert_eq!(env.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--backward-clip"), "{stderr}");
    let list = ufom(
        &["bench", "--list", "--backward-clip", "10", "--out", o],
        home.path(),
    );
    let (stdout, stderr) = text(&list);
    assert!(list.status.success(), "{stderr}");
    assert!(stdout.contains("recompute_exact_clip10@20"), "{stdout}");
    assert!(stdout.contains("ufom_q0.2_clip10@30"), "{stdout}");
    assert!(stdout.contains("fom@20"), "{stdout}");
}

/// Provenance: a cell is reused only by the code that computed it. The build's identity is
/// played by `BenchOptions::code`: code A runs four cells; A again resumes both (control); code
/// B recomputes both, says so, and stamps them; a merge by A takes B's cells and the report
/// names B, not the merging build.
#[test]
fn resume_recomputes_cells_of_other_code_and_each_run_names_its_code() {
    use ufom_bench::harness::experiments::Context;
    use ufom_bench::harness::record::CodeIdentity;
    use ufom_bench::harness::record::{ExperimentReport, Scale};
    use ufom_bench::harness::runner::{self, BenchOptions};
    let out = tempfile::tempdir().expect("tempdir");
    let code = |c: char| CodeIdentity {
        digest: c.to_string().repeat(64),
        commit: Some(c.to_string().repeat(40)),
    };
    let opts = |code: CodeIdentity, merge_only: bool| BenchOptions {
        experiments: vec![ufom_bench::harness::record::ExperimentId::Synthetic],
        methods: vec!["fom".into()],
        seeds: Some(2),
        out: out.path().to_path_buf(),
        resume: true,
        merge_only,
        ctx: Context {
            scale: Scale::Smoke,
            data: ufom_datasets::DataConfig::default(),
            device: candle_core::Device::Cpu,
            backward_clip: None,
        },
        code,
        jobs: ufom_bench::harness::jobs::Jobs::serial(1),
    };
    let cells = |code: CodeIdentity, merge_only: bool| {
        let o = runner::run(&opts(code, merge_only)).expect("run");
        let row = &o.summary[0];
        assert_eq!(row.ending, runner::Ending::Done, "{row:?}");
        (row.cells_run, row.cells_resumed, row.cells_recomputed)
    };
    let report = || -> ExperimentReport {
        serde_json::from_value(read(&out.path().join("synthetic.json"))).expect("report")
    };
    // Two runs and Fig. 1d–f's two simulation cells.
    assert_eq!(cells(code('a'), false), (4, 0, 0));
    assert_eq!(report().cell_code(), vec![(Some(code('a')), 4)]);
    // Control: the same code reuses both.
    assert_eq!(cells(code('a'), false), (0, 4, 0));
    // Other code: both computed again, and counted as such.
    assert_eq!(cells(code('b'), false), (4, 0, 4));
    assert_eq!(report().cell_code(), vec![(Some(code('b')), 4)]);
    assert_eq!(cells(code('b'), false), (0, 4, 0));
    // A merge takes finished cells of any code and names the code that computed them.
    assert_eq!(cells(code('a'), true), (0, 4, 0));
    let merged = report();
    assert_eq!(merged.cell_code(), vec![(Some(code('b')), 4)]);
    assert!(merged.describe_cell_code().contains("bbbbbbbbbbbb"));
}

/// `ufom report --reanalyse` runs the analysis stage again from the report's own records: a
/// report whose claims and notes were removed gets them back, recomputed, with `analysed_by`;
/// a plain `ufom report` (the control) leaves the JSON as it is.
#[test]
fn reanalyse_rebuilds_the_findings_from_the_records() {
    let out = tempfile::tempdir().expect("tempdir");
    let home = tempfile::tempdir().expect("tempdir");
    let o = s(out.path());
    let run = ufom(
        &[
            "bench",
            "--experiment",
            "synthetic",
            "--scale",
            "smoke",
            "--out",
            o,
        ],
        home.path(),
    );
    assert!(run.status.success(), "{}", text(&run).1);
    let path = out.path().join("synthetic.json");
    let full = read(&path);
    assert!(!full["claims"].as_array().expect("claims").is_empty());
    let mut stripped = full.clone();
    stripped["claims"] = serde_json::json!([]);
    stripped["notes"] = serde_json::json!([]);
    stripped
        .as_object_mut()
        .expect("object")
        .remove("analysed_by");
    std::fs::write(&path, serde_json::to_vec_pretty(&stripped).expect("json")).expect("write");
    let plain = ufom(&["report", o], home.path());
    assert!(plain.status.success(), "{}", text(&plain).1);
    assert_eq!(read(&path)["claims"], serde_json::json!([]));
    let again = ufom(&["report", o, "--reanalyse"], home.path());
    assert!(again.status.success(), "{}", text(&again).1);
    let rebuilt = read(&path);
    assert_eq!(rebuilt["claims"], full["claims"]);
    assert_eq!(rebuilt["notes"], full["notes"]);
    assert!(rebuilt["analysed_by"]["digest"].is_string());
}

/// A damaged report is an error naming the file, never skipped in silence (before: exit 0,
/// `bencher.json` rewritten without it, its Markdown left stale). Control: the intact folder
/// re-renders.
#[test]
fn report_refuses_a_damaged_json_naming_it() {
    let out = tempfile::tempdir().expect("tempdir");
    let home = tempfile::tempdir().expect("tempdir");
    let o = s(out.path());
    let run = ufom(
        &[
            "bench",
            "--experiment",
            "synthetic",
            "--scale",
            "smoke",
            "--out",
            o,
        ],
        home.path(),
    );
    assert!(run.status.success(), "{}", text(&run).1);
    let ok = ufom(&["report", o], home.path());
    assert!(ok.status.success(), "{}", text(&ok).1);
    let path = out.path().join("synthetic.json");
    let bytes = std::fs::read(&path).expect("report");
    std::fs::write(&path, &bytes[..2000]).expect("truncate");
    let bad = ufom(&["report", o], home.path());
    let (_, err) = text(&bad);
    assert!(!bad.status.success());
    assert!(
        err.contains("synthetic.json") && err.contains("damaged"),
        "{err}"
    );
}

/// A damaged finished cell in a plan folder is unfinished everywhere: `ufom slurm` puts its
/// task back in the array, `cell run` computes it again, and the merge then completes (before:
/// counted as finished, left out of the array, and reported missing by the merge forever).
#[test]
fn a_damaged_cell_of_a_plan_is_computed_again() {
    let plan = tempfile::tempdir().expect("tempdir");
    let home = tempfile::tempdir().expect("tempdir");
    let p = s(plan.path());
    let ok = |args: &[&str]| {
        let o = ufom(args, home.path());
        let (out, err) = text(&o);
        assert!(o.status.success(), "{args:?}: {err}");
        out
    };
    ok(&[
        "bench",
        "--experiment",
        "synthetic",
        "--scale",
        "smoke",
        "--methods",
        "fom",
        "--plan",
        p,
    ]);
    ok(&[
        "cell",
        "run",
        "--plan",
        p,
        "--index",
        "0",
        "--cells-per-task",
        "100",
    ]);
    assert!(ok(&["slurm", p]).contains("every cell"));
    let store = std::fs::read_dir(plan.path().join("cells/synthetic"))
        .expect("store")
        .next()
        .expect("one store")
        .expect("entry")
        .path();
    let cell = std::fs::read_dir(&store)
        .expect("cells")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("fom__"))
        })
        .expect("a fom cell");
    std::fs::write(&cell, b"{ truncated").expect("damage");
    let script = ok(&["slurm", p]);
    assert!(!script.contains("every cell"), "{script}");
    let out = ok(&[
        "cell",
        "run",
        "--plan",
        p,
        "--index",
        "0",
        "--cells-per-task",
        "100",
    ]);
    assert!(out.contains("1 cell(s) run (1 of them again"), "{out}");
    ok(&["report", p]);
    assert!(plan.path().join("synthetic.json").is_file());
}

/// `--dry-run --resume` counts finished cells against the data as it is now and this build's
/// code, and says finished vs remaining (before: it keyed cells by the previous report's data
/// digests and said 0 s where the real run then trained every cell). Control: unchanged data,
/// everything finished.
#[test]
fn dry_run_resume_counts_against_the_current_data() {
    let data = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    write_cifar(data.path(), 0, None);
    let args = [
        "bench",
        "--experiment",
        "cifar100",
        "--scale",
        "smoke",
        "--methods",
        "fom",
        "--data-dir",
        s(data.path()),
        "--out",
        s(out.path()),
        "--resume",
    ];
    let first = ufom(&args, data.path());
    assert!(first.status.success(), "{}", text(&first).1);
    let dry: Vec<&str> = args.iter().copied().chain(["--dry-run"]).collect();
    let same = ufom(&dry, data.path());
    let (stdout, stderr) = text(&same);
    assert!(same.status.success(), "{stderr}");
    assert!(
        stdout.contains("2 finished (this code, this data), 0 to run"),
        "{stdout}"
    );
    write_cifar(data.path(), 7, None);
    let changed = ufom(&dry, data.path());
    let (stdout, stderr) = text(&changed);
    assert!(changed.status.success(), "{stderr}");
    assert!(
        stdout.contains("0 finished (this code, this data), 2 to run"),
        "{stdout}"
    );
}
