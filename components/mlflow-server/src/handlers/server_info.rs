//! HTTP handlers of `/health`, `/version` and `/api/3.0/mlflow/server-info` (constant
//! answers: no service or store behind them).

use crate::error::ApiResult;
use crate::http::route::{route, Ctx, PathParams, Route};
use crate::http::{ApiRequest, ApiResponse, Method};

pub const ROOT_ROUTES: &[Route] = &[
    route(Method::Get, "health", health),
    route(Method::Get, "version", version),
];

pub const V3_ROUTES: &[Route] = &[route(Method::Get, "server-info", server_info)];

/// The MLflow version we report. We implement the 2.x tracking surface (plus the 3.x
/// calls the 3.x client needs); reporting 2.9.2 keeps 3.x clients from trying trace-span
/// endpoints (which need a server >= 3.4) that we do not serve.
pub const MLFLOW_VERSION: &str = "2.9.2";

fn health(_: &Ctx, _: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    Ok(ApiResponse::text(200, "OK"))
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
