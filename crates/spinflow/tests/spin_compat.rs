//! What Spin 3.6 does and spinflow must do the same way: core wasm modules
//! converted at load, service chaining to a component that is not served,
//! `wasi:sockets` permissions, outbound Redis and MQTT.

mod common;

use common::{build_wasm_for, host, wasm_path};
use std::path::Path;

/// Writes `manifest` as `spin.toml` in `dir`.
fn write_manifest(dir: &Path, manifest: &str) -> std::path::PathBuf {
    let path = dir.join("spin.toml");
    std::fs::write(&path, manifest).unwrap();
    path
}

#[test]
fn a_core_module_is_converted_to_a_component_and_cached() {
    build_wasm_for("wasm32-wasip1", &["hello"]);
    let module = wasm_path("wasm32-wasip1", "hello");
    let bytes = std::fs::read(&module).unwrap();
    assert_eq!(
        &bytes[4..8],
        &[1, 0, 0, 0],
        "hello for wasip1 is a core module"
    );
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(
        dir.path(),
        &format!(
            r#"
            spin_manifest_version = 2
            [application]
            name = "core-module"
            [[trigger.http]]
            route = "/..."
            component = "hello"
            [component.hello]
            source = "{}"
            "#,
            module.display()
        ),
    );
    let cache = dir.path().join("cache");
    for _ in 0..2 {
        let app = host(&manifest).cache_dir(&cache).start();
        let reply = app.get("/anything");
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.body, "hello from spinflow\n");
        // One entry: the second start used it instead of converting again.
        let entries = std::fs::read_dir(&cache).unwrap().count();
        assert_eq!(entries, 1);
    }
}

#[test]
fn a_module_that_cannot_be_converted_stops_startup_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    // (module (func (export "_start"))): a WASI command, which Spin runs with
    // its own adapter and spinflow does not.
    let command = b"\0asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x07\x0a\x01\x06_start\x00\x00\x0a\x04\x01\x02\x00\x0b";
    std::fs::write(dir.path().join("cmd.wasm"), command).unwrap();
    let manifest = write_manifest(
        dir.path(),
        r#"
        spin_manifest_version = 2
        [application]
        name = "command"
        [[trigger.http]]
        route = "/..."
        component = "cmd"
        [component.cmd]
        source = "cmd.wasm"
        "#,
    );
    let out = host(&manifest)
        .cache_dir(&dir.path().join("cache"))
        .try_start()
        .err()
        .expect("a WASI command module is refused");
    assert!(
        out.contains("cannot be converted") && out.contains("WASI command module"),
        "{out}"
    );
}
