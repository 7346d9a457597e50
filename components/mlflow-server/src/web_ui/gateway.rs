//! The AI gateway, which this server does not have. MLflow 3.17.2 answers as an empty
//! gateway: `gateway-proxy` without a deployments target answers `{"endpoints": []}` to
//! anything, lists are the empty message, and a named entity is not found. Configuring
//! one (every write) is refused as MLflow refuses it with the gateway disabled.

use crate::error::{ApiResult, ErrorCode, MlflowError};
use crate::http::ajax_only;
use crate::http::route::{Ctx, PathParams};
use crate::http::{ApiRequest, ApiResponse};

/// `/ajax-api/2.0/mlflow/gateway-proxy` (GET and POST): no deployments target is set.
pub fn proxy(_: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    ajax_only(req)?;
    ApiResponse::json(&serde_json::json!({"endpoints": []}))
}

/// The GETs of `/3.0/mlflow/gateway/...`: a read that names an entity answers not found
/// (MLflow's wording: `<Entity> not found (<field>='<value>')`).
const NAMED: &[(&str, &str, &str)] = &[
    ("endpoints/get", "GatewayEndpoint", "endpoint_id"),
    ("secrets/get", "GatewaySecret", "secret_id"),
    (
        "model-definitions/get",
        "GatewayModelDefinition",
        "model_definition_id",
    ),
    ("budgets/get", "BudgetPolicy", "budget_policy_id"),
    ("guardrails/get", "Guardrail", "guardrail_id"),
    ("guardrails/list-for-endpoint", "Endpoint", "endpoint_id"),
];

/// Lists with nothing in them: the empty message.
const LISTS: &[&str] = &[
    "endpoints/list",
    "endpoints/bindings/list",
    "secrets/list",
    "model-definitions/list",
    "budgets/list",
    "budgets/windows",
    "guardrails/list",
];

pub fn read(_: &Ctx, req: &ApiRequest, p: &PathParams) -> ApiResult<ApiResponse> {
    let rest = p.get("rest");
    if LISTS.contains(&rest) {
        return ApiResponse::empty();
    }
    if let Some((_, entity, field)) = NAMED.iter().find(|(path, _, _)| *path == rest) {
        let id = req
            .query_value(field)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| MlflowError::missing(field))?;
        return Err(MlflowError::not_found(format!(
            "{entity} not found ({field}='{id}')"
        )));
    }
    match rest {
        "supported-providers" => ApiResponse::json(&serde_json::json!({"providers": []})),
        "supported-models" => ApiResponse::json(&serde_json::json!({"models": []})),
        // No secrets can be stored (the UI then offers no form for them).
        "secrets/config" => ApiResponse::json(&serde_json::json!({
            "secrets_available": false,
            "using_default_passphrase": false,
        })),
        "provider-config" => Err(disabled()),
        _ => Ok(ApiResponse::not_found()),
    }
}

/// Every write (create, update, delete, attach, tags, ...): MLflow's answer with the
/// gateway disabled.
pub fn write(_: &Ctx, _: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    Err(disabled())
}

fn disabled() -> MlflowError {
    MlflowError::new(
        ErrorCode::NotImplemented,
        "The AI Gateway feature is disabled on this server.",
    )
}

#[cfg(test)]
mod tests {
    use crate::http::Method;
    use crate::store::testing;
    use crate::web_ui::testing::call_json;
    use serde_json::json;

    const V3: &str = "/ajax-api/3.0/mlflow/gateway";

    #[test]
    fn proxy_is_an_empty_gateway() {
        let db = testing::db();
        let url = "/ajax-api/2.0/mlflow/gateway-proxy?gateway_path=api%2F2.0%2Fendpoints%2F";
        assert_eq!(
            call_json(&db, Method::Get, url, ""),
            (200, json!({"endpoints": []}))
        );
        let post = r#"{"gateway_path":"gateway/x/invocations","json_data":{}}"#;
        let url = "/ajax-api/2.0/mlflow/gateway-proxy";
        assert_eq!(call_json(&db, Method::Post, url, post).0, 200);
        assert_eq!(
            call_json(&db, Method::Get, "/api/2.0/mlflow/gateway-proxy", "").0,
            404
        );
    }

    #[test]
    fn lists_are_empty_entities_missing_writes_refused() {
        let db = testing::db();
        for list in ["endpoints/list", "secrets/list", "endpoints/bindings/list"] {
            assert_eq!(
                call_json(&db, Method::Get, &format!("{V3}/{list}"), ""),
                (200, json!({}))
            );
        }
        // The /api/ alias is served too, as MLflow serves it.
        assert_eq!(
            call_json(
                &db,
                Method::Get,
                "/api/3.0/mlflow/gateway/endpoints/list",
                ""
            )
            .0,
            200
        );
        let (status, v) = call_json(
            &db,
            Method::Get,
            &format!("{V3}/endpoints/get?endpoint_id=x"),
            "",
        );
        assert_eq!(status, 404);
        assert_eq!(v["message"], "GatewayEndpoint not found (endpoint_id='x')");
        let (status, v) = call_json(&db, Method::Get, &format!("{V3}/secrets/get"), "");
        assert_eq!(
            (status, v["error_code"].as_str()),
            (400, Some("INVALID_PARAMETER_VALUE"))
        );
        let (status, v) = call_json(&db, Method::Get, &format!("{V3}/secrets/config"), "");
        assert_eq!(
            (status, v["secrets_available"].as_bool()),
            (200, Some(false))
        );
        for (method, path) in [
            (Method::Post, "endpoints/create"),
            (Method::Delete, "endpoints/delete"),
            (Method::Patch, "guardrails/update-config"),
        ] {
            let (status, v) = call_json(&db, method, &format!("{V3}/{path}"), "{}");
            assert_eq!(
                (status, v["error_code"].as_str()),
                (501, Some("NOT_IMPLEMENTED")),
                "{path}"
            );
        }
        assert_eq!(
            call_json(&db, Method::Get, &format!("{V3}/nope"), "").0,
            404
        );
    }
}
