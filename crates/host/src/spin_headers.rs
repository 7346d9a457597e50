//! Spin's `spin-*` request headers, which tell a guest how its request was
//! routed, and the same for a chained request (`http://<id>.spin.internal`),
//! which Spin routes as if its component's route were `/...`.

use http::header::{HeaderName, HeaderValue};
use http::Request;

pub const SPIN_FULL_URL: HeaderName = HeaderName::from_static("spin-full-url");
pub const SPIN_PATH_INFO: HeaderName = HeaderName::from_static("spin-path-info");
pub const SPIN_MATCHED_ROUTE: HeaderName = HeaderName::from_static("spin-matched-route");
pub const SPIN_BASE_PATH: HeaderName = HeaderName::from_static("spin-base-path");
pub const SPIN_RAW_COMPONENT_ROUTE: HeaderName =
    HeaderName::from_static("spin-raw-component-route");
pub const SPIN_COMPONENT_ROUTE: HeaderName = HeaderName::from_static("spin-component-route");
pub const SPIN_CLIENT_ADDR: HeaderName = HeaderName::from_static("spin-client-addr");

/// Sets a `spin-*` header; a value that is not a valid header value is left out.
pub fn insert_header(headers: &mut http::HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// Sets a header by name; an invalid name or value is left out.
pub fn set_header(headers: &mut http::HeaderMap, name: &str, value: &str) {
    if let Ok(n) = HeaderName::from_bytes(name.as_bytes()) {
        insert_header(headers, n, value);
    }
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
