//! What Spin 3.6 does and spinflow must do the same way: core wasm modules
//! converted at load, service chaining to a component that is not served,
//! `wasi:sockets` permissions, outbound Redis and MQTT (over TCP and TLS).

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
        ("exact", r#"["tcp://127.0.0.1:{{ tcp_port }}"]"#.to_string()),
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
    let out = app.wait_for_output("[none] outbound connection to tcp://");
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

/// A local server the test started; killed with the test.
struct Server(std::process::Child, #[allow(dead_code)] tempfile::TempDir);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `name` on the PATH or in the sbin directories Debian installs servers to.
fn find_binary(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(Into::into))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Starts `binary` (found by `find_binary`) with `args`, in a temporary
/// directory, and waits for it to accept connections on `port`; `None` (with
/// a message) when the binary is not installed.
fn start_server(
    binary: &str,
    port: u16,
    args: impl FnOnce(&Path) -> Vec<String>,
) -> Option<Server> {
    let Some(path) = find_binary(binary) else {
        eprintln!(
            "SKIPPED: `{binary}` is not installed (scripts/install-test-deps.sh installs it)"
        );
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let child = std::process::Command::new(path)
        .args(args(dir.path()))
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {binary}: {e}"));
    let server = Server(child, dir);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "{binary} did not listen on {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Some(server)
}

fn redis_server() -> Option<(Server, u16)> {
    let port = free_port();
    let server = start_server("redis-server", port, |dir| {
        redis_args(dir, &["--port", &port.to_string()])
    })?;
    Some((server, port))
}

/// redis-server's arguments: `listen`, on 127.0.0.1 only, nothing saved.
fn redis_args(dir: &Path, listen: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = listen.iter().map(|s| s.to_string()).collect();
    args.extend(
        [
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            &dir.display().to_string(),
        ]
        .map(String::from),
    );
    args
}

fn mosquitto() -> Option<(Server, u16)> {
    mosquitto_with("")
}

/// mosquitto with one listener on 127.0.0.1, configured further by `listener`.
fn mosquitto_with(listener: &str) -> Option<(Server, u16)> {
    let port = free_port();
    let server = start_server("mosquitto", port, |dir| {
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\n{listener}allow_anonymous true\npersistence false\n"
            ),
        )
        .unwrap();
        vec!["-c".into(), conf.display().to_string()]
    })?;
    Some((server, port))
}

/// Components `allowed` and `denied` (the probe), with these allow-lists.
fn two_component_manifest(dir: &Path, allowed: &str, denied: &str) -> std::path::PathBuf {
    common::build_wasm(&["probe"]);
    let probe = wasm_path("wasm32-wasip2", "probe");
    let mut manifest =
        String::from("spin_manifest_version = 2\n[application]\nname = \"outbound\"\n");
    for (id, hosts) in [("allowed", allowed), ("denied", denied)] {
        manifest.push_str(&format!(
            "[[trigger.http]]\nroute = \"/{id}/...\"\ncomponent = \"{id}\"\n\
             [component.{id}]\nsource = \"{}\"\nallowed_outbound_hosts = {hosts}\n",
            probe.display()
        ));
    }
    write_manifest(dir, &manifest)
}

#[test]
fn outbound_redis_reaches_allowed_servers_only() {
    let Some((_redis, port)) = redis_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let manifest = two_component_manifest(
        dir.path(),
        &format!(r#"["redis://127.0.0.1:{port}"]"#),
        &format!(r#"["redis://127.0.0.1:{}"]"#, port + 1),
    );
    let app = host(&manifest).start();
    let addr = format!("redis://127.0.0.1:{port}");
    let reply = app.post(&format!("/allowed/?op=redis&addr={addr}&key=k"), b"hello");
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "get hello\nincr 1\nsmembers a,b\nappend int 6\ndel 2"),
        "{reply:?}"
    );
    // As in Spin: a denied address is `invalid-address`, and logged.
    let denied = app.post(&format!("/denied/?op=redis&addr={addr}&key=k"), b"x");
    assert_eq!(
        (denied.status, denied.body.as_str()),
        (403, "Error::InvalidAddress")
    );
    let out = app.wait_for_output("[denied] outbound connection to redis://");
    assert!(
        out.contains(&format!("redis://127.0.0.1:{port} denied")),
        "{out}"
    );
    // Allowed, but nothing listens there.
    let closed = app.post(
        &format!(
            "/denied/?op=redis&addr=redis://127.0.0.1:{}&key=k",
            port + 1
        ),
        b"x",
    );
    assert_eq!(closed.status, 403, "{closed:?}");
    assert!(closed.body.starts_with("Error::Other("), "{closed:?}");
}

#[test]
fn outbound_mqtt_publishes_to_allowed_brokers_only() {
    let Some((_broker, port)) = mosquitto() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let manifest = two_component_manifest(
        dir.path(),
        &format!(r#"["mqtt://127.0.0.1:{port}"]"#),
        &format!(r#"["mqtt://127.0.0.1:{}"]"#, port + 1),
    );
    let app = host(&manifest).start();
    let addr = format!("mqtt://127.0.0.1:{port}%3Fclient_id%3Dprobe");
    for qos in ["0", "1", "2"] {
        let reply = app.post(
            &format!("/allowed/?op=mqtt&addr={addr}&topic=t&qos={qos}"),
            b"hi",
        );
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (200, "published"),
            "qos {qos}"
        );
    }
    let denied = app.post(&format!("/denied/?op=mqtt&addr={addr}&topic=t&qos=1"), b"x");
    assert_eq!(denied.status, 403, "{denied:?}");
    assert_eq!(
        denied.body,
        format!(
            "Error::ConnectionFailed(\"address mqtt://127.0.0.1:{port}?client_id=probe is not permitted\")"
        )
    );
    // Allowed, but no broker there: `open` succeeds, `publish` fails to connect.
    let closed = app.post(
        &format!(
            "/denied/?op=mqtt&addr=mqtt://127.0.0.1:{}%3Fclient_id%3Dp&topic=t&qos=1",
            port + 1
        ),
        b"x",
    );
    assert_eq!(closed.status, 500, "{closed:?}");
    assert!(
        closed.body.starts_with("Error::ConnectionFailed("),
        "{closed:?}"
    );
}

/// A test CA, a certificate it signs for 127.0.0.1 and localhost, and a
/// second CA that signs nothing, made with the openssl command (`None`, with
/// a message, when it is not installed). The files are readable by all:
/// mosquitto started as root reads them as its own user.
struct Certificates(tempfile::TempDir);

impl Certificates {
    fn new() -> Option<Self> {
        if find_binary("openssl").is_none() {
            eprintln!(
                "SKIPPED: `openssl` is not installed (scripts/install-test-deps.sh installs it)"
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let openssl = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .current_dir(dir.path())
                .args(args)
                .output()
                .unwrap();
            assert!(out.status.success(), "openssl {args:?}: {out:?}");
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        for (name, subject) in [("ca", "/CN=spinflow test CA"), ("other-ca", "/CN=other CA")] {
            let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
            openssl(
                &[
                    &["req", "-x509", "-nodes", "-days", "2"][..],
                    &ec,
                    &["-keyout", &key, "-out", &crt, "-subj", subject],
                ]
                .concat(),
            );
        }
        openssl(
            &[
                &["req", "-nodes"][..],
                &ec,
                &[
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.csr",
                    "-subj",
                    "/CN=localhost",
                ],
            ]
            .concat(),
        );
        std::fs::write(
            dir.path().join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ]);
        std::fs::create_dir(dir.path().join("no-roots")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let readable = |path: &Path, mode| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        readable(dir.path(), 0o755);
        readable(&dir.path().join("server.key"), 0o644);
        Some(Self(dir))
    }

    fn path(&self, name: &str) -> String {
        self.0.path().join(name).display().to_string()
    }

    /// The host's trust store: only the CA file `ca` (`ca.crt` or `other-ca.crt`).
    fn trusting(&self, app: common::HostBuilder, ca: &str) -> common::HostBuilder {
        app.env("SSL_CERT_FILE", self.path(ca))
            .env("SSL_CERT_DIR", self.path("no-roots"))
    }
}

fn redis_tls_server(certs: &Certificates) -> Option<(Server, u16)> {
    let port = free_port();
    let server = start_server("redis-server", port, |dir| {
        let (cert, key, ca) = (
            certs.path("server.crt"),
            certs.path("server.key"),
            certs.path("ca.crt"),
        );
        let tls_port = port.to_string();
        redis_args(
            dir,
            &[
                "--port",
                "0",
                "--tls-port",
                &tls_port,
                "--tls-cert-file",
                &cert,
                "--tls-key-file",
                &key,
                "--tls-ca-cert-file",
                &ca,
                "--tls-auth-clients",
                "no",
            ],
        )
    })?;
    Some((server, port))
}

#[test]
fn outbound_redis_speaks_tls_to_rediss_servers_and_verifies_them() {
    let Some(certs) = Certificates::new() else {
        return;
    };
    let Some((_redis, port)) = redis_tls_server(&certs) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // `redis://` entries do not allow `rediss://` addresses (Spin matches schemes literally).
    let manifest = two_component_manifest(
        dir.path(),
        &format!(r#"["rediss://127.0.0.1:{port}"]"#),
        &format!(r#"["redis://127.0.0.1:{port}"]"#),
    );
    let round_trip = "get hello\nincr 1\nsmembers a,b\nappend int 6\ndel 2";
    let addr = format!("rediss://127.0.0.1:{port}");
    let trusted = certs.trusting(host(&manifest), "ca.crt").start();
    let reply = trusted.post(&format!("/allowed/?op=redis&addr={addr}&key=k"), b"hello");
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, round_trip),
        "{reply:?}"
    );
    let denied = trusted.post(&format!("/denied/?op=redis&addr={addr}&key=k"), b"x");
    assert_eq!(
        (denied.status, denied.body.as_str()),
        (403, "Error::InvalidAddress")
    );
    let out = trusted.wait_for_output("[denied] outbound connection to rediss://");
    assert!(
        out.contains(&format!("rediss://127.0.0.1:{port} denied")),
        "{out}"
    );
    // Nor does a `rediss://` entry allow `redis://`.
    let plain = trusted.post(
        &format!("/allowed/?op=redis&addr=redis://127.0.0.1:{port}&key=k"),
        b"x",
    );
    assert_eq!(
        (plain.status, plain.body.as_str()),
        (403, "Error::InvalidAddress")
    );
    drop(trusted);

    // A certificate the trust store does not vouch for: `open` fails with
    // `other`, unless the address says `#insecure` (the redis crate's rule).
    let untrusted = certs.trusting(host(&manifest), "other-ca.crt").start();
    let refused = untrusted.post(&format!("/allowed/?op=redis&addr={addr}&key=k"), b"x");
    assert_eq!(refused.status, 403, "{refused:?}");
    assert!(
        refused.body.starts_with("Error::Other(") && refused.body.contains("certificate"),
        "{refused:?}"
    );
    let insecure = untrusted.post(
        &format!("/allowed/?op=redis&addr={addr}/%23insecure&key=i"),
        b"hello",
    );
    assert_eq!(
        (insecure.status, insecure.body.as_str()),
        (200, round_trip),
        "{insecure:?}"
    );
}

#[test]
fn outbound_mqtt_speaks_tls_to_mqtts_brokers_and_verifies_them() {
    let Some(certs) = Certificates::new() else {
        return;
    };
    let listener = format!(
        "certfile {}\nkeyfile {}\ncafile {}\n",
        certs.path("server.crt"),
        certs.path("server.key"),
        certs.path("ca.crt")
    );
    let Some((_broker, port)) = mosquitto_with(&listener) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // `mqtts://` and `ssl://` are schemes of their own in the allow-list.
    let manifest = two_component_manifest(
        dir.path(),
        &format!(r#"["mqtts://127.0.0.1:{port}", "ssl://127.0.0.1:{port}"]"#),
        &format!(r#"["mqtt://127.0.0.1:{port}"]"#),
    );
    let publish = |app: &common::Host, id: &str, scheme: &str, qos: &str| {
        app.post(
            &format!("/{id}/?op=mqtt&addr={scheme}://127.0.0.1:{port}%3Fclient_id%3Dprobe&topic=t&qos={qos}"),
            b"hi",
        )
    };
    let trusted = certs.trusting(host(&manifest), "ca.crt").start();
    for (scheme, qos) in [("mqtts", "0"), ("mqtts", "1"), ("mqtts", "2"), ("ssl", "1")] {
        let reply = publish(&trusted, "allowed", scheme, qos);
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (200, "published"),
            "{scheme} qos {qos}"
        );
    }
    let denied = publish(&trusted, "denied", "mqtts", "1");
    assert_eq!(
        (denied.status, denied.body.as_str()),
        (
            403,
            format!("Error::ConnectionFailed(\"address mqtts://127.0.0.1:{port}?client_id=probe is not permitted\")").as_str()
        )
    );
    drop(trusted);

    // A certificate the trust store does not vouch for: `open` succeeds,
    // `publish` fails to connect.
    let untrusted = certs.trusting(host(&manifest), "other-ca.crt").start();
    let refused = publish(&untrusted, "allowed", "mqtts", "1");
    assert_eq!(refused.status, 500, "{refused:?}");
    assert!(
        refused.body.starts_with("Error::ConnectionFailed(")
            && refused.body.contains("certificate"),
        "{refused:?}"
    );
}
