//! Web UI endpoints through the router, one module per handler module, with the calls
//! they share.

mod artifact_files;
mod assistant;
mod datasets;
mod gateway;
mod genai;
mod session;

use crate::http::route::Ctx;
use crate::http::router::dispatch;
use crate::http::{ApiRequest, ApiResponse, Method};
use crate::store::database_artifacts::DatabaseArtifacts;
use crate::store::db::Db;
use serde_json::Value;

pub fn call(db: &dyn Db, method: Method, uri: &str, body: &[u8]) -> ApiResponse {
    dispatch(
        &Ctx {
            db,
            artifacts: &DatabaseArtifacts(db),
        },
        &ApiRequest::new(method, uri, body.to_vec()),
    )
}

/// Status and JSON body (`Null` when the body is not JSON).
pub fn call_json(db: &dyn Db, method: Method, uri: &str, body: &str) -> (u16, Value) {
    let r = call(db, method, uri, body.as_bytes());
    (
        r.status,
        serde_json::from_slice(&r.body).unwrap_or(Value::Null),
    )
}

use crate::store::testing;

#[test]
fn ajax_only_paths_refuse_the_api_alias() {
    let db = testing::db();
    let ajax = call(&db, Method::Get, "/ajax-api/3.0/mlflow/ui-telemetry", b"");
    assert_eq!(ajax.status, 200);
    let api = call(&db, Method::Get, "/api/3.0/mlflow/ui-telemetry", b"");
    assert_eq!(api.status, 404);
    let body: serde_json::Value = serde_json::from_slice(&api.body).unwrap();
    assert_eq!(body["error_code"], "ENDPOINT_NOT_FOUND");
}
