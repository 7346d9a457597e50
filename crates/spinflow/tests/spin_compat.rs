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

/// `caller` may call `backend` through a templated allow-list entry (which
/// `--component-id` cannot check at start-up, in Spin as here).
fn chaining_manifest(dir: &Path) -> std::path::PathBuf {
    common::build_wasm(&["probe"]);
    let probe = wasm_path("wasm32-wasip2", "probe");
    write_manifest(
        dir,
        &format!(
            r#"
            spin_manifest_version = 2
            [application]
            name = "chaining"
            [variables]
            backend_url = {{ default = "http://backend.spin.internal" }}
            [[trigger.http]]
            route = "/..."
            component = "caller"
            [[trigger.http]]
            route = {{ private = true }}
            component = "backend"
            [component.caller]
            source = "{probe}"
            allowed_outbound_hosts = ["{{{{ backend_url }}}}"]
            [component.backend]
            source = "{probe}"
            "#,
            probe = probe.display()
        ),
    )
}

#[test]
fn chaining_to_a_component_not_served_fails_the_calling_request_as_in_spin() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = chaining_manifest(dir.path());
    let path = "/?op=fetch&url=http://backend.spin.internal/%3Fop%3Dcounter";

    let whole = host(&manifest).start();
    let reply = whole.get(path);
    assert_eq!((reply.status, reply.body.as_str()), (200, "200\n1"));
    // A chained component that traps answers its caller 500 (Spin 3.6.3 too).
    let trapped = whole.get("/?op=fetch&url=http://backend.spin.internal/%3Fop%3Dtrap");
    assert_eq!((trapped.status, trapped.body.as_str()), (200, "500\n"));
    drop(whole);

    // Spin 3.6.3 traps the caller ("unknown routing destination 'backend'"):
    // the guest never sees an error code it could answer with.
    let alone = host(&manifest).arg("--component-id").arg("caller").start();
    let reply = alone.get(path);
    assert_eq!((reply.status, reply.body.as_str()), (500, ""), "{reply:?}");
    let out = alone.wait_for_output("unknown routing destination 'backend'");
    assert!(
        out.contains("unknown routing destination 'backend'"),
        "{out}"
    );
    // A host outside the allow-list is still denied, not trapped.
    let denied = alone.get("/?op=fetch&url=http://other.spin.internal/");
    assert_eq!(denied.status, 502, "{denied:?}");
    assert!(denied.body.contains("HttpRequestDenied"), "{denied:?}");
}
