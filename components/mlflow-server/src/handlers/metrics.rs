//! HTTP handlers of metrics (`runs/log-metric`, `metrics/get-history`,
//! `metrics/get-history-bulk-interval` and the web UI's `metrics/get-history-bulk`):
//! decode the request, call `services::metrics`, encode the answer.

use crate::error::ApiResult;
use crate::http::route::{route, route_checking_schema, Ctx, PathParams, Route};
use crate::http::{ajax_only, ApiRequest, ApiResponse, Method};
use crate::services::metrics as service;
use mlflow_wire::tracking as wire;

pub const ROUTES: &[Route] = &[
    route_checking_schema(Method::Post, "runs/log-metric", log_metric),
    route_checking_schema(Method::Get, "metrics/get-history", get_history),
    route(
        Method::Get,
        "metrics/get-history-bulk-interval",
        get_history_bulk_interval,
    ),
    route(Method::Get, "metrics/get-history-bulk", get_history_bulk),
];

fn log_metric(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::LogMetric = req.message()?;
    service::log_metric(ctx.db, &m)?;
    ApiResponse::empty()
}

fn get_history(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::GetMetricHistory = req.message()?;
    ApiResponse::json(&service::get_metric_history(ctx.db, &m)?)
}

fn get_history_bulk_interval(
    ctx: &Ctx,
    req: &ApiRequest,
    _: &PathParams,
) -> ApiResult<ApiResponse> {
    let m: wire::GetMetricHistoryBulkInterval = req.message()?;
    ApiResponse::json(&service::history_bulk_interval(ctx.db, &m)?)
}

/// `GET /ajax-api/2.0/mlflow/metrics/get-history-bulk?run_id=..&run_id=..&metric_key=`
/// (`max_results` optional).
fn get_history_bulk(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    ajax_only(req)?;
    let run_ids: Vec<String> = form_urlencoded::parse(req.query.as_bytes())
        .filter(|(k, _)| k == "run_id")
        .map(|(_, v)| v.into_owned())
        .collect();
    let metrics = service::history_bulk(
        ctx.db,
        run_ids,
        req.query_value("metric_key"),
        req.query_value("max_results"),
    )?;
    // `{"metrics": []}` when empty, as MLflow answers (not the empty message).
    ApiResponse::json(&serde_json::json!({ "metrics": metrics }))
}
