//! Records, for the reports' environment, the version of candle (from Cargo.lock), the
//! commit this binary is built from (with `-dirty` when tracked files differ from it), and the
//! digest of the sources that compute a cell ([`SOURCES`]), so a report names the code that
//! produced it wherever the binary runs and `--resume` never reuses a cell of other code.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The sources whose bytes make the code digest: the engine, the data readers, the harness,
/// the vendored candle and the manifests and lock file that pick every dependency.
const SOURCES: [&str; 8] = [
    "hypergrad/src",
    "datasets/src",
    "benches/src",
    "vendor",
    "Cargo.toml",
    "Cargo.lock",
    "hypergrad/Cargo.toml",
    "datasets/Cargo.toml",
];

/// Every file under `p` (or `p` itself), sorted.
fn files_under(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_file() {
        out.push(p.to_path_buf());
    } else if let Ok(entries) = std::fs::read_dir(p) {
        let mut children: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        children.sort();
        for c in children {
            files_under(&c, out);
        }
    }
}

/// SHA-256 over each source file's path (relative to `root`), length and bytes, in path order.
fn source_digest(root: &Path) -> String {
    let mut files = Vec::new();
    for s in SOURCES {
        files_under(&root.join(s), &mut files);
    }
    let mut h = Sha256::new();
    for f in files {
        let rel = f
            .strip_prefix(root)
            .unwrap_or(&f)
            .to_string_lossy()
            .replace('\\', "/");
        let bytes = std::fs::read(&f).unwrap_or_default();
        h.update(rel.as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The build's commit: `git rev-parse HEAD`, `-dirty` appended when tracked source files
/// ([`SOURCES`]) differ from it.
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
    // Dirty only where the code is: a run that rewrites reports/ does not dirty the next build.
    let mut status = vec!["status", "--porcelain", "--untracked-files=no", "--"];
    status.extend(SOURCES);
    match git(&status) {
        Some(changes) if !changes.is_empty() => format!("{commit}-dirty"),
        _ => commit,
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // Rerun when the commit, the index or any workspace source changes (so `-dirty` is right).
    for p in [".git/HEAD", ".git/index", ".git/refs"]
        .iter()
        .chain(SOURCES.iter())
    {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
    println!("cargo:rustc-env=UFOM_BUILD_COMMIT={}", build_commit(&root));
    println!(
        "cargo:rustc-env=UFOM_SOURCE_DIGEST={}",
        source_digest(&root)
    );
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
