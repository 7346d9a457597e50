//! Connection handling of `spinflow up` against clients that stall, trickle,
//! idle or half-close: the real binary and the real app (spin.toml at the
//! repository root: iris-api and mlflow-server), raw sockets on loopback, and
//! short timeouts set by flags so that each test takes seconds.
//!
//! Each test checks how the default settings hold against one kind of client
//! that would otherwise exhaust the server:
//!
//! * a) a client that sends headers and part of a body, then waits, holds no
//!   instance permit (a large upload holds at most half of them) and gets a 408
//!   after the body idle timeout;
//! * b) slow headers and silent or idle connections are closed after the header
//!   and keep-alive timeouts, and a client that stops reading its answer after
//!   the send timeout;
//! * c) connections past the cap wait in the listen backlog, and the default cap
//!   stays under the open-files limit;
//! * d) a client that half-closes after its request still gets its answer.

mod common;

use common::{build_wasm, host, repo_root, Host, HostBuilder};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

fn app() -> HostBuilder {
    build_wasm(&["iris-api", "mlflow-server"]);
    host(repo_root().join("spin.toml"))
}

fn connect(host: &Host) -> TcpStream {
    try_connect(host, Duration::from_secs(10)).expect("connect to the host")
}

/// A connection, unless the host's listen backlog is full for `limit` (the
/// kernel then drops the handshake and the client retries it).
fn try_connect(host: &Host, limit: Duration) -> Option<TcpStream> {
    let addr = host.addr().parse().unwrap();
    let stream = TcpStream::connect_timeout(&addr, limit).ok()?;
    stream.set_nodelay(true).unwrap();
    Some(stream)
}

/// What the server sent until it closed the connection, or until `limit` passed
/// (then `closed` is false).
struct Received {
    bytes: Vec<u8>,
    closed: bool,
}

impl Received {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Received {
    let deadline = Instant::now() + limit;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Received {
                bytes,
                closed: false,
            };
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => {
                return Received {
                    bytes,
                    closed: true,
                }
            }
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                return Received {
                    bytes,
                    closed: true,
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("read failed: {e}"),
        }
    }
}

/// Reads one response with a `Content-Length` from a connection that stays open.
fn read_response(stream: &mut TcpStream, limit: Duration) -> String {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .expect("a content-length");
            if bytes.len() >= end + 4 + length {
                return text;
            }
        }
        let n = stream.read(&mut buf).expect("read a response");
        assert!(n > 0, "closed before a whole response: {text:?}");
        bytes.extend_from_slice(&buf[..n]);
    }
}

/// True if the server has neither sent anything on `stream` nor closed it.
fn is_quiet(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let quiet = matches!(stream.peek(&mut byte), Err(e) if e.kind() == ErrorKind::WouldBlock);
    stream.set_nonblocking(false).unwrap();
    quiet
}

/// `f()`, and how long it took.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let value = f();
    (value, started.elapsed())
}

/// Normal traffic answers promptly: iris-api's /health and a write to mlflow-server.
fn assert_serving(app: &Host, round: usize, within: Duration) {
    let (health, took) = timed(|| app.get("/health"));
    assert_eq!(health.status, 200, "{health:?}");
    assert!(took < within, "/health took {took:?}");
    let body = format!(
        r#"{{"name": "reliability-{round}-{}"}}"#,
        std::process::id()
    );
    let (created, took) = timed(|| app.post("/api/2.0/mlflow/experiments/create", body.as_bytes()));
    assert_eq!(created.status, 200, "{created:?}");
    assert!(
        created.json()["experiment_id"].is_string(),
        "{}",
        created.body
    );
    assert!(took < within, "experiments/create took {took:?}");
}

/// Normal requests must answer within this, however many clients are stalled.
/// Generous: the tests run beside other work on small machines.
const PROMPT: Duration = Duration::from_secs(3);

