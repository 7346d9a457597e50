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

/// A TCP server on loopback answering `pong` to each connection (after the
/// client's end of stream), and a UDP one answering `pong` to each datagram.
fn pong_servers() -> (u16, u16) {
    use std::io::{Read, Write};
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp_port = tcp.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in tcp.incoming().take(64) {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let _ = stream.read_to_end(&mut request);
            let _ = stream.write_all(b"pong");
        }
    });
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_port = udp.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        for _ in 0..64 {
            let Ok((_, from)) = udp.recv_from(&mut buf) else {
                break;
            };
            let _ = udp.send_to(b"pong", from);
        }
    });
    (tcp_port, udp_port)
}

fn sockets_manifest(dir: &Path, tcp: u16, udp: u16) -> std::path::PathBuf {
    common::build_wasm(&["probe"]);
    let probe = wasm_path("wasm32-wasip2", "probe");
    let components = [
        (
            "exact",
            r#"["tcp://127.0.0.1:{{ tcp_port }}"]"#.to_string(),
        ),
        ("any-scheme", format!(r#"["*://127.0.0.1:{tcp}"]"#)),
        (
            "range",
            format!(r#"["tcp://127.0.0.1:{}..{}"]"#, tcp - 1, tcp + 1),
        ),
        (
            "range-below",
            format!(r#"["tcp://127.0.0.1:{}..{tcp}"]"#, tcp - 1),
        ),
        ("cidr", r#"["tcp://127.0.0.0/24:*"]"#.to_string()),
        ("cidr-other", r#"["tcp://10.0.0.0/8:*"]"#.to_string()),
        ("http-only", format!(r#"["http://127.0.0.1:{tcp}"]"#)),
        ("none", "[]".to_string()),
        ("all", r#"["*://*:*"]"#.to_string()),
        (
            "udp",
            format!(r#"["udp://0.0.0.0:0", "udp://127.0.0.1:{udp}"]"#),
        ),
    ];
    let mut manifest = format!(
        r#"
        spin_manifest_version = 2
        [application]
        name = "sockets"
        [variables]
        tcp_port = {{ default = "{tcp}" }}
        "#
    );
    for (id, hosts) in components {
        manifest.push_str(&format!(
            r#"
            [[trigger.http]]
            route = "/{id}/..."
            component = "{id}"
            [component.{id}]
            source = "{probe}"
            allowed_outbound_hosts = {hosts}
            "#,
            probe = probe.display()
        ));
    }
    write_manifest(dir, &manifest)
}

#[test]
fn wasi_sockets_are_permitted_by_allowed_outbound_hosts_as_in_spin() {
    let (tcp, udp) = pong_servers();
    let dir = tempfile::tempdir().unwrap();
    let app = host(sockets_manifest(dir.path(), tcp, udp)).start();
    let connect = |id: &str| app.get(&format!("/{id}/?op=tcp&addr=127.0.0.1:{tcp}"));
    for id in ["exact", "any-scheme", "range", "cidr", "all"] {
        let reply = connect(id);
        assert_eq!((reply.status, reply.body.as_str()), (200, "pong"), "{id}");
    }
    for id in ["range-below", "cidr-other", "http-only", "none"] {
        let reply = connect(id);
        assert_eq!(reply.status, 403, "{id}: {reply:?}");
        assert!(
            reply.body.starts_with("PermissionDenied"),
            "{id}: {reply:?}"
        );
    }
    let out = app.wait_for_output("outbound connection to tcp://");
    assert!(
        out.contains(&format!(
            "[none] outbound connection to tcp://127.0.0.1:{tcp} denied"
        )),
        "{out}"
    );

    let udp_reply = app.get(&format!("/udp/?op=udp&addr=127.0.0.1:{udp}"));
    assert_eq!((udp_reply.status, udp_reply.body.as_str()), (200, "pong"));
    // The bind address is checked too, literally (`udp://0.0.0.0:0` only).
    let bind = app.get(&format!(
        "/udp/?op=udp&addr=127.0.0.1:{udp}&bind=127.0.0.1:0"
    ));
    assert_eq!(bind.status, 403, "{bind:?}");
    let other = app.get(&format!("/udp/?op=udp&addr=127.0.0.1:{}", udp + 1));
    assert_eq!(other.status, 403, "{other:?}");
    // TCP entries do not allow UDP.
    let tcp_only = app.get(&format!("/exact/?op=udp&addr=127.0.0.1:{udp}"));
    assert_eq!(tcp_only.status, 403, "{tcp_only:?}");

    // Name lookup is off even with every host allowed, as under Spin.
    let lookup = app.get("/all/?op=lookup&name=localhost");
    assert_eq!(lookup.status, 403, "{lookup:?}");
}
