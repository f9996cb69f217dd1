//! Scale-out end to end: a bench planned as cells (`ufom bench --plan`), run as a job array
//! from the script `ufom slurm` writes, one task killed part-way, the array regenerated over what
//! is left and resubmitted, then merged by `ufom report` — equal to a local `ufom bench` of the
//! same plan apart from timing and host fields, with no finished cell recomputed.
//!
//! The array runs on a real single-node SLURM (`scripts/slurm-local.sh`: Debian's slurm-wlm and
//! munge, daemons on localhost, state in a temp folder) when the daemons come up here; otherwise
//! (not installed — CI has no network to install them — or the daemons fail) the test says why
//! and runs the generated script's tasks itself, with SLURM's SLURM_ARRAY_TASK_ID set, so the
//! plan/run/merge path is still tested end to end.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant, SystemTime};

fn ufom(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ufom"))
        .args(args)
        .output()
        .expect("run ufom")
}

fn ok(args: &[&str]) -> String {
    let out = ufom(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A report without the fields that legitimately differ between runs (timing, host).
fn strip(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "wall_s" | "seconds_per_call" | "environment")
                })
                .map(|(k, v)| (k.clone(), strip(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
        other => other.clone(),
    }
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json")
}

/// Every finished cell file with its modification time.
fn cells(plan: &Path) -> BTreeMap<PathBuf, SystemTime> {
    fn walk(d: &Path, out: &mut BTreeMap<PathBuf, SystemTime>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "failed") {
                    walk(&p, out);
                }
            } else if p.extension().is_some_and(|x| x == "json")
                && p.file_name().is_some_and(|n| n != "store.json")
            {
                out.insert(
                    p.clone(),
                    e.metadata().and_then(|m| m.modified()).expect("mtime"),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&plan.join("cells"), &mut out);
    out
}

/// `--array=1,3-4%2` → [1, 3, 4].
fn array_tasks(script: &str) -> Vec<usize> {
    let spec = script
        .lines()
        .find_map(|l| l.strip_prefix("#SBATCH --array="))
        .expect("array line");
    let spec = spec.split('%').next().expect("spec");
    spec.split(',')
        .flat_map(|part| match part.split_once('-') {
            Some((a, b)) => (a.parse::<usize>().expect("a")..=b.parse().expect("b")).collect(),
            None => vec![part.parse().expect("index")],
        })
        .collect()
}

/// Waits until `done()` or panics after `secs`.
fn wait_for(secs: u64, what: &str, mut done: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !done() {
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Where the array's tasks run.
enum Runner {
    /// A single-node SLURM started for the test (stopped on drop).
    Slurm { state: PathBuf, conf: String },
    /// The script's tasks run here with SLURM_ARRAY_TASK_ID set.
    Fallback,
}

impl Drop for Runner {
    fn drop(&mut self) {
        if let Runner::Slurm { state, .. } = self {
            let _ = Command::new("bash")
                .arg(root().join("scripts/slurm-local.sh"))
                .arg("stop")
                .arg(&*state)
                .status();
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn start_runner(tmp: &Path) -> Runner {
    let state = tmp.join("slurm");
    let out = Command::new("bash")
        .arg(root().join("scripts/slurm-local.sh"))
        .arg("start")
        .arg(&state)
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            let conf = text
                .trim()
                .strip_prefix("export SLURM_CONF=")
                .expect("SLURM_CONF")
                .to_string();
            println!("running the array on a local SLURM ({conf})");
            Runner::Slurm { state, conf }
        }
        Ok(o) => {
            println!(
                "FALLBACK: no local SLURM ({}); running the script's array tasks directly",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            Runner::Fallback
        }
        Err(e) => {
            println!("FALLBACK: cannot start scripts/slurm-local.sh ({e})");
            Runner::Fallback
        }
    }
}

impl Runner {
    fn slurm(&self, prog: &str) -> Command {
        let mut c = Command::new(prog);
        if let Runner::Slurm { conf, .. } = self {
            c.env("SLURM_CONF", conf);
        }
        c
    }

    /// Starts task `i` of the script directly (fallback).
    fn spawn_task(script: &Path, i: usize) -> Child {
        Command::new("bash")
            .arg(script)
            .env("SLURM_ARRAY_TASK_ID", i.to_string())
            .env("SLURM_ARRAY_JOB_ID", "1")
            .spawn()
            .expect("task")
    }

    /// Submits the script; returns the job id (SLURM) or runs it (fallback). With `kill`:
    /// kills task `kill.0` once `kill.1()` holds.
    fn run_array(&self, script: &Path, kill: Option<(usize, &dyn Fn() -> bool)>) {
        let text = std::fs::read_to_string(script).expect("script");
        match self {
            Runner::Slurm { .. } => {
                let out = self
                    .slurm("sbatch")
                    .arg("--parsable")
                    .arg(script)
                    .output()
                    .expect("sbatch");
                assert!(
                    out.status.success(),
                    "sbatch: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let job = String::from_utf8_lossy(&out.stdout).trim().to_string();
                if let Some((task, when)) = kill {
                    wait_for(120, "the task to kill to be part-way", when);
                    let st = self
                        .slurm("scancel")
                        .args(["--signal=KILL", &format!("{job}_{task}")])
                        .status()
                        .expect("scancel");
                    assert!(st.success());
                }
                wait_for(300, "the array to finish", || {
                    let q = self
                        .slurm("squeue")
                        .args(["-h", "-j", &job])
                        .output()
                        .expect("squeue");
                    q.stdout.is_empty()
                });
            }
            Runner::Fallback => {
                for i in array_tasks(&text) {
                    let mut child = Self::spawn_task(script, i);
                    match kill {
                        Some((task, when)) if task == i => {
                            wait_for(120, "the task to kill to be part-way", when);
                            child.kill().expect("kill");
                            let _ = child.wait();
                        }
                        _ => assert!(child.wait().expect("wait").success(), "task {i} failed"),
                    }
                }
            }
        }
    }
}

#[test]
fn a_killed_array_task_is_resubmitted_and_the_merge_equals_a_local_run() {
    let tmp = std::env::temp_dir().join(format!("ufom-cluster-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("tmp");
    let (local, plan) = (tmp.join("local"), tmp.join("plan"));
    let (local_s, plan_s) = (local.to_str().expect("utf8"), plan.to_str().expect("utf8"));
    // Six runs of ~0.4 s (synthetic experiment, default scale, two seeds) and Fig. 1d–f's two
    // simulation cells: slow enough to kill a task part-way.
    let bench = [
        "bench",
        "--scale",
        "default",
        "--experiment",
        "synthetic",
        "--seeds",
        "2",
    ];
    ok(&[&bench[..], &["--out", local_s]].concat());
    ok(&[&bench[..], &["--plan", plan_s]].concat());
    assert_eq!(
        std::fs::read_to_string(plan.join("cells.jsonl"))
            .expect("cells")
            .lines()
            .count(),
        8
    );
    let slurm = [
        "slurm",
        plan_s,
        "--cells-per-task",
        "4",
        "--max-parallel",
        "1",
    ];
    ok(&slurm);
    let script = plan.join("array.sbatch");
    let first = std::fs::read_to_string(&script).expect("script");
    assert_eq!(array_tasks(&first), vec![0, 1]);
    assert!(first.contains("#SBATCH --array=0-1%1"), "{first}");

    let runner = start_runner(&tmp);
    // Task 1 is killed once one of its four cells is saved (task 0's four are done first).
    let part_way = || cells(&plan).len() >= 5;
    runner.run_array(&script, Some((1, &part_way)));
    let after_kill = cells(&plan);
    assert!(
        (5..8).contains(&after_kill.len()),
        "the kill did not land part-way: {} cells",
        after_kill.len()
    );
    // The merge lists what is missing and fails.
    let merge = ufom(&["report", plan_s]);
    assert!(!merge.status.success());
    let err = String::from_utf8_lossy(&merge.stderr);
    assert!(err.contains("not finished"), "{err}");

    // Regenerated, the array covers only the killed task; resubmitted, it finishes the sweep.
    ok(&slurm);
    let second = std::fs::read_to_string(&script).expect("script");
    assert_eq!(array_tasks(&second), vec![1], "{second}");
    runner.run_array(&script, None);
    let all = cells(&plan);
    assert_eq!(all.len(), 8);
    for (path, mtime) in &after_kill {
        assert_eq!(
            all.get(path),
            Some(mtime),
            "{} was recomputed",
            path.display()
        );
    }
    assert!(ok(&slurm).contains("every cell"));

    ok(&["report", plan_s]);
    let (merged, reference) = (
        read(&plan.join("synthetic.json")),
        read(&local.join("synthetic.json")),
    );
    assert_eq!(strip(&merged), strip(&reference));
    // Negative control: the comparison sees a changed number.
    let mut tampered = merged.clone();
    tampered["seeds"] = serde_json::json!([0, 7]);
    assert_ne!(strip(&tampered), strip(&reference));
    drop(runner);
    let _ = std::fs::remove_dir_all(&tmp);
}
