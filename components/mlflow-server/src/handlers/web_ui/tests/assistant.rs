//! The assistant panel: no providers, and nothing else for a remote client.

use super::call_json;
use crate::http::Method;
use crate::store::testing;

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
