//! Records, for the reports' environment, the version of candle (from Cargo.lock) and the
//! commit this binary is built from (with `-dirty` when tracked files differ from it), so a
//! report names the code that produced it wherever the binary runs.

use std::path::Path;
use std::process::Command;

/// The build's commit: `git rev-parse HEAD`, `-dirty` appended when tracked files differ.
fn build_commit(root: &Path) -> String {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let Some(commit) = git(&["rev-parse", "HEAD"]).filter(|c| !c.is_empty()) else {
        return String::new();
    };
    match git(&["status", "--porcelain", "--untracked-files=no"]) {
        Some(changes) if !changes.is_empty() => format!("{commit}-dirty"),
        _ => commit,
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // Rerun when the commit, the index or any workspace source changes (so `-dirty` is right).
    for p in [
        ".git/HEAD",
        ".git/index",
        ".git/refs",
        "hypergrad/src",
        "datasets/src",
        "benches/src",
        "vendor",
        "Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
    println!("cargo:rustc-env=UFOM_BUILD_COMMIT={}", build_commit(&root));
    let lock = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    let version = text
        .split("[[package]]")
        .find(|block| block.contains("name = \"candle-core\"\n"))
        .and_then(|block| block.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=UFOM_CANDLE_VERSION={version}");
}
