//! What the harness installs and builds before it measures: our host and components
//! (the app's and the bench's own), the peers' virtual environment, and the peers'
//! model.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use anyhow::Result;

use crate::paths::Paths;
use crate::shell::{output, run};
use crate::storage_names;

/// The bench's own components, built beside the app's: the host's trivial test
/// component (`hello`) and the storage round-trip app (`roundtrip`).
pub const BENCH_COMPONENTS: &[&str] = &["hello", storage_names::PACKAGE];

/// Builds the host, every component of spin.toml and iris-api for WASIp3
/// (`make build components-p3`), the bench's own components ([`BENCH_COMPONENTS`])
/// and the host's in-process cost example.
pub fn build_spinflow(paths: &Paths) -> Result<()> {
    run(Command::new("make")
        .args(["build", "components-p3"])
        .current_dir(&paths.repo))?;
    build_components(paths, BENCH_COMPONENTS)?;
    // The host's in-process cost example: built here so the measuring phase does not wait on it.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(&cargo)
        .args([
            "build",
            "--release",
            "-p",
            "spinflow-host",
            "--example",
            "instantiation_cost",
        ])
        .current_dir(&paths.repo))
}

/// `cargo build --target wasm32-wasip2 --profile wasm-release -p <each package>`.
fn build_components(paths: &Paths, packages: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--target",
        "wasm32-wasip2",
        "--profile",
        "wasm-release",
    ]);
    for p in packages {
        cmd.args(["-p", p]);
    }
    run(cmd.current_dir(&paths.repo))
}

/// The .wasm of one of the bench's components (a crate of the workspace), built
/// when it is missing.
pub fn ensure_component(paths: &Paths, package: &str) -> Result<PathBuf> {
    let wasm = paths.wasm(&format!("{}.wasm", package.replace('-', "_")));
    if !wasm.exists() {
        build_components(paths, &[package])?;
    }
    Ok(wasm)
}

/// Creates `bench/.venv` with the peers, unless it already holds exactly the pinned set.
pub fn ensure_venv(paths: &Paths) -> Result<()> {
    let reqs = paths.peers().join("requirements.txt");
    let nodeps = paths.peers().join("requirements-nodeps.txt");
    let wanted = format!(
        "{}\n{}",
        fs::read_to_string(&reqs)?,
        fs::read_to_string(&nodeps)?
    );
    let stamp = paths.venv.join(".bench-installed");
    if fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(());
    }
    eprintln!(
        "installing the peers into {} (a few minutes, once)",
        paths.venv.display()
    );
    run(Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&paths.venv))?;
    let pip = paths.venv_bin("pip");
    run(Command::new(&pip).args(["install", "--quiet", "--upgrade", "pip"]))?;
    run(Command::new(&pip)
        .args(["install", "--quiet", "-r"])
        .arg(&reqs))?;
    // FastTrackML's wheel pins mlflow<3 for its Python client; only its Go server is used.
    run(Command::new(&pip)
        .args(["install", "--quiet", "--no-deps", "-r"])
        .arg(&nodeps))?;
    fs::write(&stamp, wanted)?;
    Ok(())
}

/// Trains the peers' scikit-learn model once per run and returns its MLflow model dir.
pub fn train_peer_model(paths: &Paths) -> Result<PathBuf> {
    let dir = paths.work.join("peer-model");
    if !dir.join("MLmodel").exists() {
        run(Command::new(paths.venv_bin("python"))
            .arg(paths.peers().join("train.py"))
            .arg(&dir))?;
    }
    Ok(dir)
}

/// Version of an installed Python distribution in the bench venv.
pub fn pip_version(paths: &Paths, dist: &str) -> String {
    let py = paths.venv_bin("python");
    let code = format!("import importlib.metadata as m; print(m.version('{dist}'))");
    output(py.to_str().unwrap_or("python3"), &["-c", &code])
}
