//! A WASIp3 component that says how many requests its instance has served, so
//! tests can see whether and when the host reuses instances. `POST` answers
//! the body's length too; `/spin` never returns (for request timeouts).

use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{IntoResponse, Request, StatusCode};
use spin_sdk::http_service;
use std::sync::atomic::{AtomicU64, Ordering};

/// Lives as long as the instance: a fresh instance starts at zero.
static SERVED: AtomicU64 = AtomicU64::new(0);

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    let served = SERVED.fetch_add(1, Ordering::Relaxed) + 1;
    let path = req.uri().path().to_string();
    if path == "/spin" {
        spin_forever();
    }
    let body_bytes = match req.into_body().bytes().await {
        Ok(body) => body.len(),
        Err(e) => return (StatusCode::BAD_REQUEST, format!("body: {e:?}")),
    };
    (
        StatusCode::OK,
        format!("{{\"served\":{served},\"path\":\"{path}\",\"body_bytes\":{body_bytes}}}"),
    )
}

fn spin_forever() -> ! {
    let mut n = 0u64;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}
