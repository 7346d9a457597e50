//! Points the host's `bindgen!` calls at the WIT files that the `spin-sdk` crate
//! ships, so that the Spin interfaces are generated from the very files our
//! components are built against, and no WIT file is copied anywhere.
//!
//! `spin-sdk` is a build-dependency only so that cargo fetches it and records it in
//! the dependency graph; `cargo metadata` then says where its sources are. The
//! one output is `$OUT_DIR/spin_sdk_wit.rs`: a `spin_bindgen!` macro that calls
//! wasmtime's `bindgen!` with that directory as its path (a macro's path must be
//! a literal, so it cannot come from an environment variable). Each capability
//! module invokes it with the world it implements. `SPINFLOW_SPIN_SDK_WIT`
//! overrides the directory (vendored or offline builds).

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

fn main() -> Result<()> {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SPINFLOW_SPIN_SDK_WIT");
    let wit = match std::env::var_os("SPINFLOW_SPIN_SDK_WIT") {
        Some(dir) => PathBuf::from(dir),
        None => spin_sdk_dir()?.join("wit"),
    };
    if !wit.join("world.wit").is_file() {
        bail!("no spin-sdk WIT package at {}", wit.display());
    }
    let wit = wit.canonicalize()?;
    let literal = serde_json::to_string(wit.to_str().context("non-UTF-8 path to spin-sdk")?)?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("spin_sdk_wit.rs");
    std::fs::write(
        out,
        format!(
            "/// wasmtime's `bindgen!` over the WIT files of spin-sdk (path found by build.rs).\n\
             macro_rules! spin_bindgen {{\n    \
                 ({{ $($options:tt)* }}) => {{\n        \
                     wasmtime::component::bindgen!({{ path: {literal}, $($options)* }});\n    \
                 }};\n\
             }}\n"
        ),
    )?;
    println!("cargo:rerun-if-changed={}", wit.display());
    Ok(())
}

/// The source directory of the `spin-sdk` this crate build-depends on, from
/// `cargo metadata` (locked: the build has resolved everything already).
fn spin_sdk_dir() -> Result<PathBuf> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("Cargo.toml");
    // Offline first: usually every package is downloaded. A fresh clone may lack
    // those of other workspace members, which `cargo metadata` reads too.
    let output = match cargo_metadata(&manifest, true)? {
        output if output.status.success() => output,
        _ => cargo_metadata(&manifest, false)?,
    };
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let this = std::env::var("CARGO_PKG_NAME")?;
    let packages = metadata["packages"].as_array().context("no packages")?;
    // A path package (no `source`) of this name: this crate.
    let this_id = packages
        .iter()
        .find(|p| p["name"] == this.as_str() && p["source"].is_null())
        .and_then(|p| p["id"].as_str())
        .context("this package is not in cargo metadata")?;
    let node = metadata["resolve"]["nodes"]
        .as_array()
        .context("no resolve graph")?
        .iter()
        .find(|n| n["id"] == this_id)
        .context("this package is not in the resolve graph")?;
    let sdk_id = node["deps"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| {
            d["name"] == "spin_sdk"
                && d["dep_kinds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|k| k["kind"] == "build")
        })
        .and_then(|d| d["pkg"].as_str())
        .context("spin-sdk is not a build-dependency")?;
    let sdk = packages
        .iter()
        .find(|p| p["id"] == sdk_id)
        .context("spin-sdk is not in cargo metadata")?;
    let sdk_manifest = PathBuf::from(sdk["manifest_path"].as_str().context("no manifest path")?);
    Ok(sdk_manifest
        .parent()
        .context("manifest path has no parent")?
        .to_path_buf())
}

fn cargo_metadata(manifest: &std::path::Path, offline: bool) -> Result<std::process::Output> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["metadata", "--format-version", "1", "--locked"])
        .arg("--manifest-path")
        .arg(manifest);
    if offline {
        command.arg("--offline");
    }
    command.output().context("cannot run cargo metadata")
}
