//! The README's result blocks are exactly what the committed `reports/` produce: no number in
//! them is copied by hand (`ufom report reports --readme README.md` regenerates them).

use std::path::Path;
use ufom_bench::harness::map::{render::readme_block, MapReport};
use ufom_bench::harness::record::ExperimentReport;
use ufom_bench::harness::report::calibration::calibration_block;
use ufom_bench::harness::report::readme::{begin_marker, blocks_in, render_block, update_with};
use ufom_bench::harness::store::read_json;

#[test]
fn readme_blocks_match_the_committed_reports() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let names = blocks_in(&readme);
    assert!(
        names.iter().any(|n| n == "hypercleaning") && names.iter().any(|n| n == "synthetic"),
        "the README lost its generated result blocks: {names:?}"
    );
    assert!(
        names.iter().any(|n| n == "map"),
        "the README lost the estimator map's block"
    );
    assert!(
        names.iter().any(|n| n == "verify"),
        "the README lost the calibration block"
    );
    check(&root, "README.md");
    let verify = std::fs::read_to_string(root.join("verify/README.md")).expect("verify/README.md");
    assert!(blocks_in(&verify).iter().any(|n| n == "verify"));
    check(&root, "verify/README.md");
}

/// The blocks of the README at `root/file` equal what the committed reports render.
fn check(root: &Path, file: &str) {
    let readme = std::fs::read_to_string(root.join(file)).expect(file);
    let names = blocks_in(&readme);
    let path = |n: &str| root.join("reports").join(format!("{n}.json"));
    let blocks: Vec<(String, String)> = names
        .iter()
        .map(|n| {
            let block = if n == "map" {
                let m: MapReport = read_json(&path(n)).unwrap_or_else(|e| panic!("{n}: {e:#}"));
                readme_block(&m)
            } else if n == "perf" {
                let text = std::fs::read_to_string(path(n)).expect("reports/perf.json");
                ufom_bench::harness::report::perf_block::perf_block(&text)
                    .unwrap_or_else(|e| panic!("{n}: {e:#}"))
            } else if n == "verify" {
                let text = std::fs::read_to_string(path(n)).expect("reports/verify.json");
                calibration_block(&text).unwrap_or_else(|e| panic!("{n}: {e:#}"))
            } else {
                let r: ExperimentReport =
                    read_json(&path(n)).unwrap_or_else(|e| panic!("{n}: {e:#}"));
                render_block(&r)
            };
            (n.clone(), block)
        })
        .collect();
    let update = |text: &str| {
        update_with(text, |name| {
            blocks
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, b)| b.clone())
        })
    };
    let fresh = update(&readme).expect("blocks render");
    if fresh != readme {
        let first = readme
            .lines()
            .zip(fresh.lines())
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("{file}: {a}\nreports: {b}"))
            .unwrap_or_else(|| "the blocks differ in length".into());
        panic!(
            "{file}'s result blocks differ from reports/; run `cargo run -p ufom-bench -- \
             report reports --readme {file}`. First difference:\n{first}"
        );
    }
    // Negative control: a hand edit inside a block is caught.
    let begin = begin_marker(&names[0]);
    let tampered = readme.replacen(&begin, &format!("{begin}\n| hand-edited | 99.9 |"), 1);
    assert_ne!(update(&tampered).expect("render"), tampered);
}
