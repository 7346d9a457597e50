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
