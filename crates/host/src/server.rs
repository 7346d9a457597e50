//! The HTTP trigger: hyper HTTP/1.1 with keep-alive and TCP_NODELAY, Spin's
//! routing, `spin-*` headers and well-known endpoints, body limits, access log
//! and graceful shutdown; connection limits and deadlines (`connections`), and
//! request bodies received before an instance slot is taken (`request_body`).

use crate::app::{App, InvokeError};
use crate::connections::{self, Activity, ConnectionTimeouts, Exchange, ExchangeBody, WatchedIo};
use crate::outbound_http::CHAINING_SUFFIX;
use crate::request_body::{
    receive_body, BodyPolicy, LimitedBody, BODY_OK, BODY_TIMED_OUT, BODY_TOO_LARGE,
};
use crate::responses::{closing_response, error_response, full_body, text_response};
use crate::router::RouteTarget;
use crate::spin_headers::{
    insert_header, set_header, SPIN_BASE_PATH, SPIN_CLIENT_ADDR, SPIN_COMPONENT_ROUTE,
    SPIN_FULL_URL, SPIN_MATCHED_ROUTE, SPIN_PATH_INFO, SPIN_RAW_COMPONENT_ROUTE,
};
use anyhow::Result;
use http::header::{HeaderValue, CONTENT_LENGTH, HOST};
use http::{Request, Response, StatusCode, Uri};
use http_body::Body as _;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// How long in-flight requests may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// `--header-read-timeout`: a new connection's first request headers, or a
/// later request's headers from its first byte.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// `--keep-alive-timeout`: longer than the 60 s for which proxies (nginx's
/// `keepalive_timeout` upstream, ingress-nginx) keep idle upstream connections,
/// so that the host is not the side that closes a connection a proxy reuses.
pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(75);
/// `--body-idle-timeout`: a request body that stops arriving this long gets 408.
pub const DEFAULT_BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// `--send-timeout`: a client that takes none of its answer this long is dropped.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// `--body-buffer-size`: bodies up to this size are received before the
/// request takes an instance slot.
pub const DEFAULT_BODY_BUFFER_SIZE: u64 = 1 << 20;
/// Shown at most once per this period: the connection cap, accept errors.
const WARNING_PERIOD: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// No access log.
    pub quiet: bool,
    /// See [`DEFAULT_HEADER_READ_TIMEOUT`]; `None`: no limit.
    pub header_read_timeout: Option<Duration>,
    /// See [`DEFAULT_KEEP_ALIVE_TIMEOUT`]; `None`: no limit.
    pub keep_alive_timeout: Option<Duration>,
    /// See [`DEFAULT_BODY_IDLE_TIMEOUT`]; `None`: no limit.
    pub body_idle_timeout: Option<Duration>,
    /// See [`DEFAULT_SEND_TIMEOUT`]; `None`: no limit.
    pub send_timeout: Option<Duration>,
    /// See [`DEFAULT_BODY_BUFFER_SIZE`]; 0: every body is streamed.
    pub body_buffer_size: u64,
    /// Connections open at once; `None`: [`connections::default_max_connections`].
    pub max_connections: Option<usize>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            quiet: false,
            header_read_timeout: Some(DEFAULT_HEADER_READ_TIMEOUT),
            keep_alive_timeout: Some(DEFAULT_KEEP_ALIVE_TIMEOUT),
            body_idle_timeout: Some(DEFAULT_BODY_IDLE_TIMEOUT),
            send_timeout: Some(DEFAULT_SEND_TIMEOUT),
            body_buffer_size: DEFAULT_BODY_BUFFER_SIZE,
            max_connections: None,
        }
    }
}

/// A warning shown at most once per [`WARNING_PERIOD`].
#[derive(Default)]
struct Throttled(Option<Instant>);

impl Throttled {
    fn due(&mut self) -> bool {
        let due = self.0.is_none_or(|t| t.elapsed() >= WARNING_PERIOD);
        if due {
            self.0 = Some(Instant::now());
        }
        due
    }
}

