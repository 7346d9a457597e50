//! The AI gateway: an empty gateway that refuses configuration.

use super::call_json;
use crate::http::Method;
use crate::store::testing;
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
