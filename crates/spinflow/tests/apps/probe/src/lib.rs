//! A Spin component that reports what the host gives it, selected by `?op=`:
//!
//! | op | does |
//! |---|---|
//! | `echo` (default) | JSON of method, uri, path, query, headers and body length |
//! | `counter` | increments a global and returns it (per-request isolation) |
//! | `var&name=N` | the component variable N |
//! | `env&name=N` | the environment variable N |
//! | `kv-set&store=S&key=K&value=V`, `kv-get&store=S&key=K` | fermyon key-value |
//! | `incr&store=S&key=K&delta=D` | wasi:keyvalue atomics increment |
//! | `sql&db=D` | runs the body as one SQL statement, returns the rows as JSON |
//! | `tx-incr&db=D` | read-modify-write of `counter.n` (id 1) in a BEGIN ... COMMIT over several calls |
//! | `tx-trap&db=D` | BEGIN, adds 1000 to `counter.n`, then panics with the transaction open |
//! | `fetch&url=U` | outbound GET, answers `<status>\n<body>` or 502 and the error |
//! | `trap` | panics |
//! | `preinit` | what `wizer-initialize` left (`spinflow preinit`), or 404 `not pre-initialised` |
//! | `fs-read&path=P` | the file P's contents |
//! | `fs-list&path=P` | the entries of directory P, sorted, one a line (directories end in `/`) |
//! | `fs-tree&path=P` | every file under P, recursively, sorted, one a line |
//! | `fs-write&path=P` | writes the body to file P (created or truncated) |
//! | `tcp&addr=A` | wasi:sockets TCP: connects to A, sends `ping`, answers what came back before EOF |
//! | `udp&addr=A&bind=B` | wasi:sockets UDP: binds B (default `0.0.0.0:0`), sends `ping` to A, answers the reply |
//! | `lookup&name=N` | wasi:sockets name lookup of `N:80`, the addresses one a line |
//! | `redis&addr=A&key=K` | fermyon:spin/redis@2.0.0: set K to the body, then get, incr, sadd/smembers, execute, del, publish; a line each |
//! | `mqtt&addr=A&topic=T&qos=Q` | fermyon:spin/mqtt@2.0.0: publishes the body to T with QoS Q (0, 1, 2) |
//!
//! `redis` and `mqtt` answer 403 with the error when `open` fails, 500 when a later call does.
//!
//! A socket op that fails answers 403 with the `std::io::ErrorKind` on the
//! first line and the error on the second.
//!
//! A filesystem op that fails answers 422 with the `std::io::ErrorKind` on the
//! first line and the error on the second.
//!
//! Besides the HTTP handler it exports two initialisation functions for
//! `spinflow preinit`: `wizer-initialize` (pure work: a heap value and a hash map, whose
//! seed comes from WASI random) and `init-with-kv` (opens a key-value store, which
//! must fail at build time).

use spin_sdk::http::{IntoResponse, Method, Request, Response};
use spin_sdk::http_component;
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);
static PREINIT: std::sync::OnceLock<String> = std::sync::OnceLock::new();

mod preinit {
    spin_sdk::wit_bindgen::generate!({
        inline: "package spinflow:probe;
                 world preinit {
                     export wizer-initialize: func();
                     export init-with-kv: func();
                 }",
        runtime_path: "spin_sdk::wit_bindgen::rt",
    });

    struct Probe;

    impl Guest for Probe {
        fn wizer_initialize() {
            let squares: std::collections::HashMap<u32, u32> =
                (1..=4).map(|i| (i, i * i)).collect();
            let total: u32 = squares.values().sum();
            let _ =
                super::PREINIT.set(format!("initialised at build time; sum of squares {total}"));
        }

        fn init_with_kv() {
            let _ = spin_sdk::key_value::Store::open_default();
        }
    }

    export!(Probe);
}

