//! Responses the host makes itself: empty error responses as Spin sends them,
//! and small text bodies.

use bytes::Bytes;
use http::header::{HeaderValue, CONNECTION, CONTENT_TYPE};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

pub fn full_body(bytes: impl Into<Bytes>) -> HyperOutgoingBody {
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

/// An error response after which the connection is closed: the request's body
/// was not (all) read, so the connection cannot carry another request.
pub fn closing_response(status: u16) -> Response<HyperOutgoingBody> {
    let mut r = error_response(status);
    r.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    r
}

pub fn text_response(
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
