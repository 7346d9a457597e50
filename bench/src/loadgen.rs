//! Closed-loop HTTP/1.1 load generator: N keep-alive connections, each sending the
//! next request as soon as the previous answer is read, for a fixed duration after a
//! warm-up. Latencies go into an HDR histogram (microseconds).
//!
//! Native (hyper + tokio) so that the client is not the bottleneck: the Python
//! `requests` client tops out near 1.6k requests/s on this kind of machine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpStream;

/// Makes the body of request number `seq` on connection `conn` (for workloads whose
/// requests must differ, such as logging a metric at a new step each time).
pub type BodyFn = Arc<dyn Fn(usize, u64) -> Bytes + Send + Sync>;

/// Makes the path of request number `seq` on connection `conn` (for workloads that
/// address a different key or row from one request to the next).
pub type PathFn = Arc<dyn Fn(usize, u64) -> String + Send + Sync>;

/// One request shape, sent over and over.
#[derive(Clone)]
pub struct RequestSpec {
    pub method: hyper::Method,
    /// `host:port`
    pub authority: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// When set, every answer's body must contain this text to count as a success.
    pub expect_body: Option<String>,
    /// When set, every answer's body must be exactly the request's body.
    pub expect_echo: bool,
    pub body_fn: Option<BodyFn>,
    pub path_fn: Option<PathFn>,
    /// Further servers of the same app (replicas): connection `i` addresses the
    /// `i`-th of `authority` and these, in turn, so that the load is split between
    /// them with no proxy in between.
    pub replicas: Vec<String>,
}

impl RequestSpec {
    pub fn get(authority: &str, path: &str) -> Self {
        RequestSpec {
            method: hyper::Method::GET,
            authority: authority.to_string(),
            path: path.to_string(),
            headers: Vec::new(),
            body: Bytes::new(),
            expect_body: None,
            expect_echo: false,
            body_fn: None,
            path_fn: None,
            replicas: Vec::new(),
        }
    }