/// a) Headers with `Content-Length: 100` and 5 body bytes, then nothing, on 200
/// connections (the instance pool takes 128 requests from the network): small
/// bodies are received before an instance slot is taken, so the stalled clients
/// hold none, the rest of the traffic is served, and each stalled request ends
/// with 408 after the body idle timeout.
#[test]
fn stalled_request_bodies_hold_no_instance_and_end_with_408() {
    let idle = Duration::from_secs(5);
    let app = app()
        .arg("--body-idle-timeout")
        .arg("5s")
        .arg("--quiet")
        .start();
    let started = Instant::now();
    let mut stalled: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = connect(&app);
            s.write_all(
                b"POST /api/2.0/mlflow/runs/create HTTP/1.1\r\nHost: localhost\r\n\
                  Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"exp",
            )
            .unwrap();
            s
        })
        .collect();
    // Let the host read every stalled request's headers.
    std::thread::sleep(Duration::from_millis(500));
    for round in 0..3 {
        assert_serving(&app, round, PROMPT);
    }
    // The requests above did not wait for the stalled ones: those are still pending.
    let pending = stalled.iter().filter(|s| is_quiet(s)).count();
    assert!(
        started.elapsed() < idle,
        "too slow to tell: {:?}",
        started.elapsed()
    );
    assert_eq!(
        pending, 200,
        "stalled requests answered before their timeout"
    );

    for stream in &mut stalled {
        let reply = read_until_closed(stream, idle + Duration::from_secs(15));
        let text = reply.text();
        assert!(
            text.starts_with("HTTP/1.1 408 "),
            "stalled body: expected 408, got {text:?}"
        );
        assert!(reply.closed, "connection kept open after 408");
    }
    let took = started.elapsed();
    assert!(
        took >= idle - Duration::from_millis(200),
        "408 too early: {took:?}"
    );
    assert_serving(&app, 3, PROMPT);
}

