//! The HTTP trigger: hyper HTTP/1.1 with keep-alive and TCP_NODELAY, Spin's
//! routing, `spin-*` headers and well-known endpoints, body limits, access log
//! and graceful shutdown.

use crate::app::{App, InvokeError};
use crate::router::RouteTarget;
use anyhow::Result;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{Request, Response, StatusCode, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// How long in-flight requests may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// No access log.
    pub quiet: bool,
}

/// Accepts connections until `shutdown` resolves, then drains them.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let local = listener.local_addr()?;
    print_ready(&app, local);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.keep_alive(true).max_buf_size(1 << 20);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    eprintln!("spinflow: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Without it, a keep-alive client's next request waits for the delayed ACK (~40 ms).
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let quiet = options.quiet;
        let service = hyper::service::service_fn(move |req| {
            let app = app.clone();
            async move { Ok::<_, std::convert::Infallible>(handle(&app, req, peer, local, quiet).await) }
        });
        let conn = http.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // Client resets and timeouts are routine for a server: nothing to report.
            let _ = conn.await;
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

/// Serves one request from the network.
async fn handle(
    app: &Arc<App>,
    req: Request<Incoming>,
    peer: SocketAddr,
    local: SocketAddr,
    quiet: bool,
) -> Response<HyperOutgoingBody> {
    if quiet {
        return route_and_invoke(app, req, peer, local).await.0;
    }
    let started = Instant::now();
    let method = req.method().clone();
    let uri = req.uri().clone();
    let (response, component) = route_and_invoke(app, req, peer, local).await;
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
    mut req: Request<Incoming>,
    peer: SocketAddr,
    local: SocketAddr,
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
    if content_length(&req).is_some_and(|n| n > limit) {
        return (error_response(413), Some(component.id.clone()));
    }
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| local.to_string());
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
    insert_header(
        headers,
        SPIN_MATCHED_ROUTE,
        &matched.entry.pattern.display(),
    );
    headers.insert(SPIN_BASE_PATH, HeaderValue::from_static("/"));
    insert_header(headers, SPIN_RAW_COMPONENT_ROUTE, &matched.entry.raw);
    insert_header(
        headers,
        SPIN_COMPONENT_ROUTE,
        &matched.entry.pattern.prefix_display(),
    );
    insert_header(headers, SPIN_CLIENT_ADDR, &peer.to_string());
    for (name, value) in &matched.captures {
        set_header(
            headers,
            &format!("spin-path-match-{}", name.to_ascii_lowercase()),
            value,
        );
    }
    // The guest sees an absolute URI: scheme, authority from Host, full path and query.
    parts.uri = Uri::builder()
        .scheme("http")
        .authority(host.as_str())
        .path_and_query(path_and_query.as_str())
        .build()
        .unwrap_or(parts.uri);
    let exceeded = Arc::new(AtomicBool::new(false));
    let body = LimitedBody {
        inner: body,
        remaining: limit,
        limit,
        exceeded: exceeded.clone(),
    };
    let permit = app.request_permit().await;
    let result = app
        .invoke(&component, Request::from_parts(parts, body), Some(permit))
        .await;
    let response = match result {
        // A guest that read past the limit gets its answer replaced, whatever it was.
        _ if exceeded.load(Ordering::Relaxed) => error_response(413),
        Ok(response) => response,
        Err(InvokeError::BodyTooLarge) => error_response(413),
        Err(e) => {
            log_invoke_error(&component.id, &e);
            error_response(500)
        }
    };
    (response, Some(component.id.clone()))
}

const SPIN_FULL_URL: HeaderName = HeaderName::from_static("spin-full-url");
const SPIN_PATH_INFO: HeaderName = HeaderName::from_static("spin-path-info");
const SPIN_MATCHED_ROUTE: HeaderName = HeaderName::from_static("spin-matched-route");
const SPIN_BASE_PATH: HeaderName = HeaderName::from_static("spin-base-path");
const SPIN_RAW_COMPONENT_ROUTE: HeaderName = HeaderName::from_static("spin-raw-component-route");
const SPIN_COMPONENT_ROUTE: HeaderName = HeaderName::from_static("spin-component-route");
const SPIN_CLIENT_ADDR: HeaderName = HeaderName::from_static("spin-client-addr");

/// Sets a `spin-*` header; a value that is not a valid header value is left out.
fn insert_header(headers: &mut http::HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

fn set_header(headers: &mut http::HeaderMap, name: &str, value: &str) {
    if let Ok(n) = HeaderName::from_bytes(name.as_bytes()) {
        insert_header(headers, n, value);
    }
}

fn is_internal_host(host: &str) -> bool {
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    host.ends_with(crate::outbound_http::CHAINING_SUFFIX)
}

fn content_length<B>(req: &Request<B>) -> Option<u64> {
    req.headers()
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Adjusts a chained request as Spin does: routed as `/...`, client `0.0.0.0:0`.
pub fn prepare_chained_request(
    mut request: Request<wasmtime_wasi_http::WasiBody>,
) -> Request<wasmtime_wasi_http::WasiBody> {
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let path = request.uri().path().to_string();
    let authority = request
        .uri()
        .authority()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let headers = request.headers_mut();
    for (name, value) in [
        (
            "spin-full-url",
            format!("http://{authority}{path_and_query}"),
        ),
        ("spin-path-info", path),
        ("spin-matched-route", "/...".to_string()),
        ("spin-base-path", "/".to_string()),
        ("spin-raw-component-route", "/...".to_string()),
        ("spin-component-route", String::new()),
        ("spin-client-addr", "0.0.0.0:0".to_string()),
    ] {
        set_header(headers, name, &value);
    }
    request
}

pub fn log_invoke_error(component: &str, error: &InvokeError) {
    match error {
        InvokeError::Guest(msg) => eprintln!("[{component}] request failed: {msg}"),
        InvokeError::Timeout => eprintln!("[{component}] request timed out"),
        InvokeError::BodyTooLarge => eprintln!("[{component}] request body too large"),
    }
}

fn full_body(bytes: impl Into<Bytes>) -> HyperOutgoingBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A bodiless response, as Spin sends for 404/500.
pub fn error_response(status: u16) -> Response<HyperOutgoingBody> {
    let mut r = Response::new(full_body(Bytes::new()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r
}

fn text_response(
    status: StatusCode,
    content_type: &str,
    body: String,
) -> Response<HyperOutgoingBody> {
    let mut r = Response::new(full_body(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_str(content_type).expect("static value"),
    );
    r
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

/// The incoming body, cut off with an error (and a flag) past `limit` bytes.
struct LimitedBody {
    inner: Incoming,
    remaining: u64,
    limit: u64,
    exceeded: Arc<AtomicBool>,
}

impl Body for LimitedBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    if len > this.remaining {
                        this.exceeded.store(true, Ordering::Relaxed);
                        return Poll::Ready(Some(Err(
                            wasmtime_wasi_http::Error::HttpRequestBodySize(Some(this.limit)),
                        )));
                    }
                    this.remaining -= len;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                Poll::Ready(Some(Err(wasmtime_wasi_http::Error::Hyper(e))))
            }
            other => other.map(|_| None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
