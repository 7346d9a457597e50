//! End-to-end tests of `spinflow up`: the real binary, real .wasm test
//! components (tests/apps/probe), real HTTP on loopback.

mod common;

use common::{probe_host, Host};
use std::io::{Read, Write};
use std::net::TcpListener;

fn echo(host: &Host, path: &str) -> serde_json::Value {
    let reply = host.get(path);
    assert_eq!(reply.status, 200, "{path}: {reply:?}");
    reply.json()
}

#[test]
fn routes_follow_spin_precedence_and_get_spin_headers() {
    let host = probe_host().start();

    let exact = echo(&host, "/api/special");
    assert_eq!(exact["headers"]["spin-matched-route"], "/api/special");
    assert_eq!(exact["headers"]["spin-path-info"], "");

    let wildcard = echo(&host, "/api/runs/get?run_id=7&x=y");
    let h = &wildcard["headers"];
    assert_eq!(h["spin-matched-route"], "/api/...");
    assert_eq!(h["spin-raw-component-route"], "/api/...");
    assert_eq!(h["spin-component-route"], "/api");
    assert_eq!(h["spin-path-info"], "/runs/get");
    assert_eq!(h["spin-base-path"], "/");
    let full_url = h["spin-full-url"].as_str().unwrap();
    assert!(full_url.starts_with("http://127.0.0.1:"), "{full_url}");
    assert!(
        full_url.ends_with("/api/runs/get?run_id=7&x=y"),
        "{full_url}"
    );
    assert!(h["spin-client-addr"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    // The guest gets the full path and query, not stripped of the route prefix.
    assert_eq!(wildcard["path"], "/api/runs/get");
    assert_eq!(wildcard["query"], "run_id=7&x=y");

    let param = echo(&host, "/users/42");
    assert_eq!(param["headers"]["spin-matched-route"], "/users/:id");
    assert_eq!(param["headers"]["spin-path-match-id"], "42");
    let param_wild = echo(&host, "/users/42/posts/9");
    assert_eq!(
        param_wild["headers"]["spin-matched-route"],
        "/users/:id/..."
    );
    assert_eq!(param_wild["headers"]["spin-path-info"], "/posts/9");

    let fallback = echo(&host, "/somewhere/else");
    assert_eq!(fallback["headers"]["spin-matched-route"], "/...");
    assert_eq!(fallback["headers"]["spin-path-info"], "/somewhere/else");
    // `/api/...` also takes `/api` itself.
    assert_eq!(
        echo(&host, "/api")["headers"]["spin-matched-route"],
        "/api/..."
    );

    let health = host.get("/.well-known/spin/health");
    assert_eq!((health.status, health.body.as_str()), (200, "OK"));
    let info = host.get("/.well-known/spin/info");
    assert_eq!(info.status, 200);
    assert_eq!(info.json()["name"], "probe-app");
    assert_eq!(host.get("/.well-known/spin/other").status, 404);
}

#[test]
fn unmatched_route_is_an_empty_404() {
    // With only `limited` served, nothing claims `/`.
    let host = probe_host().arg("--component-id").arg("limited").start();
    let reply = host.get("/not/routed");
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body, "");
}

#[test]
fn every_request_gets_a_fresh_instance() {
    let host = probe_host().start();
    for _ in 0..3 {
        let reply = host.get("/?op=counter");
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (200, "1"),
            "a global survived a request"
        );
    }
}

#[test]
fn variables_come_from_defaults_and_environment() {
    let host = probe_host().start();
    assert_eq!(host.get("/?op=var&name=greeting").body, "hello, world");
    assert_eq!(host.get("/?op=var&name=token").body, "t0ken");
    let undefined = host.get("/?op=var&name=nope");
    assert_eq!(undefined.status, 404);
    assert!(undefined.body.contains("Undefined"), "{}", undefined.body);

    let host = probe_host()
        .env("SPIN_VARIABLE_GREETING", "bonjour")
        .start();
    assert_eq!(host.get("/?op=var&name=greeting").body, "bonjour, world");
}

