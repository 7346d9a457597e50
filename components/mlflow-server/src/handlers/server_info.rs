//! HTTP handlers of `/health` (the store's check), `/version` and
//! `/api/3.0/mlflow/server-info` (constant answers).

use crate::error::{ApiResult, MlflowError, StoreError};
use crate::http::route::{route, Ctx, PathParams, Route};
use crate::http::{ApiRequest, ApiResponse, Method};
use crate::services::health;

pub const ROOT_ROUTES: &[Route] = &[
    route(Method::Get, "health", health),
    route(Method::Get, "version", version),
];

pub const V3_ROUTES: &[Route] = &[route(Method::Get, "server-info", server_info)];

/// The MLflow version we report. We implement the 2.x tracking surface (plus the 3.x
/// calls the 3.x client needs); reporting 2.9.2 keeps 3.x clients from trying trace-span
/// endpoints (which need a server >= 3.4) that we do not serve.
pub const MLFLOW_VERSION: &str = "2.9.2";

/// 200 `OK` when the database answers, else 503 with the reason (a readiness check).
/// Under the whole app iris-api owns `/health`; a deployment that runs mlflow-server
/// alone (its Kubernetes pods, `--component-id mlflow-server`) answers it here.
fn health(ctx: &Ctx, _: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    Ok(match health::check_store(ctx.db) {
        Ok(()) => ApiResponse::text(200, "OK"),
        Err(e) => unusable_store_health(&e.0),
    })
}

/// `/health`'s answer when the store is unusable, with the reason for the operator.
fn unusable_store_health(reason: &str) -> ApiResponse {
    eprintln!("mlflow-server: health: the database is unusable: {reason}");
    ApiResponse::text(
        503,
        &format!("mlflow-server cannot use its database: {reason}\n"),
    )
}

fn is_health(path: &str) -> bool {
    path.trim_end_matches('/') == "/health"
}

/// The answer to a request when the database cannot be opened: `/health` says why
/// (the operator's view), every other path gets the MLflow error, 503 when the failure
/// is transient.
pub fn unusable_store(path: &str, e: StoreError) -> ApiResponse {
    if is_health(path) {
        unusable_store_health(&e.0)
    } else {
        ApiResponse::error(&MlflowError::from(e))
    }
}

/// The answer to a request when the schema cannot be brought up to date (a database
/// user that may not create tables, say): `/health` is 503 with the failure (the
/// database's own words are in the log), every other path gets the MLflow error.
pub fn unmigrated_store(path: &str, e: MlflowError) -> ApiResponse {
    if is_health(path) {
        unusable_store_health(&e.message)
    } else {
        ApiResponse::error(&e)
    }
}

fn version(_: &Ctx, _: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    Ok(ApiResponse::text(200, MLFLOW_VERSION))
}

fn server_info(_: &Ctx, _: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    ApiResponse::json(&serde_json::json!({
        "store_type": "SqlStore",
        "workspaces_enabled": false,
        "trace_archival_enabled": false,
        "multipart_uploads_enabled": false,
        "multipart_downloads_enabled": false,
    }))
}