/// Accepts connections until `shutdown` resolves, then drains them.
///
/// At most `max_connections` are open at once: at the cap the loop stops
/// accepting, so new connections wait in the kernel's listen backlog (as with
/// nginx's `worker_connections`) until one closes, which the connection
/// deadlines guarantee for silent and idle ones.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let local = listener.local_addr()?;
    let max_connections = options
        .max_connections
        .unwrap_or_else(connections::default_max_connections)
        .clamp(1, Semaphore::MAX_PERMITS);
    print_ready(&app, local);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.keep_alive(true)
        .max_buf_size(1 << 20)
        // A client that shuts down its sending side after its request still gets the answer.
        .half_close(true)
        // The header and keep-alive deadlines are `connections::watchdog`'s (see there why).
        .header_read_timeout(None);
    let timeouts = ConnectionTimeouts {
        header_read: options.header_read_timeout,
        keep_alive: options.keep_alive_timeout,
    };
    let bodies = Arc::new(BodyPolicy::new(
        options.body_buffer_size,
        options.body_idle_timeout,
    ));
    let slots = Arc::new(Semaphore::new(max_connections));
    let (mut cap_warning, mut accept_warning) = (Throttled::default(), Throttled::default());
    tokio::pin!(shutdown);
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if cap_warning.due() {
                    eprintln!(
                        "spinflow: {max_connections} connections open (--max-connections); \
                         new connections wait until one closes"
                    );
                }
                tokio::select! {
                    slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                    _ = &mut shutdown => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning, and keep serving.
                    if accept_warning.due() {
                        eprintln!("spinflow: accept failed: {e} (retrying)");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Without it, a keep-alive client's next request waits for the delayed ACK (~40 ms).
        let _ = stream.set_nodelay(true);
        let activity = Activity::new();
        let io = TokioIo::new(WatchedIo::new(
            stream,
            activity.clone(),
            options.send_timeout,
        ));
        // `spin-client-addr` is the same for every request of the connection.
        let client_addr = HeaderValue::from_str(&peer.to_string()).ok();
        let service = {
            let (app, bodies, activity) = (app.clone(), bodies.clone(), activity.clone());
            let quiet = options.quiet;
            hyper::service::service_fn(move |req| {
                let exchange = Exchange::begin(&activity);
                let app = app.clone();
                let bodies = bodies.clone();
                let client_addr = client_addr.clone();
                async move {
                    let client = Client {
                        addr: client_addr,
                        local,
                    };
                    let response = handle(&app, &bodies, req, &client, quiet).await;
                    Ok::<_, std::convert::Infallible>(
                        response.map(|body| ExchangeBody::new(body, exchange)),
                    )
                }
            })
        };
        let conn = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            let _slot = slot;
            tokio::select! {
                // Client resets and timeouts are routine for a server: nothing to report.
                _ = conn => {}
                // A deadline passed with no request in progress: dropping the
                // connection closes it.
                () = connections::watchdog(&activity, timeouts) => {}
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!("spinflow: gave up waiting for open connections after {SHUTDOWN_GRACE:?}");
    }
    crate::access_log::flush();
    Ok(())
}

fn print_ready(app: &App, local: SocketAddr) {
    let mut lines = vec![
        format!("Serving http://{local}"),
        "Available Routes:".to_string(),
    ];
    for entry in app.router.entries() {
        let name = match &entry.target {
            RouteTarget::Component(id) => id.clone(),
            RouteTarget::Static(_) => "(static response)".to_string(),
        };
        let wildcard = if entry.raw.trim_end().ends_with("...") || entry.raw.ends_with("/*") {
            " (wildcard)"
        } else {
            ""
        };
        lines.push(format!(
            "  {name}: http://{local}{}{wildcard}",
            entry.pattern.prefix_display()
        ));
    }
    println!("{}", lines.join("\n"));
}

/// The connection a request came on.
struct Client {
    /// `spin-client-addr`: the peer's address.
    addr: Option<HeaderValue>,
    /// The address the request came to, the authority when it has no `Host`.
    local: SocketAddr,
}

/// Serves one request from the network.
async fn handle(
    app: &Arc<App>,
    bodies: &BodyPolicy,
    req: Request<Incoming>,
    client: &Client,
    quiet: bool,
) -> Response<HyperOutgoingBody> {
    if quiet {
        return route_and_invoke(app, bodies, req, client).await.0;
    }
    let started = Instant::now();
    let method = req.method().clone();
    let uri = req.uri().clone();
    let (response, component) = route_and_invoke(app, bodies, req, client).await;
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let status = response.status().as_u16();
    match component {
        Some(c) => crate::access_log::line(format_args!(
            "{method} {path_and_query} {status} {elapsed_ms:.2}ms {c}"
        )),
        None => crate::access_log::line(format_args!(
            "{method} {path_and_query} {status} {elapsed_ms:.2}ms"
        )),
    }
    response
}

async fn route_and_invoke(
    app: &Arc<App>,
    bodies: &BodyPolicy,
    mut req: Request<Incoming>,
    client: &Client,
) -> (Response<HyperOutgoingBody>, Option<Arc<str>>) {
    // A client must not be able to pose as a chained request.
    if req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(is_internal_host)
    {
        req.headers_mut().remove(HOST);
    }
    let path = req.uri().path().to_string();
    if let Some(rest) = path.strip_prefix("/.well-known/spin/") {
        return (well_known(app, rest), None);
    }
    let Some(matched) = app.router.route(&path) else {
        return (error_response(404), None);
    };
    let component_id = match &matched.entry.target {
        RouteTarget::Static(r) => return (static_response(r), None),
        RouteTarget::Component(id) => id.clone(),
    };
    let Some(component) = app.component(&component_id).cloned() else {
        return (error_response(404), None);
    };
    let limit = component.max_request_body_bytes;
    if content_length(req.headers()).is_some_and(|n| n > limit) {
        return (error_response(413), Some(component.id.clone()));
    }
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| client.local.to_string());
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| path.clone());
    let (mut parts, body) = req.into_parts();
    let headers = &mut parts.headers;
    insert_header(
        headers,
        SPIN_FULL_URL,
        &format!("http://{host}{path_and_query}"),
    );
    insert_header(headers, SPIN_PATH_INFO, &matched.path_info);
    let route = &matched.entry.headers;
    for (name, value) in [
        (SPIN_MATCHED_ROUTE, &route.matched_route),
        (SPIN_BASE_PATH, &Some(HeaderValue::from_static("/"))),
        (SPIN_RAW_COMPONENT_ROUTE, &route.raw_component_route),
        (SPIN_COMPONENT_ROUTE, &route.component_route),
        (SPIN_CLIENT_ADDR, &client.addr),
    ] {
        if let Some(value) = value {
            headers.insert(name, value.clone());
        }
    }
    for (name, value) in &matched.captures {
        set_header(headers, &path_match_header(name), value);
    }
    // The guest sees an absolute URI: scheme, authority from Host, full path and query.
    parts.uri = Uri::builder()
        .scheme("http")
        .authority(host.as_str())
        .path_and_query(path_and_query.as_str())
        .build()
        .unwrap_or(parts.uri);
    let fault = Arc::new(AtomicU8::new(BODY_OK));
    let body = LimitedBody::new(body, limit, fault.clone());
    let declared = content_length(&parts.headers);
    // A client that trickles a small body byte by byte gets the request timeout
    // in all. A body that has already ended (a GET's) has nothing to wait for:
    // no timer for it.
    let received = match app.request_timeout {
        Some(timeout) if !body.is_end_stream() => {
            tokio::time::timeout(timeout, receive_body(body, bodies, declared))
                .await
                .unwrap_or(Err(408))
        }
        _ => receive_body(body, bodies, declared).await,
    };
    let mut body = match received {
        Ok(body) => body,
        Err(status) => return (closing_response(status), Some(component.id.clone())),
    };
    bodies.hold_streaming_slot(&mut body).await;
    let permit = app.request_permit().await;
    let result = app
        .invoke(&component, Request::from_parts(parts, body), Some(permit))
        .await;
    let response = match (fault.load(Ordering::Relaxed), result) {
        // A guest that read past the limit gets its answer replaced, whatever it was.
        (BODY_TOO_LARGE, _) | (_, Err(InvokeError::BodyTooLarge)) => error_response(413),
        // So does one whose client stopped sending the body (the guest's read failed).
        (BODY_TIMED_OUT, _) => closing_response(408),
        (_, Ok(response)) => response,
        (_, Err(e)) => {
            e.log(&component.id);
            error_response(500)
        }
    };
    (response, Some(component.id.clone()))
}