#[test]
fn missing_required_variable_stops_startup_naming_it() {
    common::build_wasm(&["probe"]);
    let output = common::host(common::probe_manifest())
        .try_start()
        .err()
        .expect("start-up must fail without the required variable");
    assert!(output.contains("token"), "{output}");
    assert!(output.contains("SPIN_VARIABLE_TOKEN"), "{output}");
}

#[test]
fn environment_from_manifest_and_flag() {
    let host = probe_host().arg("-e").arg("EXTRA=from-flag").start();
    assert_eq!(host.get("/?op=env&name=PROBE_ENV").body, "from-manifest");
    assert_eq!(host.get("/?op=env&name=EXTRA").body, "from-flag");
    assert_eq!(
        host.get("/?op=env&name=HOME").status,
        404,
        "host environment leaked"
    );
}

#[test]
fn key_value_and_sqlite_survive_requests_and_restarts() {
    let state = tempfile::tempdir().unwrap();
    {
        let host = probe_host().state_dir(state.path()).start();
        assert_eq!(
            host.get("/?op=kv-set&store=default&key=colour&value=blue")
                .status,
            200
        );
        assert_eq!(
            host.get("/?op=kv-get&store=default&key=colour").body,
            "blue"
        );
        assert_eq!(host.get("/?op=kv-get&store=default&key=absent").status, 404);
        assert_eq!(
            host.get("/?op=incr&store=default&key=hits&delta=5").body,
            "5"
        );
        assert_eq!(
            host.get("/?op=incr&store=default&key=hits&delta=2").body,
            "7"
        );

        let create = host.post(
            "/?op=sql&db=default",
            b"CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT)",
        );
        assert_eq!(create.status, 200, "{create:?}");
        let insert = host.post(
            "/?op=sql&db=default",
            b"INSERT INTO runs (name) VALUES ('first'), ('second')",
        );
        assert_eq!(insert.status, 200, "{insert:?}");
        assert!(host.terminate(), "host did not shut down cleanly");
    }
    assert!(state.path().join("sqlite_db.db").is_file());
    assert!(state.path().join("sqlite_key_value.db").is_file());

    let host = probe_host().state_dir(state.path()).start();
    assert_eq!(
        host.get("/?op=kv-get&store=default&key=colour").body,
        "blue"
    );
    assert_eq!(
        host.get("/?op=incr&store=default&key=hits&delta=1").body,
        "8"
    );
    let rows = host
        .post(
            "/?op=sql&db=default",
            b"SELECT id, name FROM runs ORDER BY id",
        )
        .json();
    assert_eq!(rows["columns"], serde_json::json!(["id", "name"]));
    assert_eq!(
        rows["rows"],
        serde_json::json!([[1, "first"], [2, "second"]])
    );
}

/// A store without a `path` lives in memory: the guest gets the same answers,
/// increments from concurrent requests stay exact, and nothing outlives the host.
#[test]
fn an_in_memory_key_value_store_is_exact_and_ends_with_the_host() {
    let state = tempfile::tempdir().unwrap();
    let config = state.path().join("runtime-config.toml");
    std::fs::write(&config, "[key_value_store.default]\ntype = \"spin\"\n").unwrap();
    let start = || {
        probe_host()
            .state_dir(state.path())
            .arg("--runtime-config-file")
            .arg(config.to_str().unwrap())
            .start()
    };
    let host = start();
    assert_eq!(
        host.get("/?op=kv-set&store=default&key=colour&value=blue")
            .status,
        200
    );
    assert_eq!(
        host.get("/?op=kv-get&store=default&key=colour").body,
        "blue"
    );
    assert_eq!(host.get("/?op=kv-get&store=default&key=absent").status, 404);
    let (threads, rounds) = (8, 10);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..rounds {
                    let reply = host.get("/?op=incr&store=default&key=hits&delta=1");
                    assert_eq!(reply.status, 200, "{reply:?}");
                }
            });
        }
    });
    assert_eq!(
        host.get("/?op=incr&store=default&key=hits&delta=0").body,
        (threads * rounds).to_string()
    );
    assert!(host.terminate(), "host did not shut down cleanly");
    assert!(!state.path().join("sqlite_key_value.db").exists());

    let host = start();
    assert_eq!(host.get("/?op=kv-get&store=default&key=colour").status, 404);
}

