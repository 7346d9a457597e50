//! [`ObjectHttp`] over Spin's outbound HTTP (`wasi:http/outgoing-handler`, through
//! spin-sdk's bindings): the request body streams out through the request's output
//! stream, and the answer's body is read from its input stream as it arrives.
//!
//! `spin_sdk::http::send` takes no request options, so the request goes to
//! `outgoing-handler.handle` itself, with a connect timeout; and every wait (for room
//! to write, for the answer's head, for the next bytes of its body) is bounded by a
//! monotonic-clock timer polled beside it, so an endpoint that accepts and then goes
//! silent costs [`IDLE_TIMEOUT`], on any runtime, never a hung request.

use super::transport::{HttpReply, ObjectHttp, ReplyBody};
use crate::error::ObjectStoreError;
use spin_sdk::wit::wasi::http0_2_0::outgoing_handler;
use spin_sdk::wit::wasi::http0_2_0::types::{
    ErrorCode, Fields, IncomingBody, IncomingResponse, Method, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use url::Url;
use wasi::clocks::monotonic_clock;
use wasi::io::poll::{poll, Pollable};
use wasi::io::streams::{InputStream, StreamError};

/// The longest wait for a connection.
const CONNECT_TIMEOUT_NS: u64 = 10_000_000_000;
/// The longest wait without progress: room to write, the answer's head, more body.
const IDLE_TIMEOUT_NS: u64 = 30_000_000_000;
const IDLE_TIMEOUT_TEXT: &str = "no progress for 30 s";

/// Sends through the component's outbound HTTP.
pub struct WasiHttp;

/// Waits until `p` is ready, or fails after [`IDLE_TIMEOUT_NS`].
fn wait(p: &Pollable) -> Result<(), ObjectStoreError> {
    let timer = monotonic_clock::subscribe_duration(IDLE_TIMEOUT_NS);
    if poll(&[p, &timer]).contains(&0) {
        Ok(())
    } else {
        Err(ObjectStoreError::Unreachable(IDLE_TIMEOUT_TEXT.into()))
    }
}

fn method(m: rusty_s3::Method) -> Method {
    match m {
        rusty_s3::Method::Head => Method::Head,
        rusty_s3::Method::Get => Method::Get,
        rusty_s3::Method::Post => Method::Post,
        rusty_s3::Method::Put => Method::Put,
        rusty_s3::Method::Delete => Method::Delete,
    }
}

fn transport_error(e: ErrorCode) -> ObjectStoreError {
    match e {
        ErrorCode::HttpRequestDenied => ObjectStoreError::Denied(
            "the runtime denied the request: s3_endpoint_url must be in mlflow-server's \
             allowed_outbound_hosts"
                .into(),
        ),
        other => ObjectStoreError::Unreachable(format!("{other:?}")),
    }
}

fn request(
    m: rusty_s3::Method,
    url: &Url,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<OutgoingRequest, ObjectStoreError> {
    let mut list: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect();
    let has_body = !body.is_empty() || matches!(m, rusty_s3::Method::Put | rusty_s3::Method::Post);
    if has_body {
        list.push(("content-length".into(), body.len().to_string().into_bytes()));
    }
    let fields = Fields::from_list(&list)
        .map_err(|e| ObjectStoreError::Malformed(format!("request headers: {e:?}")))?;
    let req = OutgoingRequest::new(fields);
    let scheme = match url.scheme() {
        "https" => Scheme::Https,
        _ => Scheme::Http,
    };
    let authority = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let bad = |what: &str| ObjectStoreError::Malformed(format!("request {what} refused"));
    req.set_method(&method(m)).map_err(|()| bad("method"))?;
    req.set_scheme(Some(&scheme)).map_err(|()| bad("scheme"))?;
    req.set_authority(Some(&authority))
        .map_err(|()| bad("authority"))?;
    req.set_path_with_query(Some(&path))
        .map_err(|()| bad("path"))?;
    Ok(req)
}

/// Writes `body` to the request's body stream, waiting for room as the host sends it.
fn write_body(out: OutgoingBody, body: &[u8]) -> Result<(), ObjectStoreError> {
    let stream = out
        .write()
        .map_err(|()| ObjectStoreError::Malformed("request body taken twice".into()))?;
    let lost = |e: StreamError| ObjectStoreError::Unreachable(format!("sending: {e:?}"));
    let mut rest = body;
    while !rest.is_empty() {
        let room = stream.check_write().map_err(lost)?;
        if room == 0 {
            wait(&stream.subscribe())?;
            continue;
        }
        let n = usize::try_from(room).unwrap_or(usize::MAX).min(rest.len());
        stream.write(&rest[..n]).map_err(lost)?;
        rest = &rest[n..];
    }
    stream.flush().map_err(lost)?;
    // The flush is done once the stream has room again.
    while stream.check_write().map_err(lost)? == 0 {
        wait(&stream.subscribe())?;
    }
    drop(stream);
    OutgoingBody::finish(out, None).map_err(transport_error)
}

impl ObjectHttp for WasiHttp {
    fn send(
        &self,
        m: rusty_s3::Method,
        url: &Url,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<HttpReply, ObjectStoreError> {
        let req = request(m, url, headers, body)?;
        let out = if matches!(m, rusty_s3::Method::Put | rusty_s3::Method::Post) || !body.is_empty()
        {
            Some(
                req.body()
                    .map_err(|()| ObjectStoreError::Malformed("request body taken".into()))?,
            )
        } else {
            None
        };
        let options = RequestOptions::new();
        // A runtime that cannot set it keeps its own default; the waits below still bound.
        let _ = options.set_connect_timeout(Some(CONNECT_TIMEOUT_NS));
        let pending = outgoing_handler::handle(req, Some(options)).map_err(transport_error)?;
        // A failed write (the connection refused or lost) is reported by the answer,
        // which says why; only a timeout ends here.
        if let Some(out) = out {
            if let Err(e) = write_body(out, body) {
                if matches!(&e, ObjectStoreError::Unreachable(t) if t == IDLE_TIMEOUT_TEXT) {
                    return Err(e);
                }
            }
        }
        let response = loop {
            match pending.get() {
                Some(Ok(Ok(response))) => break response,
                Some(Ok(Err(e))) => return Err(transport_error(e)),
                Some(Err(())) => {
                    return Err(ObjectStoreError::Malformed("answer taken twice".into()))
                }
                None => wait(&pending.subscribe())?,
            }
        };
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(k, v)| {
                (
                    k.to_ascii_lowercase(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect();
        let body = response
            .consume()
            .map_err(|()| ObjectStoreError::Malformed("answer body taken".into()))?;
        let stream = body
            .stream()
            .map_err(|()| ObjectStoreError::Malformed("answer body stream taken".into()))?;
        Ok(HttpReply {
            status,
            headers,
            body: Box::new(WasiBody {
                stream: Some(stream),
                _body: body,
                _response: response,
            }),
        })
    }
}

/// An answer's body (fields drop in order: the stream before the body that owns it).
struct WasiBody {
    /// `None` once the body has ended.
    stream: Option<InputStream>,
    _body: IncomingBody,
    _response: IncomingResponse,
}

impl ReplyBody for WasiBody {
    fn read(&mut self, max: usize) -> Result<Option<Vec<u8>>, ObjectStoreError> {
        let Some(stream) = &self.stream else {
            return Ok(None);
        };
        loop {
            match stream.read(max as u64) {
                Ok(bytes) if bytes.is_empty() => wait(&stream.subscribe())?,
                Ok(bytes) => return Ok(Some(bytes)),
                Err(StreamError::Closed) => {
                    self.stream = None;
                    return Ok(None);
                }
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(ObjectStoreError::Unreachable(format!(
                        "receiving: {}",
                        e.to_debug_string()
                    )))
                }
            }
        }
    }
}