#[http_component]
async fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    let params: Vec<(String, String)> = req
        .query()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), decode(v)),
            None => (p.to_string(), String::new()),
        })
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    Ok(match param("op").as_str() {
        "" | "echo" => echo(&req),
        "counter" => text(
            200,
            (COUNTER.fetch_add(1, Ordering::SeqCst) + 1).to_string(),
        ),
        "var" => match spin_sdk::variables::get(&param("name")) {
            Ok(v) => text(200, v),
            Err(e) => text(404, format!("{e:?}")),
        },
        "env" => match std::env::var(param("name")) {
            Ok(v) => text(200, v),
            Err(_) => text(404, "unset".into()),
        },
        "kv-set" => match spin_sdk::key_value::Store::open(&param("store")) {
            Ok(store) => match store.set(&param("key"), param("value").as_bytes()) {
                Ok(()) => text(200, "stored".into()),
                Err(e) => text(500, format!("{e:?}")),
            },
            Err(e) => text(403, format!("{e:?}")),
        },
        "kv-get" => match spin_sdk::key_value::Store::open(&param("store")) {
            Ok(store) => match store.get(&param("key")) {
                Ok(Some(v)) => text(200, String::from_utf8_lossy(&v).into_owned()),
                Ok(None) => text(404, "missing".into()),
                Err(e) => text(500, format!("{e:?}")),
            },
            Err(e) => text(403, format!("{e:?}")),
        },
        "incr" => {
            use spin_sdk::wit::wasi::keyvalue::{atomics, store};
            match store::open(&param("store")) {
                Ok(bucket) => {
                    let delta = param("delta").parse().unwrap_or(1);
                    match atomics::increment(&bucket, &param("key"), delta) {
                        Ok(v) => text(200, v.to_string()),
                        Err(e) => text(500, format!("{e:?}")),
                    }
                }
                Err(e) => text(403, format!("{e:?}")),
            }
        }
        "sql" => sql(&param("db"), &String::from_utf8_lossy(req.body())),
        "tx-incr" => match tx_incr(&param("db")) {
            Ok(n) => text(200, n.to_string()),
            Err(e) => text(500, format!("{e:?}")),
        },
        "fetch" => {
            let outbound = Request::builder()
                .method(Method::Get)
                .uri(param("url"))
                .build();
            match spin_sdk::http::send::<_, Response>(outbound).await {
                Ok(r) => text(
                    200,
                    format!("{}\n{}", r.status(), String::from_utf8_lossy(r.body())),
                ),
                Err(e) => text(502, format!("{e:?}")),
            }
        }
        "tx-trap" => {
            use spin_sdk::sqlite3::Connection;
            let conn = Connection::open(&param("db")).expect("open");
            conn.execute("BEGIN", &[]).expect("begin");
            conn.execute("UPDATE counter SET n = n + 1000 WHERE id = 1", &[])
                .expect("update");
            panic!("probe asked to trap inside a transaction")
        }
        "trap" => panic!("probe asked to trap"),
        "preinit" => match PREINIT.get() {
            Some(v) => text(200, v.clone()),
            None => text(404, "not pre-initialised".into()),
        },
        "fs-read" => fs_reply(std::fs::read_to_string(param("path"))),
        "fs-list" => fs_reply(list_dir(&param("path"))),
        "fs-tree" => fs_reply(tree(&param("path"))),
        "fs-write" => {
            fs_reply(std::fs::write(param("path"), req.body()).map(|()| "written".into()))
        }
        "tcp" => socket_reply(tcp_ping(&param("addr"))),
        "udp" => {
            let bind = Some(param("bind")).filter(|b| !b.is_empty());
            socket_reply(udp_ping(
                &param("addr"),
                bind.as_deref().unwrap_or("0.0.0.0:0"),
            ))
        }
        "lookup" => socket_reply(lookup(&param("name"))),
        "redis" => redis_ops(&param("addr"), &param("key"), req.body()),
        "mqtt" => mqtt_publish(&param("addr"), &param("topic"), &param("qos"), req.body()),
        other => text(400, format!("unknown op {other:?}")),
    })
}

fn text(status: u16, body: String) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(body)
        .build()
}

fn echo(req: &Request) -> Response {
    let headers: serde_json::Map<String, serde_json::Value> = req
        .headers()
        .map(|(k, v)| (k.to_string(), v.as_str().unwrap_or("").into()))
        .collect();
    let body = serde_json::json!({
        "method": req.method().to_string(),
        "uri": req.uri(),
        "path": req.path(),
        "query": req.query(),
        "headers": headers,
        "body_len": req.body().len(),
    });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(body.to_string())
        .build()
}

fn sql(db: &str, statement: &str) -> Response {
    use spin_sdk::sqlite3::{Connection, Value};
    let conn = match Connection::open(db) {
        Ok(c) => c,
        Err(e) => return text(403, format!("{e:?}")),
    };
    match conn.execute(statement, &[]) {
        Ok(result) => {
            let rows: Vec<serde_json::Value> = result
                .rows
                .iter()
                .map(|row| {
                    row.values
                        .iter()
                        .map(|v| match v {
                            Value::Integer(i) => serde_json::json!(i),
                            Value::Real(f) => serde_json::json!(f),
                            Value::Text(s) => serde_json::json!(s),
                            Value::Blob(b) => serde_json::json!(b),
                            Value::Null => serde_json::Value::Null,
                        })
                        .collect()
                })
                .collect();
            let body = serde_json::json!({ "columns": result.columns, "rows": rows });
            text(200, body.to_string())
        }
        Err(e) => text(500, format!("{e:?}")),
    }
}

fn fs_reply(result: std::io::Result<String>) -> Response {
    match result {
        Ok(body) => text(200, body),
        Err(e) => text(422, format!("{:?}\n{e}", e.kind())),
    }
}

