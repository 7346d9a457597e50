//! `spinflow preinit` end to end: the real CLI snapshots the probe component after
//! its initialisation export ran, and `spinflow up` serves the snapshot.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

fn wasm(name: &str) -> PathBuf {
    common::repo_root()
        .join("target/wasm32-wasip2/wasm-release")
        .join(name)
}

fn preinit(input: &Path, output: &Path, init_export: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spinflow"));
    cmd.arg("preinit").arg(input).arg("--output").arg(output);
    if let Some(name) = init_export {
        cmd.args(["--init-export", name]);
    }
    cmd.output().expect("run spinflow preinit")
}

/// Builds `package`, pre-initialises it into a fresh directory, and returns the
/// directory, the snapshot's path and the command's output.
fn preinit_package(package: &str, init_export: Option<&str>) -> (TempDir, PathBuf, Output) {
    common::build_wasm(&[package]);
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join(format!("{package}.preinit.wasm"));
    let run = preinit(&wasm(&format!("{package}.wasm")), &snapshot, init_export);
    (dir, snapshot, run)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// An app of one component, the given .wasm, on every route.
fn one_component_app(dir: &Path, source: &Path) -> PathBuf {
    let manifest = dir.join("spin.toml");
    std::fs::write(
        &manifest,
        format!(
            "spin_manifest_version = 2\n[application]\nname = \"preinit\"\n\
             [[trigger.http]]\nroute = \"/...\"\ncomponent = \"probe\"\n\
             [component.probe]\nsource = \"{}\"\n",
            source.display()
        ),
    )
    .unwrap();
    manifest
}

#[test]
fn every_instance_of_a_preinitialised_component_starts_initialised() {
    let (dir, snapshot, run) = preinit_package("probe", None);
    assert!(run.status.success(), "{}", stderr(&run));
    // Reproducible: the init's hash map seeds come from a fixed seed.
    let again = dir.path().join("again.wasm");
    assert!(preinit(&wasm("probe.wasm"), &again, None).status.success());
    assert!(std::fs::read(&snapshot).unwrap() == std::fs::read(&again).unwrap());

    let host = common::host(one_component_app(dir.path(), &snapshot)).start();
    // Each request is a fresh instance; every one sees the build-time state.
    for _ in 0..3 {
        let reply = host.get("/?op=preinit");
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body, "initialised at build time; sum of squares 30");
    }
    // Requests still do not share state with each other.
    assert_eq!(host.get("/?op=counter").body, "1");
    assert_eq!(host.get("/?op=counter").body, "1");

    // The component as built, without the snapshot, initialises nothing.
    let plain_dir = tempfile::tempdir().unwrap();
    let plain = common::host(one_component_app(plain_dir.path(), &wasm("probe.wasm"))).start();
    let reply = plain.get("/?op=preinit");
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (404, "not pre-initialised")
    );
}

#[test]
fn an_init_export_that_calls_a_spin_interface_fails_the_build() {
    let (_dir, snapshot, run) = preinit_package("probe", Some("init-with-kv"));
    assert!(!run.status.success());
    let message = stderr(&run);
    assert!(message.contains("`init-with-kv` failed"), "{message}");
    assert!(
        message.contains("key-value")
            && message.contains("not available during pre-initialisation"),
        "{message}"
    );
    assert!(!snapshot.exists());
}

#[test]
fn a_component_without_the_init_export_is_refused_by_name() {
    let (_dir, snapshot, run) = preinit_package("hello", None);
    assert!(!run.status.success());
    let message = stderr(&run);
    assert!(
        message.contains("no export `wizer-initialize: func()`"),
        "{message}"
    );
    assert!(!snapshot.exists());
}