#[test]
fn undeclared_stores_and_databases_are_denied() {
    let host = probe_host().start();
    let kv = host.get("/isolated/?op=kv-get&store=default&key=k");
    assert_eq!(kv.status, 403);
    assert!(kv.body.contains("AccessDenied"), "{}", kv.body);
    let db = host.post("/isolated/?op=sql&db=default", b"SELECT 1");
    assert_eq!(db.status, 403);
    assert!(db.body.contains("AccessDenied"), "{}", db.body);
    let unknown = host.get("/?op=kv-get&store=elsewhere&key=k");
    assert_eq!(unknown.status, 403);
    assert!(unknown.body.contains("AccessDenied"), "{}", unknown.body);
}

/// A one-shot HTTP server on loopback answering `body` to the first request.
fn tiny_server(body: &'static str) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, handle)
}

#[test]
fn outbound_http_is_limited_to_allowed_hosts() {
    let (allowed_port, server) = tiny_server("from upstream");
    let host = probe_host()
        .env("SPIN_VARIABLE_ALLOWED_PORT", allowed_port.to_string())
        .start();

    let ok = host.get(&format!("/?op=fetch&url=http://127.0.0.1:{allowed_port}/x"));
    assert_eq!(ok.status, 200, "{ok:?}\n{}", host.output());
    assert_eq!(ok.body, "200\nfrom upstream");
    server.join().unwrap();

    // A listening port that is not in allowed_outbound_hosts.
    let (other_port, _other) = tiny_server("must not be reached");
    let denied = host.get(&format!("/?op=fetch&url=http://127.0.0.1:{other_port}/x"));
    assert_eq!(denied.status, 502);
    assert!(denied.body.contains("HttpRequestDenied"), "{}", denied.body);
    // A component with no allowed hosts may not call anything, chaining included.
    let isolated = host.get("/isolated/?op=fetch&url=http://backend.spin.internal/");
    assert_eq!(isolated.status, 502);
    assert!(
        isolated.body.contains("HttpRequestDenied"),
        "{}",
        isolated.body
    );
}

#[test]
fn service_chaining_reaches_private_components_in_process() {
    let host = probe_host().start();
    let reply = host.get("/?op=fetch&url=http://backend.spin.internal/deep/path%3Fop%3Decho");
    assert_eq!(reply.status, 200, "{reply:?}\n{}", host.output());
    let (status, json) = reply.body.split_once('\n').unwrap();
    assert_eq!(status, "200");
    let inner: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(inner["path"], "/deep/path");
    assert_eq!(inner["headers"]["spin-matched-route"], "/...");
    assert_eq!(inner["headers"]["spin-path-info"], "/deep/path");
    assert_eq!(inner["headers"]["spin-client-addr"], "0.0.0.0:0");

    // The chained component has its own stores and state.
    let chained_counter = host.get("/?op=fetch&url=http://backend.spin.internal/%3Fop%3Dcounter");
    assert_eq!(chained_counter.body, "200\n1");
}

#[test]
fn component_id_serves_only_the_named_components() {
    let host = probe_host().arg("--component-id").arg("limited").start();
    assert_eq!(
        echo(&host, "/limited/x")["headers"]["spin-matched-route"],
        "/limited/..."
    );
    assert_eq!(host.get("/api/x").status, 404);
    assert!(!host.output().contains("probe: http"), "{}", host.output());

    let host = probe_host()
        .env("SPIN_COMPONENTS_TO_RETAIN", "isolated")
        .start();
    assert_eq!(host.get("/isolated/a").status, 200);
    assert_eq!(host.get("/limited/a").status, 404);

    // `probe` chains to `backend`: serving it alone fails as in Spin...
    let output = probe_host()
        .arg("-c")
        .arg("probe")
        .try_start()
        .err()
        .expect("must refuse");
    assert!(output.contains("backend"), "{output}");
    // ...and works with both.
    let host = probe_host()
        .arg("-c")
        .arg("probe")
        .arg("-c")
        .arg("backend")
        .start();
    assert_eq!(
        host.get("/?op=fetch&url=http://backend.spin.internal/%3Fop%3Dcounter")
            .body,
        "200\n1"
    );

    let output = probe_host()
        .arg("-c")
        .arg("nope")
        .try_start()
        .err()
        .expect("unknown id");
    assert!(output.contains("nope"), "{output}");
}

