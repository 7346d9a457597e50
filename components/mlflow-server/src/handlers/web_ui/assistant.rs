//! The assistant panel (`/ajax-api/3.0/mlflow/assistant/...`), which this server does not
//! have. MLflow serves its configuration to anyone and everything else only to clients on
//! its own host; a client elsewhere gets 403 with MLflow's message. Here no client is on
//! the server's host (it runs behind Spin), and no provider exists, so the UI offers none.

use crate::error::ApiResult;
use crate::http::ajax_only;
use crate::http::route::{Ctx, PathParams};
use crate::http::{ApiRequest, ApiResponse};

pub fn config(_: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    ajax_only(req)?;
    ApiResponse::json(&serde_json::json!({
        "providers": {},
        "projects": {},
        "remote_access_allowed": false,
    }))
}

pub fn providers(_: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    ajax_only(req)?;
    ApiResponse::json(&serde_json::json!({
        "providers": [],
        "resolved": null,
        "gateway_vendor_options": {},
    }))
}

/// Messages, sessions, provider checks, configuration changes, skills: FastAPI's error
/// body (`detail`), as MLflow sends it to a client not on its host.
pub fn unavailable(_: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    ajax_only(req)?;
    let body = serde_json::json!({
        "detail": "Assistant API is only accessible from the same host where the MLflow server is running."
    });
    Ok(ApiResponse::raw(
        403,
        "application/json",
        body.to_string().into_bytes(),
    ))
}
