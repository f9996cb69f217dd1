//! `reports/schema/` is what the report types generate (`ufom schema`, `just schema`): a type
//! that gains, loses or changes a field without the schema being regenerated fails here.

use std::path::Path;
use std::process::Command;
use ufom_bench::harness::report::schema::schemas;

fn schema_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/schema")
}

#[test]
fn the_checked_in_schemas_are_the_generated_ones() {
    for (name, generated) in schemas() {
        let path = schema_dir().join(name);
        let checked_in = std::fs::read_to_string(&path).expect("schema file");
        assert!(
            checked_in == generated,
            "{} is stale: run `just schema` (ufom schema --out reports/schema)",
            path.display()
        );
    }
}

/// `ufom schema --check` passes on the checked-in folder and fails, naming the file, on a
/// stale copy (negative control); `ufom schema --out` writes exactly the generated files.
#[test]
fn schema_check_flags_a_stale_file() {
    let ufom = env!("CARGO_BIN_EXE_ufom");
    let ok = Command::new(ufom)
        .args(["schema", "--check", "--out"])
        .arg(schema_dir())
        .output()
        .expect("run ufom");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let tmp = tempfile::tempdir().expect("tempdir");
    let wrote = Command::new(ufom)
        .args(["schema", "--out"])
        .arg(tmp.path())
        .output()
        .expect("run ufom");
    assert!(wrote.status.success());
    for (name, generated) in schemas() {
        let text = std::fs::read_to_string(tmp.path().join(name)).expect("written");
        assert_eq!(text, generated, "{name}");
    }
    let stale = tmp.path().join("experiment.schema.json");
    let text = std::fs::read_to_string(&stale).expect("read");
    std::fs::write(&stale, text.replace("\"fom\"", "\"fo\"")).expect("write");
    let bad = Command::new(ufom)
        .args(["schema", "--check", "--out"])
        .arg(tmp.path())
        .output()
        .expect("run ufom");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("experiment.schema.json"), "{stderr}");
}
