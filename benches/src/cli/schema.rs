//! `ufom schema`: write the report schemas, generated from the Rust types, into a folder
//! (`reports/schema/` by default; `just schema`), or check that the folder's copies are current.

use anyhow::{bail, Context as _, Result};
use clap::Args;
use std::path::PathBuf;
use ufom_bench::harness::report::schema::schemas;
use ufom_bench::harness::store::write_atomic;

/// Arguments of `ufom schema`.
#[derive(Args)]
pub struct SchemaArgs {
    /// The folder of the schema files.
    #[arg(long, default_value = "reports/schema")]
    out: PathBuf,
    /// Write nothing; fail (exit 1) if a file in the folder differs from the generated schema.
    #[arg(long)]
    check: bool,
}

/// Runs the subcommand.
pub fn run(a: &SchemaArgs) -> Result<()> {
    let mut stale = Vec::new();
    for (name, text) in schemas() {
        let path = a.out.join(name);
        if a.check {
            let current = std::fs::read_to_string(&path).unwrap_or_default();
            if current != text {
                stale.push(path.display().to_string());
            }
        } else {
            write_atomic(&path, text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            println!("wrote {}", path.display());
        }
    }
    if !stale.is_empty() {
        bail!(
            "not the schema this build generates: {}; run `ufom schema` (`just schema`)",
            stale.join(", ")
        );
    }
    Ok(())
}
