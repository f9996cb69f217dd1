//! A generator of bad command lines, built from the binary's own command tree: every
//! subcommand and flag `ufom … --help` lists (with their possible values), given values drawn
//! from edge cases (0, −1, 2^k ± 1, u64::MAX, NaN, ±inf, 1e308, empty, a 10 kB string, paths
//! that are files, missing, empty folders or read-only). Every run must end cleanly: exit code
//! 0, 1, 2 or 130 (never a panic's 101, an abort or a signal), no "panicked" on stderr, and on an
//! error a message that names a flag (`--…`), an argument (`<…>`) or a path.
//!
//! CI runs a bounded number of cases (`FUZZ_CASES`, default 48); `just fuzz` runs more. Long
//! work is kept out so each case takes seconds: `bench` plans (`--dry-run`) unless the draw
//! lists or plans, `map` runs at smoke scale, `doctor --time` is not drawn, and every run
//! happens in a fresh temporary folder with no data, an isolated Hub cache and an unreachable
//! Hub endpoint.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// One command of the tree: its path (`["data", "verify"]`), flags and positional arguments.
#[derive(Debug, Clone)]
struct Cmd {
    path: Vec<String>,
    flags: Vec<Flag>,
    positionals: usize,
}

#[derive(Debug, Clone)]
struct Flag {
    name: String,
    takes_value: bool,
    values: Vec<String>,
}