fn list_dir(path: &str) -> std::io::Result<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let slash = if entry.file_type()?.is_dir() { "/" } else { "" };
        names.push(format!("{}{slash}", entry.file_name().to_string_lossy()));
    }
    names.sort();
    Ok(names.join("\n"))
}

/// Files only: directories show through the paths of the files they hold.
fn tree(root: &str) -> std::io::Result<String> {
    let mut files = Vec::new();
    let mut pending = vec![std::path::PathBuf::from(root)];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                pending.push(entry.path());
            } else {
                files.push(entry.path().to_string_lossy().into_owned());
            }
        }
    }
    files.sort();
    Ok(files.join("\n"))
}

/// A transaction spanning several `execute` calls on one connection; the
/// increment happens in the guest, so a lost update would show in the total.
fn tx_incr(db: &str) -> Result<i64, spin_sdk::sqlite3::Error> {
    use spin_sdk::sqlite3::{Connection, Value};
    let conn = Connection::open(db)?;
    conn.execute("BEGIN", &[])?;
    let current = conn.execute("SELECT n FROM counter WHERE id = 1", &[])?;
    let n = match current.rows.first().and_then(|r| r.values.first()) {
        Some(Value::Integer(n)) => *n,
        _ => 0,
    };
    conn.execute(
        "UPDATE counter SET n = ? WHERE id = 1",
        &[Value::Integer(n + 1)],
    )?;
    conn.execute("COMMIT", &[])?;
    Ok(n + 1)
}

/// Percent-decoding for query values (`+` is a space).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn socket_reply(result: std::io::Result<String>) -> Response {
    match result {
        Ok(body) => text(200, body),
        Err(e) => text(403, format!("{:?}\n{e}", e.kind())),
    }
}

fn tcp_ping(addr: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.write_all(b"ping")?;
    stream.shutdown(std::net::Shutdown::Write)?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    Ok(reply)
}

fn udp_ping(addr: &str, bind: &str) -> std::io::Result<String> {
    let socket = std::net::UdpSocket::bind(bind)?;
    socket.send_to(b"ping", addr)?;
    let mut buf = [0u8; 512];
    let (n, _) = socket.recv_from(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn lookup(name: &str) -> std::io::Result<String> {
    use std::net::ToSocketAddrs;
    let addrs: Vec<String> = (name, 80)
        .to_socket_addrs()?
        .map(|a| a.ip().to_string())
        .collect();
    Ok(addrs.join("\n"))
}

fn redis_ops(addr: &str, key: &str, value: &[u8]) -> Response {
    use spin_sdk::redis::{Connection, RedisParameter, RedisResult};
    let conn = match Connection::open(addr) {
        Ok(c) => c,
        Err(e) => return text(403, format!("{e:?}")),
    };
    let counter = format!("{key}:n");
    let set = format!("{key}:set");
    let run = || -> Result<Vec<String>, spin_sdk::redis::Error> {
        conn.set(key, value)?;
        let got = conn.get(key)?.unwrap_or_default();
        let n = conn.incr(&counter)?;
        conn.sadd(&set, &["a".into(), "b".into()])?;
        let mut members = conn.smembers(&set)?;
        members.sort();
        let appended = conn.execute(
            "APPEND",
            &[
                RedisParameter::Binary(key.as_bytes().to_vec()),
                RedisParameter::Binary(b"!".to_vec()),
            ],
        )?;
        let appended: Vec<String> = appended
            .iter()
            .map(|r| match r {
                RedisResult::Nil => "nil".to_string(),
                RedisResult::Status(s) => format!("status {s}"),
                RedisResult::Int64(i) => format!("int {i}"),
                RedisResult::Binary(b) => format!("binary {}", String::from_utf8_lossy(b)),
            })
            .collect();
        let deleted = conn.del(&[counter.clone(), set.clone()])?;
        conn.publish("probe", value)?;
        Ok(vec![
            format!("get {}", String::from_utf8_lossy(&got)),
            format!("incr {n}"),
            format!("smembers {}", members.join(",")),
            format!("append {}", appended.join(",")),
            format!("del {deleted}"),
        ])
    };
    match run() {
        Ok(lines) => text(200, lines.join("\n")),
        Err(e) => text(500, format!("{e:?}")),
    }
}

fn mqtt_publish(addr: &str, topic: &str, qos: &str, payload: &[u8]) -> Response {
    use spin_sdk::mqtt::{Connection, Qos};
    let conn = match Connection::open(addr, "", "", 30) {
        Ok(c) => c,
        Err(e) => return text(403, format!("{e:?}")),
    };
    let qos = match qos {
        "1" => Qos::AtLeastOnce,
        "2" => Qos::ExactlyOnce,
        _ => Qos::AtMostOnce,
    };
    match conn.publish(topic, payload, qos) {
        Ok(()) => text(200, "published".into()),
        Err(e) => text(500, format!("{e:?}")),
    }
}
