//! The targets to check: every library and binary target of every workspace member.
//!
//! Asking `cargo metadata` rather than reading the root `Cargo.toml` keeps the list right as
//! members are added, including globs and targets at non-default paths. Tests, examples,
//! benches and build scripts are left out: each is a crate root of its own whose modules are
//! test scaffolding, not the code whose layering matters.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// One crate target: a package's library or one of its binaries.
#[derive(Debug, Clone)]
pub struct Target {
    pub package: String,
    /// `lib` or `bin <name>`.
    pub kind: String,
    /// The crate root file: `src/lib.rs`, `src/main.rs` or the manifest's `path`.
    pub root_file: PathBuf,
}

/// The workspace root and its library and binary targets, sorted by package.
pub fn targets(manifest: &Path) -> Result<(PathBuf, Vec<Target>), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(&cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(manifest)
        .output()
        .map_err(|error| format!("cannot run {cargo} metadata: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let metadata: Value = serde_json::from_slice(&output.stdout)
        .map_err(|error| format!("cargo metadata printed no JSON: {error}"))?;
    parse(&metadata).ok_or_else(|| "cargo metadata: unexpected JSON layout".to_owned())
}

fn parse(metadata: &Value) -> Option<(PathBuf, Vec<Target>)> {
    let root = PathBuf::from(metadata["workspace_root"].as_str()?);
    let mut targets = Vec::new();
    // With --no-deps, `packages` holds the workspace members only.
    for package in metadata["packages"].as_array()? {
        let name = package["name"].as_str()?;
        for target in package["targets"].as_array()? {
            let kinds: Vec<&str> = target["kind"]
                .as_array()?
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let kind = if kinds.contains(&"bin") {
                format!("bin {}", target["name"].as_str()?)
            } else if kinds.iter().any(|kind| LIBRARY_KINDS.contains(kind)) {
                "lib".to_owned()
            } else {
                continue;
            };
            targets.push(Target {
                package: name.to_owned(),
                kind,
                root_file: PathBuf::from(target["src_path"].as_str()?),
            });
        }
    }
    targets.sort_by(|a, b| (&a.package, &a.kind).cmp(&(&b.package, &b.kind)));
    Some((root, targets))
}

/// The `kind`s cargo gives a library target (one target may have several: `cdylib`, `rlib`).
const LIBRARY_KINDS: [&str; 6] = ["lib", "rlib", "cdylib", "dylib", "staticlib", "proc-macro"];