/// a') Bodies larger than the body buffer are streamed to the component, which
/// holds an instance while they arrive: uploads that stall hold at most half the
/// network requests' instance slots (64), so 140 of them (more than the 128
/// slots) starve nothing, and each ends with 408 once it has waited the idle
/// timeout inside the component.
#[test]
fn stalled_streamed_uploads_hold_at_most_half_the_instances() {
    let idle = Duration::from_secs(4);
    let app = app()
        .arg("--body-idle-timeout")
        .arg("4s")
        .arg("--body-buffer-size")
        .arg("1K")
        .arg("--quiet")
        .start();
    let started = Instant::now();
    let mut stalled: Vec<TcpStream> = (0..140)
        .map(|i| {
            let mut s = connect(&app);
            write!(
                s,
                "PUT /api/2.0/mlflow-artifacts/artifacts/stalled/{i}.bin HTTP/1.1\r\n\
                 Host: localhost\r\nContent-Length: 1048576\r\n\r\n"
            )
            .unwrap();
            s.write_all(&[b'x'; 2048]).unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    for round in 0..3 {
        assert_serving(&app, round, PROMPT);
    }
    assert!(
        started.elapsed() < idle,
        "too slow to tell: {:?}",
        started.elapsed()
    );
    assert_eq!(stalled.iter().filter(|s| is_quiet(s)).count(), 140);

    // 64 time out first; the next 64 then get instances and time out in turn, then the rest.
    for stream in &mut stalled {
        let reply = read_until_closed(stream, 3 * idle + Duration::from_secs(20));
        let text = reply.text();
        assert!(
            text.starts_with("HTTP/1.1 408 "),
            "stalled upload: expected 408, got {text:?}"
        );
    }
    assert_serving(&app, 3, PROMPT);
}

/// Artifact uploads larger than the body buffer still stream through the host
/// (and into mlflow-server's store chunk by chunk) in bounded memory.
#[test]
fn large_artifact_uploads_stream_in_bounded_memory() {
    let app = app().arg("--quiet").start();
    assert_eq!(app.get("/health").status, 200);
    let before = app.memory_status("VmHWM");
    let size: u64 = 128 << 20;
    let mut body = std::io::repeat(b'a').take(size);
    let reply = common::request(
        common::agent()
            .put(format!(
                "{}/api/2.0/mlflow-artifacts/artifacts/big/model.bin",
                app.url
            ))
            .header("content-length", size.to_string())
            .send(ureq::SendBody::from_reader(&mut body)),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    let grown = app.memory_status("VmHWM").saturating_sub(before);
    eprintln!("a 128 MiB upload: host peak memory +{} MiB", grown >> 20);
    assert!(
        grown < 48 << 20,
        "a 128 MiB upload grew the host's peak memory by {} MiB",
        grown >> 20
    );
    let listed = app.get("/api/2.0/mlflow-artifacts/artifacts?path=big");
    assert!(listed.body.contains(&size.to_string()), "{}", listed.body);
}

/// A client that stops reading its answer (here a 32 MiB artifact download) is
/// disconnected after the send timeout, instead of holding the connection and
/// the instance that streams the answer.
#[test]
fn a_client_that_stops_reading_is_disconnected() {
    let app = app().arg("--send-timeout").arg("1s").arg("--quiet").start();
    let size: u64 = 32 << 20;
    let mut body = std::io::repeat(b'd').take(size);
    let reply = common::request(
        common::agent()
            .put(format!(
                "{}/api/2.0/mlflow-artifacts/artifacts/slow-reader/blob.bin",
                app.url
            ))
            .header("content-length", size.to_string())
            .send(ureq::SendBody::from_reader(&mut body)),
    );
    assert_eq!(reply.status, 200, "{reply:?}");

    let mut reader = connect(&app);
    reader
        .write_all(
            b"GET /api/2.0/mlflow-artifacts/artifacts/slow-reader/blob.bin HTTP/1.1\r\n\
              Host: localhost\r\n\r\n",
        )
        .unwrap();
    // Read nothing while the socket buffers fill and the send timeout runs out.
    std::thread::sleep(Duration::from_secs(4));
    let reply = read_until_closed(&mut reader, Duration::from_secs(10));
    assert!(reply.text().starts_with("HTTP/1.1 200 "));
    assert!(
        reply.closed,
        "the connection of a client that stopped reading is still open"
    );
    assert!(
        (reply.bytes.len() as u64) < size,
        "the whole answer arrived: the send timeout was not needed"
    );
    assert_serving(&app, 0, PROMPT);
}

/// b) Half a request line, a silent connection and an idle kept-alive
/// connection are closed: the first two after the header timeout, the last
/// after the keep-alive timeout, unless a request starts on it, which then has
/// the header timeout from its first byte.
#[test]
fn slow_headers_and_idle_connections_are_closed() {
    let header = Duration::from_secs(1);
    let keep_alive = Duration::from_secs(6);
    let app = app()
        .arg("--header-read-timeout")
        .arg("1s")
        .arg("--keep-alive-timeout")
        .arg("6s")
        .start();
    let margin = Duration::from_secs(3);

    let started = Instant::now();
    let mut half = connect(&app);
    half.write_all(b"GET /health HT").unwrap();
    let mut silent = connect(&app);
    let mut kept = connect(&app);
    kept.write_all(b"GET /.well-known/spin/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let first = read_response(&mut kept, Duration::from_secs(10));
    assert!(first.starts_with("HTTP/1.1 200 "), "{first}");
    let answered = Instant::now();
    let mut trickled = connect(&app);
    trickled
        .write_all(b"GET /.well-known/spin/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    read_response(&mut trickled, Duration::from_secs(10));

    for (name, stream) in [("half request line", &mut half), ("silent", &mut silent)] {
        let reply = read_until_closed(stream, header + margin);
        assert!(reply.closed, "{name} connection still open");
        assert!(reply.bytes.is_empty(), "{name}: {:?}", reply.text());
        let took = started.elapsed();
        assert!(
            took >= header - Duration::from_millis(100),
            "{name} closed after {took:?}"
        );
    }

    // Kept alive past the header timeout: idle connections have the keep-alive timeout.
    std::thread::sleep((answered + 2 * header).saturating_duration_since(Instant::now()));
    assert!(
        is_quiet(&kept),
        "kept-alive connection closed before its keep-alive timeout"
    );
    // A request that starts on an idle connection has the header timeout from its
    // first byte (1 s from now), not the keep-alive timeout (4 s from now).
    trickled.write_all(b"GET /health HT").unwrap();
    let wrote = Instant::now();
    let reply = read_until_closed(&mut trickled, keep_alive + margin);
    assert!(reply.closed && reply.bytes.is_empty(), "{:?}", reply.text());
    let took = wrote.elapsed();
    assert!(
        took >= header - Duration::from_millis(100) && took < header + Duration::from_secs(2),
        "a slow request on a kept-alive connection was closed after {took:?}"
    );

    let reply = read_until_closed(&mut kept, keep_alive + margin);
    assert!(reply.closed && reply.bytes.is_empty(), "{:?}", reply.text());
    let idle_for = answered.elapsed();
    assert!(
        idle_for >= keep_alive - Duration::from_millis(100),
        "idle connection closed after {idle_for:?}"
    );
    assert_eq!(app.get("/health").status, 200);
}

/// c) More idle connections than the cap: the host stops accepting at the cap
/// (the others wait in the listen backlog), says so, and serves again once they
/// are gone; it never runs out of open files.
#[test]
fn connections_past_the_cap_wait_and_the_host_recovers() {
    let app = app()
        .arg("--max-connections")
        .arg("32")
        .arg("--header-read-timeout")
        .arg("2s")
        .start();
    // 32 accepted, the rest in the listen backlog (128).
    let idle: Vec<TcpStream> = (0..150).map(|_| connect(&app)).collect();
    let out = app.wait_for_output("32 connections open (--max-connections)");
    assert!(
        out.contains("32 connections open (--max-connections)"),
        "{out}"
    );
    assert!(
        app.open_files() < 32 + 64,
        "{} files open",
        app.open_files()
    );
    drop(idle);
    let (health, took) = timed(|| app.get("/health"));
    assert_eq!(health.status, 200, "{health:?}");
    assert!(took < Duration::from_secs(5), "/health took {took:?}");
    assert_serving(&app, 0, PROMPT);
    assert!(
        !app.output().contains("Too many open files"),
        "{}",
        app.output()
    );
}

/// c') The default cap follows the open-files limit: under a limit of 256 open
/// files (soft and hard), hundreds of idle connections never exhaust it, and
/// the host serves once they are gone.
#[test]
fn the_default_cap_stays_under_the_open_files_limit() {
    if std::process::Command::new("prlimit")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: util-linux prlimit is not installed");
        return;
    }
    let app = app()
        .open_files_limit(256)
        .arg("--header-read-timeout")
        .arg("2s")
        .start();
    // Past the cap and the listen backlog, handshakes wait: take what connects.
    let idle: Vec<TcpStream> = (0..600)
        .filter_map(|_| try_connect(&app, Duration::from_millis(300)))
        .collect();
    assert!(idle.len() > 256, "only {} connections", idle.len());
    // max(256 - 1024, 256 / 2) = 128.
    let out = app.wait_for_output("128 connections open (--max-connections)");
    assert!(
        out.contains("128 connections open (--max-connections)"),
        "{out}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(app.open_files() < 256, "{} files open", app.open_files());
    drop(idle);
    let (health, took) = timed(|| app.get("/health"));
    assert_eq!(health.status, 200, "{health:?}");
    assert!(took < Duration::from_secs(5), "/health took {took:?}");
    assert_serving(&app, 0, PROMPT);
    assert!(
        !app.output().contains("Too many open files"),
        "{}",
        app.output()
    );
}

/// d) A client that sends a whole request, then shuts down its sending side,
/// gets the answer (and then the close).
#[test]
fn a_half_closed_client_gets_its_answer() {
    let app = app().start();

    let mut get = connect(&app);
    get.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    get.shutdown(Shutdown::Write).unwrap();
    let reply = read_until_closed(&mut get, Duration::from_secs(10));
    assert!(
        reply.text().starts_with("HTTP/1.1 200 "),
        "{:?}",
        reply.text()
    );
    assert!(reply.text().contains("model"), "{:?}", reply.text());
    assert!(reply.closed);

    let body = format!(r#"{{"name": "half-closed-{}"}}"#, std::process::id());
    let mut post = connect(&app);
    write!(
        post,
        "POST /api/2.0/mlflow/experiments/create HTTP/1.1\r\nHost: localhost\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    post.shutdown(Shutdown::Write).unwrap();
    let reply = read_until_closed(&mut post, Duration::from_secs(10));
    assert!(
        reply.text().starts_with("HTTP/1.1 200 "),
        "{:?}",
        reply.text()
    );
    assert!(reply.text().contains("experiment_id"), "{:?}", reply.text());
    assert!(reply.closed);
}
