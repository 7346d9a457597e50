//! The UI's session-wide calls: its telemetry (`/ajax-api/3.0/mlflow/ui-telemetry`) and
//! the signed-in user (`/ajax-api/2.0/mlflow/users/current`).

use crate::error::ApiResult;
use crate::http::ajax_only;
use crate::http::route::{Ctx, PathParams};
use crate::http::{ApiRequest, ApiResponse};

/// Telemetry is off: the configuration MLflow answers when telemetry is disabled, so the
/// UI sends nothing.
pub fn telemetry_config(_: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    ajax_only(req)?;
    ApiResponse::json(&serde_json::json!({
        "disable_ui_events": [],
        "disable_ui_telemetry": true,
        "ui_rollout_percentage": 0,
    }))
}

/// Records sent anyway are accepted and dropped, whatever the body, as MLflow does with
/// telemetry disabled.
pub fn telemetry_records(_: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    ajax_only(req)?;
    ApiResponse::json(&serde_json::json!({"status": "disabled"}))
}

/// There is no sign-in: MLflow without its basic-auth app has no such route and answers
/// 404, which the UI reads as "no authentication" (no user menu, no permission checks).
pub fn current_user(_: &Ctx, _: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    Ok(ApiResponse::not_found())
}