fn is_internal_host(host: &str) -> bool {
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    host.ends_with(CHAINING_SUFFIX)
}

fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

fn well_known(app: &App, rest: &str) -> Response<HyperOutgoingBody> {
    match rest {
        "health" => text_response(StatusCode::OK, "text/plain", "OK".into()),
        "info" => {
            let info = serde_json::json!({
                "name": app.name,
                "version": app.version,
                "bindleVersion": serde_json::Value::Null,
                "host": "spinflow",
                "hostVersion": env!("CARGO_PKG_VERSION"),
            });
            text_response(StatusCode::OK, "application/json", info.to_string())
        }
        _ => error_response(404),
    }
}

fn static_response(r: &crate::manifest::StaticResponse) -> Response<HyperOutgoingBody> {
    let mut response = Response::new(full_body(r.body.clone().unwrap_or_default()));
    *response.status_mut() =
        StatusCode::from_u16(r.status_code.unwrap_or(200)).unwrap_or(StatusCode::OK);
    for (k, v) in &r.headers {
        set_header(response.headers_mut(), k, v);
    }
    response
}

/// The header that carries route parameter `name`: Spin lowercases the name and writes
/// `_` as `-` (`:path_segment` -> `spin-path-match-path-segment`).
fn path_match_header(name: &str) -> String {
    format!(
        "spin-path-match-{}",
        name.to_ascii_lowercase().replace('_', "-")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_parameter_headers_are_named_as_spin_names_them() {
        assert_eq!(path_match_header("id"), "spin-path-match-id");
        assert_eq!(
            path_match_header("Path_Segment"),
            "spin-path-match-path-segment"
        );
    }
}
