//! iris-api: Iris predictions through tract as a Spin HTTP component.
//!
//! `lib.rs` serves one request whichever `wasi:http` version brought it (variables,
//! key-value, metrics); `wasip2.rs` is the WASIp2 export and outbound HTTP (this
//! crate's component), and the `iris-api-p3` crate is the WASIp3 one. The logic
//! lives in plain modules that are unit-tested natively.

pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod input;
pub mod json_body;
pub mod kv;
pub mod metrics;
pub mod model;
pub mod oip;
pub mod oip_datatype;
#[cfg(test)]
mod parser_properties;
pub mod predict_answer;
pub mod preload;
pub mod scoring;
pub mod serving;
#[cfg(feature = "wasip2")]
mod wasip2;

use app::{Env, Outcome, Route};
use error::ApiError;
use mlflow_client::HttpClient;
use std::future::Future;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The `wizer-initialize` export that `spinflow preinit` calls at build time (see
/// [`preload`]). It stays exported; calling it again finds the models loaded.
#[cfg(target_arch = "wasm32")]
mod preinit {
    use base64::Engine as _;

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
            // `spinflow preinit --model` passes the model to bake as a build-time
            // variable (a host call: nothing of it is cached in the snapshot).
            if let Ok(encoded) = spin_sdk::variables::get("bake_model") {
                if let Err(e) = bake(&encoded) {
                    panic!("the model to bake cannot be served: {e}");
                }
            }
        }
    }

    fn bake(encoded: &str) -> Result<(), String> {
        if crate::preload::baked().is_some() {
            return Ok(());
        }
        let onnx = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|e| format!("not base64: {e}"))?;
        let prepared = crate::model::prepare(&onnx)?;
        crate::preload::bake(&prepared).map_err(|e| format!("{e:#}"))
    }

    export!(Preinit);
}

/// What the handler reads from a request's head, whichever `wasi:http` version
/// brought it.
pub struct RequestHead {
    pub method: String,
    pub path_and_query: String,
    pub x_api_key: Option<String>,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub content_length: Option<String>,
}

/// Serves one request: `read_body(limit)` reads the body, refusing it (413) past
/// `limit` bytes; `http` is outbound HTTP to the tracking server. Records the
/// metrics and adds the `metrics` and `handler` parts to `Server-Timing`.
pub async fn serve<F, Fut>(head: RequestHead, read_body: F, http: &impl HttpClient) -> Outcome
where
    F: FnOnce(usize) -> Fut,
    Fut: Future<Output = Result<Vec<u8>, ApiError>>,
{
    let start = Instant::now();
    let path = head
        .path_and_query
        .split('?')
        .next()
        .unwrap_or("/")
        .to_string();
    let route = Route::of(&path);
    let store = kv::SpinStore::open("default");

    let outcome = answer(&head, read_body, http, &route, &path, store.as_ref().ok()).await;
    let mut outcome = outcome.unwrap_or_else(|e| Outcome::from_error(&e));

    let metrics_start = Instant::now();
    if let Ok(store) = &store {
        let record = metrics::RequestRecord {
            route: route.label(),
            method: &head.method,
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
    outcome
}

async fn answer<F, Fut>(
    head: &RequestHead,
    read_body: F,
    http: &impl HttpClient,
    route: &Route,
    path: &str,
    store: Option<&kv::SpinStore>,
) -> Result<Outcome, ApiError>
where
    F: FnOnce(usize) -> Fut,
    Fut: Future<Output = Result<Vec<u8>, ApiError>>,
{
    let store = store
        .ok_or_else(|| ApiError::internal("the key-value store \"default\" is not available"))?;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let loaded = serving::load(store, now_ms, || {
        config::Settings::from_lookup(|name| spin_sdk::variables::get(name).ok())
    })
    .map_err(|e| ApiError::internal(format!("configuration: {e}")))?;
    let settings = &loaded.settings;
    if *route == Route::NotFound {
        return Err(ApiError::not_found(format!("no route {path}")));
    }
    let allowed = route.method();
    let method = head.method.as_str();
    if method != allowed && !(allowed == "GET" && method == "HEAD") {
        return Err(ApiError::method_not_allowed(allowed));
    }
    if !settings.is_open(path) {
        auth::check(
            &settings.api_key_digests,
            auth::presented_key(head.x_api_key.as_deref(), head.authorization.as_deref()),
        )?;
    }
    let body = if route.has_body() {
        let declared = head
            .content_length
            .as_deref()
            .and_then(|v| v.trim().parse::<usize>().ok());
        if declared.is_some_and(|n| n > settings.max_body_bytes) {
            return Err(ApiError::payload_too_large(settings.max_body_bytes));
        }
        read_body(settings.max_body_bytes).await?
    } else {
        Vec::new()
    };
    let env = Env {
        settings,
        loaded: &loaded,
        store,
        http,
        now_ms,
    };
    env.respond(route, head.content_type.as_deref(), &body)
        .await
}
