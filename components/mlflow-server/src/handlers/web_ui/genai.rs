//! GenAI features this server does not have: traces, evaluation datasets, scorers,
//! detected issues and the MCP server registry. MLflow 3.17.2 with none of them stored
//! answers empty searches and lists, not-found for a named trace or dataset, and trace
//! metrics without data points; the UI then shows its "nothing yet" pages.

use crate::error::{ApiResult, MlflowError};
use crate::http::ajax_only;
use crate::http::route::{Ctx, PathParams};
use crate::http::{ApiRequest, ApiResponse};
use serde::Deserialize;

/// Searches and lists with nothing found: the empty message.
pub fn empty(_: &Ctx, _: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    ApiResponse::empty()
}

/// `POST /ajax-api/3.0/mlflow/issues/search`: no issues, no further page.
pub fn search_issues(_: &Ctx, _: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    ApiResponse::json(&serde_json::json!({"next_page_token": ""}))
}

/// `GET /{ajax-api,api}/3.0/mlflow/mcp-servers`: the registry is empty.
pub fn list_mcp_servers(_: &Ctx, _: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    ApiResponse::json(&serde_json::json!({"mcp_servers": [], "next_page_token": null}))
}

#[derive(Deserialize)]
struct SearchTraces {
    #[serde(default)]
    locations: Option<Vec<serde_json::Value>>,
}

/// `POST /3.0/mlflow/traces/search`: `locations` must be given, even empty (the judges
/// page sends `[]`).
pub fn search_traces(_: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: SearchTraces = req.message()?;
    if m.locations.is_none() {
        return Err(MlflowError::missing("locations"));
    }
    ApiResponse::empty()
}

#[derive(Deserialize)]
struct SearchTracesV2 {
    #[serde(default)]
    experiment_ids: Option<serde_json::Value>,
}

/// `GET /2.0/mlflow/traces` (the deprecated search): `experiment_ids` is required.
pub fn search_traces_v2(_: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: SearchTracesV2 = req.message()?;
    if m.experiment_ids.is_none() {
        return Err(MlflowError::missing("experiment_ids"));
    }
    ApiResponse::empty()
}

#[derive(Deserialize)]
struct Aggregation {
    #[serde(default)]
    aggregation_type: Option<String>,
}

#[derive(Deserialize)]
struct TraceMetrics {
    #[serde(default)]
    experiment_ids: Vec<String>,
    #[serde(default)]
    view_type: Option<String>,
    #[serde(default)]
    metric_name: Option<String>,
    #[serde(default)]
    aggregations: Vec<Aggregation>,
    #[serde(default)]
    dimensions: Vec<String>,
    #[serde(default)]
    time_interval_seconds: Option<serde_json::Value>,
}

/// `POST /3.0/mlflow/traces/metrics` over no traces. As in MLflow's SQL, an ungrouped
/// query of counts only (no dimensions, no time buckets) is one data point of zeros; any
/// other query has no rows.
pub fn trace_metrics(_: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: TraceMetrics = req.message()?;
    if m.experiment_ids.is_empty() {
        return Err(MlflowError::missing("experiment_ids"));
    }
    if m.view_type.as_deref().unwrap_or("").is_empty() {
        return Err(MlflowError::missing("view_type"));
    }
    let metric = m
        .metric_name
        .filter(|v| !v.is_empty())
        .ok_or_else(|| MlflowError::missing("metric_name"))?;
    if m.aggregations.is_empty() {
        return Err(MlflowError::missing("aggregations"));
    }
    let counts_only = m
        .aggregations
        .iter()
        .all(|a| a.aggregation_type.as_deref() == Some("COUNT"));
    if !counts_only || !m.dimensions.is_empty() || m.time_interval_seconds.is_some() {
        return ApiResponse::empty();
    }
    ApiResponse::json(&serde_json::json!({
        "data_points": [{"metric_name": metric, "values": {"COUNT": 0.0}}]
    }))
}

fn trace_not_found(id: &str) -> MlflowError {
    MlflowError::not_found(format!("Trace with ID {id} is not found."))
}

/// `GET /3.0/mlflow/traces/get?trace_id=`.
pub fn get_trace(_: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let id = req
        .query_value("trace_id")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| MlflowError::missing("trace_id"))?;
    Err(trace_not_found(&id))
}

/// `GET /3.0/mlflow/traces/{trace_id}` (a trace's info).
pub fn get_trace_info(_: &Ctx, _: &ApiRequest, p: &PathParams) -> ApiResult<ApiResponse> {
    Err(MlflowError::not_found(format!(
        "Trace with ID '{}' not found.",
        p.get("trace_id")
    )))
}

/// `GET /2.0/mlflow/traces/{request_id}/info`.
pub fn get_trace_v2(_: &Ctx, _: &ApiRequest, p: &PathParams) -> ApiResult<ApiResponse> {
    Err(MlflowError::not_found(format!(
        "Trace with ID '{}' not found.",
        p.get("request_id")
    )))
}

/// `GET /ajax-api/{2,3}.0/mlflow/get-trace-artifact?request_id=`.
pub fn get_trace_artifact(_: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    ajax_only(req)?;
    let id = req
        .query_value("request_id")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| MlflowError::missing("request_id"))?;
    Err(trace_not_found(&id))
}

/// `GET /3.0/mlflow/datasets/{dataset_id}`.
pub fn get_dataset(_: &Ctx, _: &ApiRequest, p: &PathParams) -> ApiResult<ApiResponse> {
    Err(MlflowError::not_found(format!(
        "Evaluation dataset with id '{}' not found",
        p.get("dataset_id")
    )))
}