    pub fn post_json(authority: &str, path: &str, body: impl Into<Bytes>) -> Self {
        RequestSpec {
            method: hyper::Method::POST,
            authority: authority.to_string(),
            path: path.to_string(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
            expect_body: None,
            expect_echo: false,
            body_fn: None,
            path_fn: None,
            replicas: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn expect(mut self, text: &str) -> Self {
        self.expect_body = Some(text.to_string());
        self
    }

    /// Every answer must echo its request's body (see [`RequestSpec::answers`]).
    pub fn expect_echo(mut self) -> Self {
        self.expect_echo = true;
        self
    }

    /// A 2xx whose body holds the expected text, if any.
    pub fn accepts(&self, status: u16, body: &[u8]) -> bool {
        let body_ok = self
            .expect_body
            .as_ref()
            .is_none_or(|t| body.windows(t.len()).any(|w| w == t.as_bytes()));
        (200..300).contains(&status) && body_ok
    }

    /// [`RequestSpec::accepts`], and with `expect_echo` the answer's body is exactly
    /// `sent`, the body of the request it answers.
    pub fn answers(&self, sent: &[u8], status: u16, body: &[u8]) -> bool {
        self.accepts(status, body) && (!self.expect_echo || body == sent)
    }

    /// The request a command line names: an `http://` URL, a body (POST when given)
    /// and `name: value` headers.
    pub fn from_command_line(url: &str, body: Option<String>, headers: &[String]) -> Result<Self> {
        let rest = url.strip_prefix("http://").context("only http:// URLs")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let mut spec = match body {
            Some(b) => Self::post_json(authority, path, b),
            None => Self::get(authority, path),
        };
        for h in headers {
            let (name, value) = h.split_once(':').context("headers are `name: value`")?;
            spec = spec.header(name.trim(), value.trim());
        }
        Ok(spec)
    }

    pub fn vary(mut self, body_fn: BodyFn) -> Self {
        self.body_fn = Some(body_fn);
        self
    }

    pub fn vary_path(mut self, path_fn: PathFn) -> Self {
        self.path_fn = Some(path_fn);
        self
    }

    /// Splits the connections between `authority` and `replicas` (see
    /// [`RequestSpec::replicas`]).
    pub fn spread_over(mut self, replicas: &[String]) -> Self {
        self.replicas = replicas.to_vec();
        self
    }

    /// The server connection `conn` addresses.
    pub fn authority_of(&self, conn: usize) -> &str {
        match conn % (self.replicas.len() + 1) {
            0 => &self.authority,
            i => &self.replicas[i - 1],
        }
    }

    pub fn build(&self) -> Result<hyper::Request<Full<Bytes>>> {
        self.build_nth(0, 0)
    }

    /// The request number `seq` of connection `conn`.
    pub fn build_nth(&self, conn: usize, seq: u64) -> Result<hyper::Request<Full<Bytes>>> {
        self.build_with(conn, seq, self.body_nth(conn, seq))
    }

    /// The body of request number `seq` of connection `conn`.
    pub fn body_nth(&self, conn: usize, seq: u64) -> Bytes {
        match &self.body_fn {
            Some(f) => f(conn, seq),
            None => self.body.clone(),
        }
    }

    /// The request number `seq` of connection `conn`, with `body`.
    fn build_with(
        &self,
        conn: usize,
        seq: u64,
        body: Bytes,
    ) -> Result<hyper::Request<Full<Bytes>>> {
        let path = match &self.path_fn {
            Some(f) => f(conn, seq),
            None => self.path.clone(),
        };
        let mut req = hyper::Request::builder()
            .method(self.method.clone())
            .uri(path)
            .header(hyper::header::HOST, self.authority_of(conn));
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        Ok(req.body(Full::new(body))?)
    }
}

#[derive(Clone, Copy, Debug)]
pub struct LoadOptions {
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

/// What one fixed-duration run measured (only the part after warm-up).
#[derive(Clone, Debug, Serialize)]
pub struct LoadResult {
    pub requests: u64,
    /// Every accepted answer, the warm-up's and those after the window included:
    /// what the server acknowledged (for checks that count what it stored).
    pub acknowledged: u64,
    pub errors: u64,
    pub reconnects: u64,
    pub seconds: f64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// First failure seen, to say in the report why a run has errors.
    pub first_error: Option<String>,
}

struct ConnStats {
    hist: Histogram<u64>,
    ok: u64,
    acknowledged: u64,
    errors: u64,
    reconnects: u64,
    first_error: Option<String>,
}

/// Opens one keep-alive HTTP/1.1 connection with TCP_NODELAY.
pub async fn connect(authority: &str) -> Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(authority)
        .await
        .with_context(|| format!("connecting to {authority}"))?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Sends one request on `sender` and reads the whole answer.
pub async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    req: hyper::Request<Full<Bytes>>,
) -> Result<(u16, Bytes)> {
    let (status, _headers, body) = send_for_headers(sender, req).await?;
    Ok((status, body))
}

/// Like [`send`], keeping the answer's headers.
pub async fn send_for_headers(
    sender: &mut SendRequest<Full<Bytes>>,
    req: hyper::Request<Full<Bytes>>,
) -> Result<(u16, hyper::HeaderMap, Bytes)> {
    sender.ready().await?;
    let (parts, body) = sender.send_request(req).await?.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok((parts.status.as_u16(), parts.headers, body))
}

/// Runs the closed loop and merges every connection's histogram.
pub async fn run(spec: &RequestSpec, opts: LoadOptions) -> Result<LoadResult> {
    let spec = Arc::new(spec.clone());
    let start = Instant::now();
    let measure_from = start + opts.warmup;
    let end = measure_from + opts.duration;
    let mut tasks = Vec::with_capacity(opts.connections);
    for conn in 0..opts.connections {
        let spec = spec.clone();
        tasks.push(tokio::spawn(async move {
            connection_loop(&spec, conn, measure_from, end).await
        }));
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut ok, mut acknowledged, mut errors, mut reconnects, mut first_error) =
        (0, 0, 0, 0, None);
    for t in tasks {
        let s = t.await??;
        hist.add(&s.hist)?;
        ok += s.ok;
        acknowledged += s.acknowledged;
        errors += s.errors;
        reconnects += s.reconnects;
        if first_error.is_none() {
            first_error = s.first_error;
        }
    }
    let seconds = opts.duration.as_secs_f64();
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    Ok(LoadResult {
        requests: ok,
        acknowledged,
        errors,
        reconnects,
        seconds,
        rps: ok as f64 / seconds,
        p50_ms: ms(0.50),
        p90_ms: ms(0.90),
        p99_ms: ms(0.99),
        max_ms: hist.max() as f64 / 1000.0,
        first_error,
    })
}

async fn connection_loop(
    spec: &RequestSpec,
    conn_index: usize,
    measure_from: Instant,
    end: Instant,
) -> Result<ConnStats> {
    let mut stats = ConnStats {
        hist: Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?,
        ok: 0,
        acknowledged: 0,
        errors: 0,
        reconnects: 0,
        first_error: None,
    };
    let mut sender: Option<SendRequest<Full<Bytes>>> = None;
    let mut seq = 0u64;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let measuring = now >= measure_from;
        if sender.is_none() {
            match connect(spec.authority_of(conn_index)).await {
                Ok(s) => sender = Some(s),
                Err(e) => {
                    note_error(&mut stats, measuring, format!("{e:#}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let conn = sender.as_mut().expect("connected above");
        let sent = spec.body_nth(conn_index, seq);
        let req = spec.build_with(conn_index, seq, sent.clone())?;
        let t0 = Instant::now();
        let outcome = send(conn, req).await;
        seq += 1;
        let micros = t0.elapsed().as_micros().max(1) as u64;
        // Requests that finish after the end are not counted: the window is fixed.
        let done_in_window = measuring && Instant::now() <= end;
        match outcome {
            Ok((status, body)) => {
                if spec.answers(&sent, status, &body) {
                    stats.acknowledged += 1;
                    if done_in_window {
                        stats.ok += 1;
                        stats.hist.saturating_record(micros);
                    }
                } else {
                    let snippet =
                        String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                    let unexpected = if (200..300).contains(&status) {
                        " (unexpected body)"
                    } else {
                        ""
                    };
                    note_error(
                        &mut stats,
                        done_in_window,
                        format!("status {status}{unexpected}: {snippet}"),
                    );
                }
            }
            Err(e) => {
                // The server closed the connection (or it broke): open a new one.
                note_error(&mut stats, done_in_window, format!("{e:#}"));
                sender = None;
                if done_in_window {
                    stats.reconnects += 1;
                }
            }
        }
    }
    Ok(stats)
}

fn note_error(stats: &mut ConnStats, counted: bool, message: String) {
    if counted {
        stats.errors += 1;
    }
    if stats.first_error.is_none() {
        stats.first_error = Some(message);
    }
}

/// Sends `count` requests one after another on one connection and returns their latencies.
pub async fn sequential(spec: &RequestSpec, count: usize) -> Result<LoadResult> {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut sender = connect(&spec.authority).await?;
    let mut errors = 0;
    let mut first_error = None;
    let start = Instant::now();
    for seq in 0..count as u64 {
        let sent = spec.body_nth(0, seq);
        let req = spec.build_with(0, seq, sent.clone())?;
        let t0 = Instant::now();
        let (status, body) = send(&mut sender, req).await?;
        if spec.answers(&sent, status, &body) {
            hist.saturating_record(t0.elapsed().as_micros().max(1) as u64);
        } else {
            errors += 1;
            first_error.get_or_insert_with(|| {
                format!(
                    "status {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(200)])
                )
            });
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    Ok(LoadResult {
        requests: hist.len(),
        acknowledged: hist.len(),
        errors,
        reconnects: 0,
        seconds,
        rps: hist.len() as f64 / seconds,
        p50_ms: ms(0.50),
        p90_ms: ms(0.90),
        p99_ms: ms(0.99),
        max_ms: hist.max() as f64 / 1000.0,
        first_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_split_between_replicas_in_turn() {
        let one = RequestSpec::get("127.0.0.1:1", "/");
        assert_eq!(one.authority_of(3), "127.0.0.1:1");
        let two = one.spread_over(&["127.0.0.1:2".to_string()]);
        let served: Vec<&str> = (0..4).map(|c| two.authority_of(c)).collect();
        assert_eq!(
            served,
            ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:1", "127.0.0.1:2"]
        );
        let host = two.build_nth(1, 0).unwrap();
        assert_eq!(host.headers()[hyper::header::HOST], "127.0.0.1:2");
    }
}
