//! `--jobs`: cells run at once give the same cells, bit for bit, as one after another (only
//! their timings differ), for the bench and for a cluster task; `--list` and `--dry-run`
//! state the parallelism.

mod common;

use common::{text, ufom_isolated as ufom, without_timing, write_cifar};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Every finished cell under `<out>/cells` (path relative to it → its JSON), with the fields
/// that measure time removed (`wall_s`, `seconds_per_call`, at any depth).
fn cells(out: &Path) -> BTreeMap<String, Value> {
    fn walk(root: &Path, dir: &Path, found: &mut BTreeMap<String, Value>) {
        for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, found);
            } else if p.extension().is_some_and(|x| x == "json") {
                let text = std::fs::read_to_string(&p).expect("read cell");
                let v = without_timing(serde_json::from_str(&text).expect("cell JSON"));
                let key = p
                    .strip_prefix(root)
                    .expect("under root")
                    .display()
                    .to_string();
                found.insert(key, v);
            }
        }
    }
    let mut found = BTreeMap::new();
    walk(&out.join("cells"), &out.join("cells"), &mut found);
    found
}

fn bench(data: &Path, out: &Path, jobs: &str) {
    let run = ufom(
        &[
            "bench",
            "--scale",
            "smoke",
            "--experiment",
            "synthetic",
            "--experiment",
            "cifar100",
            "--data-dir",
            s(data),
            "--out",
            s(out),
            "--jobs",
            jobs,
        ],
        data,
    );
    let (_, stderr) = text(&run);
    assert!(run.status.success(), "--jobs {jobs}: {stderr}");
}

/// The synthetic experiment (runs and simulations) and the few-shot one (conv net, meta-batches
/// of tasks, Reptile) with one cell at a time on every thread, and with three at once on one
/// thread each: the same cell files, bit for bit, but for their timings. The control: a third
/// run with other seeds differs, so the comparison sees the cells' values.
#[test]
fn parallel_cells_are_bitwise_the_serial_ones() {
    let data = tempfile::tempdir().expect("tempdir");
    write_cifar(data.path(), 0, None);
    let serial = tempfile::tempdir().expect("tempdir");
    let parallel = tempfile::tempdir().expect("tempdir");
    bench(data.path(), serial.path(), "1");
    bench(data.path(), parallel.path(), "3");
    let (a, b) = (cells(serial.path()), cells(parallel.path()));
    assert!(a.len() >= 10, "cells: {:?}", a.keys());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (k, v) in &a {
        assert_eq!(v, &b[k], "{k} differs between --jobs 1 and --jobs 3");
    }
    // Control: other data (pixels shifted) gives other few-shot cells, which the comparison
    // tells apart.
    let other = tempfile::tempdir().expect("tempdir");
    write_cifar(other.path(), 7, None);
    let third = tempfile::tempdir().expect("tempdir");
    bench(other.path(), third.path(), "3");
    let c = cells(third.path());
    let differ = |m: &BTreeMap<String, Value>| {
        a.iter()
            .filter(|(k, _)| k.starts_with("cifar100"))
            .filter(|(_, v)| v.get("final_metrics").is_some())
            .any(|(_, v)| {
                m.values()
                    .all(|w| w.get("final_metrics") != v.get("final_metrics"))
            })
    };
    assert!(differ(&c), "other data should give other few-shot results");
}

/// `--list` and `--dry-run` say how many cells run at once and on how many threads.
#[test]
fn list_and_dry_run_state_the_parallelism() {
    let home = tempfile::tempdir().expect("tempdir");
    for args in [
        vec!["bench", "--list", "--jobs", "2"],
        vec![
            "bench",
            "--dry-run",
            "--scale",
            "smoke",
            "--experiment",
            "synthetic",
            "--jobs",
            "2",
        ],
    ] {
        let o = ufom(&args, home.path());
        let (stdout, stderr) = text(&o);
        assert!(o.status.success(), "{args:?}: {stderr}");
        assert!(
            stdout.contains("parallel: 2 cell(s) at once"),
            "{args:?}: {stdout}"
        );
    }
    // `--jobs 0` is refused, naming the flag.
    let o = ufom(&["bench", "--list", "--jobs", "0"], home.path());
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--jobs"), "{stderr}");
}