fn help(path: &[String]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ufom"))
        .args(path)
        .arg("--help")
        .output()
        .expect("ufom --help");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The commands and flags that `--help` lists, recursively.
fn tree() -> &'static Vec<Cmd> {
    static TREE: OnceLock<Vec<Cmd>> = OnceLock::new();
    TREE.get_or_init(|| {
        let mut out = Vec::new();
        let mut todo = vec![Vec::<String>::new()];
        while let Some(path) = todo.pop() {
            let text = help(&path);
            let mut section = "";
            let mut flags: Vec<Flag> = Vec::new();
            for line in text.lines() {
                let t = line.trim_start();
                if !line.starts_with(' ') && t.ends_with(':') {
                    section = t;
                    continue;
                }
                match section {
                    "Commands:" => {
                        if let Some(name) = t.split_whitespace().next() {
                            if name != "help" && line.starts_with("  ") && !line.starts_with("   ")
                            {
                                let mut p = path.clone();
                                p.push(name.to_string());
                                todo.push(p);
                            }
                        }
                    }
                    "Options:" => {
                        if let Some(rest) = t.strip_prefix("- ") {
                            // A possible value of the last flag: `- name: description`.
                            if let (Some(f), Some(v)) = (flags.last_mut(), rest.split(':').next()) {
                                f.values.push(v.trim().to_string());
                            }
                        } else if t.starts_with('-') {
                            let spec = t.split("  ").next().unwrap_or(t);
                            if let Some(long) = spec.split(", ").find_map(|s| s.strip_prefix("--"))
                            {
                                let name = long.split([' ', '=', '.']).next().unwrap_or(long);
                                if !matches!(name, "help" | "version") {
                                    flags.push(Flag {
                                        name: format!("--{name}"),
                                        takes_value: long.contains('<'),
                                        values: Vec::new(),
                                    });
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            let usage = text.lines().find(|l| l.starts_with("Usage:")).unwrap_or("");
            let positionals = usage
                .split_whitespace()
                .filter(|w| w.starts_with('<') && *w != "<COMMAND>")
                .count();
            if !usage.contains("<COMMAND>") && !path.is_empty() {
                out.push(Cmd {
                    path,
                    flags,
                    positionals,
                });
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    })
}

/// The fixed places paths are drawn from, inside one scratch folder.
struct Places {
    root: tempfile::TempDir,
}

impl Places {
    fn new() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::write(root.path().join("a-file"), b"not a folder").expect("file");
        std::fs::create_dir_all(root.path().join("empty")).expect("dir");
        let ro = root.path().join("read-only");
        std::fs::create_dir_all(&ro).expect("dir");
        let mut perm = std::fs::metadata(&ro).expect("meta").permissions();
        perm.set_readonly(true);
        std::fs::set_permissions(&ro, perm).expect("chmod");
        Self { root }
    }

    fn paths(&self) -> Vec<String> {
        ["a-file", "missing/deeper", "empty", "read-only", "out"]
            .iter()
            .map(|p| self.root.path().join(p).display().to_string())
            .collect()
    }
}

/// Edge values every flag may receive.
fn edge_values() -> Vec<String> {
    let mut v: Vec<String> = [
        "0",
        "-1",
        "1",
        "2",
        "3",
        "0.5",
        "255",
        "256",
        "65537",
        "4294967295",
        "4294967297",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "NaN",
        "inf",
        "-inf",
        "1e308",
        "-1e-320",
        "",
        " ",
        "k=5",
        "q=0.1",
        "x=",
        "=1",
        "fom,nope",
        "../..",
        "\u{1F600}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("x".repeat(10_000));
    v
}

/// Runs `ufom args` in `cwd` with no data and no reachable Hub; kills it after `limit`.
fn run(args: &[String], cwd: &Path, limit: Duration) -> (Option<i32>, String, bool) {
    let home = cwd.join(".hf");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ufom"))
        .args(args)
        .current_dir(cwd)
        .env_remove("UFOM_DATA_DIR")
        .env("HF_HOME", &home)
        .env("HF_HUB_CACHE", home.join("hub"))
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env("UFOM_CACHE_DIR", cwd.join(".cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ufom");
    let start = Instant::now();
    let mut stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            timed_out = true;
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status.code(), reader.join().unwrap_or_default(), timed_out)
}

/// Builds the argument vector of a draw: the command, `picks` of its flags with values chosen
/// by `choice`, and its positional arguments; long work kept out (see the file's doc).
fn arguments(
    cmd: &Cmd,
    picks: &[(usize, usize)],
    positional: &[usize],
    places: &Places,
) -> Vec<String> {
    let paths = places.paths();
    let edges = edge_values();
    let mut args = cmd.path.clone();
    for &(f, v) in picks {
        let Some(flag) = cmd.flags.get(f % cmd.flags.len().max(1)) else {
            continue;
        };
        if cmd.path == ["doctor"] && flag.name == "--time" {
            continue;
        }
        args.push(flag.name.clone());
        if flag.takes_value {
            let pool: Vec<&String> = flag.values.iter().chain(&edges).chain(&paths).collect();
            args.push(pool[v % pool.len()].clone());
        }
    }
    let pool: Vec<&String> = paths.iter().chain(&edges).collect();
    for &p in positional.iter().take(cmd.positionals) {
        args.push(pool[p % pool.len()].clone());
    }
    match cmd.path.first().map(String::as_str) {
        Some("bench")
            if !args
                .iter()
                .any(|a| matches!(a.as_str(), "--dry-run" | "--list" | "--plan")) =>
        {
            args.push("--dry-run".into());
        }
        Some("map") => {
            for i in 0..args.len() {
                if args[i] == "--scale" && i + 1 < args.len() {
                    args[i + 1] = "smoke".into();
                }
            }
            args.extend(["--scale".to_string(), "smoke".to_string()]);
            args.extend(["--samples".to_string(), "4".to_string()]);
        }
        _ => {}
    }
    args
}

/// Whether an error message names what it is about: a flag, an argument or a path — as such,
/// quoted (clap quotes the token it could not place), or by echoing one of the values given.
fn names_a_culprit(args: &[String], stderr: &str) -> bool {
    stderr.contains("--")
        || stderr.contains('<')
        || stderr.contains('/')
        || stderr.contains('\'')
        || args[1..]
            .iter()
            .any(|a| !a.trim().is_empty() && stderr.contains(a.as_str()))
}

/// The invariants of one run: finished in time, a clean exit code, no panic, and an error that
/// names its culprit.
fn check(args: &[String], code: Option<i32>, stderr: &str, timed_out: bool) -> Result<(), String> {
    if timed_out {
        return Err(format!("ufom {args:?} ran over its time limit"));
    }
    if !matches!(code, Some(0 | 1 | 2 | 130)) {
        return Err(format!("ufom {args:?} ended with {code:?}: {stderr}"));
    }
    if stderr.contains("panicked") {
        return Err(format!("ufom {args:?} panicked: {stderr}"));
    }
    if code != Some(0) && !names_a_culprit(args, stderr) {
        return Err(format!(
            "ufom {args:?} failed without naming a flag, argument or path: {stderr}"
        ));
    }
    Ok(())
}

/// Negative controls: the check rejects a panic, an abort, a signal, a hang and a nameless
/// error, and accepts a clean refusal.
#[test]
fn the_invariants_reject_what_they_must() {
    let a = vec!["bench".to_string()];
    let panic = "thread 'main' panicked at src/x.rs:1:1: capacity overflow";
    assert!(check(&a, Some(101), panic, false).is_err());
    assert!(check(&a, Some(134), "", false).is_err());
    assert!(check(&a, None, "", false).is_err());
    assert!(check(&a, Some(0), "", true).is_err());
    assert!(check(&a, Some(1), "error: something went wrong", false).is_err());
    assert!(check(
        &a,
        Some(2),
        "error: invalid value 'x' for '--seeds <N>'",
        false
    )
    .is_ok());
}

#[test]
fn no_command_line_crashes_ufom() {
    let cases: u32 = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    let cmds = tree();
    assert!(cmds.len() >= 10, "the command tree was not read: {cmds:?}");
    assert!(
        cmds.iter().any(|c| c.path == ["data", "verify"]),
        "nested commands: {cmds:?}"
    );
    let places = Places::new();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        0..cmds.len(),
        prop::collection::vec((0usize..64, 0usize..256), 0..4),
        prop::collection::vec(0usize..64, 0..2),
    );
    let tried = std::sync::atomic::AtomicUsize::new(0);
    let result = runner.run(&strategy, |(c, picks, positional)| {
        let cmd = &cmds[c];
        let args = arguments(cmd, &picks, &positional, &places);
        let cwd = tempfile::tempdir().expect("tempdir");
        let (code, stderr, timed_out) = run(&args, cwd.path(), Duration::from_secs(120));
        tried.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        check(&args, code, &stderr, timed_out).map_err(TestCaseError::fail)?;
        Ok(())
    });
    eprintln!(
        "fuzz_cli: {} command lines tried over {} commands",
        tried.load(std::sync::atomic::Ordering::Relaxed),
        cmds.len()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}
