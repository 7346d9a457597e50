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

#[cfg(test)]
mod tests {
    use crate::http::Method;
    use crate::store::testing;
    use crate::web_ui::testing::call_json;

    const BASE: &str = "/ajax-api/3.0/mlflow/assistant";

    #[test]
    fn no_providers_and_nothing_else() {
        let db = testing::db();
        let (status, config) = call_json(&db, Method::Get, &format!("{BASE}/config"), "");
        assert_eq!(
            (status, config["remote_access_allowed"].as_bool()),
            (200, Some(false))
        );
        let (status, providers) = call_json(&db, Method::Get, &format!("{BASE}/providers"), "");
        assert_eq!(status, 200);
        assert_eq!(providers["providers"].as_array().map(Vec::len), Some(0));
        assert!(providers["resolved"].is_null());
        for (method, path) in [
            (Method::Post, "message"),
            (Method::Get, "sessions/s-1/stream"),
            (Method::Put, "config"),
            (Method::Get, "providers/claude_code/health"),
        ] {
            let (status, body) = call_json(&db, method, &format!("{BASE}/{path}"), "{}");
            assert_eq!(status, 403, "{path}");
            assert!(body["detail"].as_str().unwrap_or("").contains("same host"));
        }
        assert_eq!(
            call_json(&db, Method::Get, "/api/3.0/mlflow/assistant/config", "").0,
            404
        );
    }
}
