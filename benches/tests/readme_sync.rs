//! The README's result blocks are exactly what the committed `reports/` produce: no number in
//! them is copied by hand (`ufom report reports --readme README.md` regenerates them).

use std::path::Path;
use ufom_bench::harness::record::ExperimentReport;
use ufom_bench::harness::report::readme::{begin_marker, blocks_in, update};
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
    let reports: Vec<ExperimentReport> = names
        .iter()
        .map(|n| {
            read_json(&root.join("reports").join(format!("{n}.json")))
                .unwrap_or_else(|e| panic!("reports/{n}.json: {e:#}"))
        })
        .collect();
    let fresh = update(&readme, &reports).expect("blocks render");
    if fresh != readme {
        let first = readme
            .lines()
            .zip(fresh.lines())
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("README: {a}\nreports: {b}"))
            .unwrap_or_else(|| "the blocks differ in length".into());
        panic!(
            "README.md's result blocks differ from reports/; run `cargo run -p ufom-bench -- \
             report reports --readme README.md`. First difference:\n{first}"
        );
    }
    // Negative control: a hand edit inside a block is caught.
    let begin = begin_marker(&names[0]);
    let tampered = readme.replacen(&begin, &format!("{begin}\n| hand-edited | 99.9 |"), 1);
    assert_ne!(update(&tampered, &reports).expect("render"), tampered);
}
