//! iris-api: Iris predictions through tract as a Spin HTTP component.
//!
//! `lib.rs` is the Spin glue (reading the request, variables, key-value, outbound
//! HTTP, writing the answer and the metrics); the logic lives in plain modules that
//! are unit-tested natively.

pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod input;
pub mod kv;
pub mod metrics;
pub mod model;
pub mod oip;
pub mod predict_answer;
pub mod preload;
pub mod registry;
pub mod scoring;
pub mod serving;

use app::{Env, Outcome, Route};
use error::ApiError;
use futures::StreamExt;
use registry::{HttpClient, HttpResponse};
use spin_sdk::http::{Fields, IncomingRequest, Method, Request, Response};
#[cfg(target_arch = "wasm32")]
use spin_sdk::http_component;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The `wizer-initialize` export that `spinflow preinit` calls at build time (see
/// [`preload`]). It stays exported; calling it again finds the model loaded.
#[cfg(target_arch = "wasm32")]
mod preinit {
    spin_sdk::wit_bindgen::generate!({
        inline: "package spinflow:iris-api;
                 world preinit { export wizer-initialize: func(); }",
        runtime_path: "spin_sdk::wit_bindgen::rt",
    });

    struct Preinit;

    impl Guest for Preinit {
        fn wizer_initialize() {
            // A model that does not load here fails the build, not a request.
            if let Err(e) = crate::preload::preload() {
                panic!("the embedded model does not load: {e}");
            }
        }
    }

    export!(Preinit);
}

/// Outbound HTTP through Spin (`allowed_outbound_hosts` applies).
struct SpinHttp;

impl HttpClient for SpinHttp {
    async fn get(&self, url: &str) -> Result<HttpResponse, String> {
        send(Request::get(url).build()).await
    }

    async fn post_json(&self, url: &str, body: &serde_json::Value) -> Result<HttpResponse, String> {
        send(
            Request::post(url, body.to_string())
                .header("content-type", "application/json")
                .build(),
        )
        .await
    }
}

async fn send(request: Request) -> Result<HttpResponse, String> {
    let response: Response = spin_sdk::http::send(request)
        .await
        .map_err(|e| e.to_string())?;
    Ok(HttpResponse {
        status: *response.status(),
        body: response.into_body(),
    })
}

fn header(headers: &Fields, name: &str) -> Option<String> {
    headers
        .get(name)
        .into_iter()
        .next()
        .map(|v| String::from_utf8_lossy(&v).into_owned())
}

/// Reads the body, refusing it (413) as soon as it exceeds `limit`.
async fn read_body(req: IncomingRequest, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut stream = req.into_body_stream();
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("could not read the body: {e:?}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        body.extend(chunk);
    }
    Ok(body)
}

fn method_name(m: &Method) -> String {
    m.to_string()
}

// The export exists only in the wasm build: natively (unit tests) a cdylib cannot
// carry WIT export names such as `wasi:http/incoming-handler@0.2.0#handle`.
#[cfg_attr(target_arch = "wasm32", http_component)]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
async fn handle(req: IncomingRequest) -> Response {
    let start = Instant::now();
    let method = method_name(&req.method());
    let path_and_query = req.path_with_query().unwrap_or_default();
    let path = path_and_query.split('?').next().unwrap_or("/").to_string();
    let route = Route::of(&path);
    let store = kv::SpinStore::open("default");

    let outcome = answer(req, &route, &method, &path, store.as_ref().ok()).await;
    let outcome = outcome.unwrap_or_else(|e| Outcome::from_error(&e));

    let mut outcome = outcome;
    let metrics_start = Instant::now();
    if let Ok(store) = &store {
        let record = metrics::RequestRecord {
            route: route.label(),
            method: &method,
            status: outcome.status,
            duration: start.elapsed(),
            predicted: &outcome.predicted,
            error: outcome.error,
        };
        if let Err(e) = metrics::record(store, &record) {
            eprintln!("iris-api: metrics not recorded: {e}");
        }
    }
    // Where the rest of the time goes: writing the counters, and the whole handler.
    let metrics_ms = metrics_start.elapsed().as_secs_f64() * 1e3;
    let total_ms = start.elapsed().as_secs_f64() * 1e3;
    for (name, value) in outcome.headers.iter_mut() {
        if *name == "server-timing" {
            value.push_str(&format!(
                ", metrics;dur={metrics_ms:.3}, handler;dur={total_ms:.3}"
            ));
        }
    }
    let mut response = Response::builder();
    response
        .status(outcome.status)
        .header("content-type", outcome.content_type);
    for (name, value) in outcome.headers {
        response.header(name, value);
    }
    response.body(outcome.body).build()
}

async fn answer(
    req: IncomingRequest,
    route: &Route,
    method: &str,
    path: &str,
    store: Option<&kv::SpinStore>,
) -> Result<Outcome, ApiError> {
    let settings = config::Settings::from_lookup(|name| spin_sdk::variables::get(name).ok())
        .map_err(|e| ApiError::internal(format!("configuration: {e}")))?;
    if *route == Route::NotFound {
        return Err(ApiError::not_found(format!("no route {path}")));
    }
    let allowed = route.method();
    if method != allowed && !(allowed == "GET" && method == "HEAD") {
        return Err(ApiError::method_not_allowed(allowed));
    }
    // One handle on the headers: each `headers()` is a host call and a new resource.
    let headers = req.headers();
    if !settings.is_open(path) {
        let x_api_key = header(&headers, "x-api-key");
        let authorization = header(&headers, "authorization");
        auth::check(
            &settings.api_keys,
            auth::presented_key(x_api_key.as_deref(), authorization.as_deref()),
        )?;
    }
    let content_type = header(&headers, "content-type");
    let body = if route.has_body() {
        let declared =
            header(&headers, "content-length").and_then(|v| v.trim().parse::<usize>().ok());
        if declared.is_some_and(|n| n > settings.max_body_bytes) {
            return Err(ApiError::payload_too_large(settings.max_body_bytes));
        }
        drop(headers);
        read_body(req, settings.max_body_bytes).await?
    } else {
        Vec::new()
    };
    let store = store
        .ok_or_else(|| ApiError::internal("the key-value store \"default\" is not available"))?;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let env = Env {
        settings: &settings,
        store,
        http: &SpinHttp,
        now_ms,
    };
    env.respond(route, content_type.as_deref(), &body).await
}
