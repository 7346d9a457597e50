//! The UI session calls: telemetry off, no current user.

use super::{call, call_json};
use crate::http::Method;
use crate::store::testing;
use serde_json::json;

#[test]
fn telemetry_is_disabled_and_records_are_dropped() {
    let db = testing::db();
    let url = "/ajax-api/3.0/mlflow/ui-telemetry";
    let (status, config) = call_json(&db, Method::Get, url, "");
    assert_eq!(status, 200);
    assert_eq!(config["disable_ui_telemetry"], true);
    assert_eq!(config["ui_rollout_percentage"], 0);
    for body in [r#"{"records":[{"event_name":"x"}]}"#, "garbage", ""] {
        assert_eq!(
            call_json(&db, Method::Post, url, body),
            (200, json!({"status": "disabled"}))
        );
    }
}

#[test]
fn no_current_user() {
    let db = testing::db();
    let r = call(&db, Method::Get, "/ajax-api/2.0/mlflow/users/current", b"");
    assert_eq!(r.status, 404);
}
