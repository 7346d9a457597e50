//! Endpoints only the MLflow web UI calls (outside the REST API the clients use).
//!
//! Each module holds one job: `artifact_files` (file previews and downloads of runs,
//! model versions and logged models, and the UI's upload), `session` (UI telemetry and
//! the current user), `datasets` (the runs table's dataset summaries), and the features
//! this server does not have, answered as an MLflow 3.17.2 server without them answers so
//! that the UI shows "none" instead of an error: `gateway` (AI gateway), `assistant`
//! (the assistant panel) and `genai` (traces, evaluation datasets, scorers, issues, MCP
//! servers).
//!
//! The tables below are mounted by `http::router::AREAS`. Paths MLflow serves only under
//! `/ajax-api/` refuse the `/api/` alias with `http::ajax_only`.

pub mod artifact_files;
pub mod assistant;
pub mod datasets;
pub mod gateway;
pub mod genai;
pub mod session;

use crate::http::route::{route, Route};
use crate::http::Method;

/// Under `/`.
pub const ROOT_ROUTES: &[Route] = &[
    route(
        Method::Get,
        "get-artifact",
        artifact_files::get_run_artifact,
    ),
    route(
        Method::Get,
        "model-versions/get-artifact",
        artifact_files::get_model_version_artifact,
    ),
];

/// Under `/api/2.0/mlflow/` and `/ajax-api/2.0/mlflow/`.
pub const V2_ROUTES: &[Route] = &[
    route(
        Method::Get,
        "logged-models/{model_id}/artifacts/files",
        artifact_files::get_logged_model_artifact,
    ),
    route(Method::Post, "upload-artifact", artifact_files::upload),
    route(Method::Get, "users/current", session::current_user),
    route(
        Method::Post,
        "experiments/search-datasets",
        datasets::search_datasets,
    ),
    route(Method::Get, "gateway-proxy", gateway::proxy),
    route(Method::Post, "gateway-proxy", gateway::proxy),
    route(Method::Get, "traces", genai::search_traces_v2),
    route(Method::Get, "traces/{request_id}/info", genai::get_trace_v2),
    route(Method::Get, "get-trace-artifact", genai::get_trace_artifact),
];

/// Under `/api/3.0/mlflow/` and `/ajax-api/3.0/mlflow/`.
pub const V3_ROUTES: &[Route] = &[
    route(Method::Get, "ui-telemetry", session::telemetry_config),
    route(Method::Post, "ui-telemetry", session::telemetry_records),
    route(Method::Get, "assistant/config", assistant::config),
    route(Method::Get, "assistant/providers", assistant::providers),
    route(Method::Get, "assistant/{*rest}", assistant::unavailable),
    route(Method::Post, "assistant/{*rest}", assistant::unavailable),
    route(Method::Put, "assistant/{*rest}", assistant::unavailable),
    route(Method::Patch, "assistant/{*rest}", assistant::unavailable),
    route(Method::Get, "gateway/{*rest}", gateway::read),
    route(Method::Post, "gateway/{*rest}", gateway::write),
    route(Method::Patch, "gateway/{*rest}", gateway::write),
    route(Method::Delete, "gateway/{*rest}", gateway::write),
    route(Method::Post, "traces/search", genai::search_traces),
    route(Method::Post, "traces/metrics", genai::trace_metrics),
    route(Method::Get, "traces/get", genai::get_trace),
    route(Method::Get, "traces/batchGet", genai::empty),
    route(Method::Post, "traces/batchGetInfos", genai::empty),
    route(Method::Get, "traces/{trace_id}", genai::get_trace_info),
    route(Method::Get, "get-trace-artifact", genai::get_trace_artifact),
    route(Method::Post, "datasets/search", genai::empty),
    route(Method::Get, "datasets/search", genai::empty),
    route(Method::Get, "datasets/{dataset_id}", genai::get_dataset),
    route(Method::Get, "scorers/list", genai::empty),
    route(Method::Post, "issues/search", genai::search_issues),
    route(Method::Get, "mcp-servers", genai::list_mcp_servers),
];

#[cfg(test)]
mod tests;