#[test]
fn a_trap_gives_500_and_the_host_keeps_serving() {
    let host = probe_host().start();
    let trap = host.get("/?op=trap");
    assert_eq!(trap.status, 500);
    assert_eq!(trap.body, "");
    assert_eq!(host.get("/?op=counter").body, "1");
    let out = host.wait_for_output("[probe]");
    assert!(
        out.contains("[probe]"),
        "the trap was not logged with the component id:\n{out}"
    );
}

#[test]
fn oversized_bodies_get_413() {
    let host = probe_host().arg("--max-request-body").arg("4K").start();
    // Per-component limit from [component.limited.tool.spinflow].
    assert_eq!(host.post("/limited/x", &[b'a'; 1000]).status, 200);
    assert_eq!(host.post("/limited/x", &[b'a'; 2000]).status, 413);
    // Host-wide limit from the flag.
    let echo = host.post("/api/x", &[b'a'; 3000]);
    assert_eq!(echo.json()["body_len"], 3000);
    assert_eq!(host.post("/api/x", &[b'a'; 5000]).status, 413);

    // A chunked body (no content-length) is cut off at the limit too.
    let mut data: &[u8] = &[b'b'; 8000];
    let chunked = common::request(
        common::agent()
            .post(format!("{}/api/x", host.url))
            .send(ureq::SendBody::from_reader(&mut data)),
    );
    assert_eq!(chunked.status, 413);
}

#[test]
fn access_log_and_quiet() {
    let host = probe_host().start();
    host.get("/api/logged?x=1");
    let out = host.wait_for_output("GET /api/logged?x=1 200");
    assert!(out.contains("GET /api/logged?x=1 200"), "{out}");

    let host = probe_host().arg("--quiet").start();
    host.get("/api/quiet");
    // The trap's error line comes after the access line would have: wait for it.
    host.get("/?op=trap");
    let out = host.wait_for_output("request failed");
    assert!(out.contains("request failed"), "{out}");
    assert!(!out.contains("/api/quiet"), "{out}");
}

#[test]
fn concurrent_sqlite_transactions_neither_lose_writes_nor_fail() {
    let host = probe_host().start();
    let setup = host.post(
        "/?op=sql&db=default",
        b"CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
    );
    assert_eq!(setup.status, 200, "{setup:?}");
    host.post("/?op=sql&db=default", b"INSERT INTO counter VALUES (1, 0)");

    let (writers, per_writer) = (8, 15);
    let url = host.url.clone();
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..writers)
            .map(|_| {
                let url = url.clone();
                s.spawn(move || {
                    let agent = common::agent();
                    (0..per_writer)
                        .map(|_| {
                            common::request(
                                agent.get(format!("{url}/?op=tx-incr&db=default")).call(),
                            )
                        })
                        .filter(|r| r.status != 200)
                        .map(|r| r.body)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(failures.is_empty(), "failed transactions: {failures:?}");
    let total = host
        .post("/?op=sql&db=default", b"SELECT n FROM counter WHERE id = 1")
        .json();
    assert_eq!(total["rows"], serde_json::json!([[writers * per_writer]]));
}

#[test]
fn compiled_code_is_cached_and_a_bad_entry_is_replaced() {
    let cache = tempfile::tempdir().unwrap();
    let entries = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(cache.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
            .collect()
    };
    let host = probe_host().cache_dir(cache.path()).start();
    assert!(host.terminate());
    let cached = entries();
    assert_eq!(
        cached.len(),
        1,
        "one component source, one entry: {cached:?}"
    );

    // A damaged entry is ignored, recompiled and rewritten.
    std::fs::write(&cached[0], b"not compiled code").unwrap();
    let host = probe_host().cache_dir(cache.path()).start();
    assert_eq!(host.get("/?op=counter").body, "1");
    assert!(
        host.output().contains("ignoring unusable cache entry"),
        "{}",
        host.output()
    );
    assert!(std::fs::metadata(&cached[0]).unwrap().len() > 1000);
}
