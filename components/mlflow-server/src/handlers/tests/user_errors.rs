//! Issue 21's user errors, through the router as a client sends them: each is a 400
//! with MLflow's error code and a message without SQL, and nothing is written.

use crate::http::route::Ctx;
use crate::http::router::dispatch;
use crate::http::{ApiRequest, Method};
use crate::store::database_artifacts::DatabaseArtifacts;
use crate::store::db::DbExt;
use crate::store::testing;
use crate::store::testing::TestDb;
use serde_json::{json, Value};

fn call(db: &TestDb, method: Method, path: &str, body: &str) -> (u16, Value) {
    let path = format!("/api/2.0/mlflow/{path}");
    let response = dispatch(
        &Ctx {
            db,
            artifacts: &DatabaseArtifacts(db),
        },
        &ApiRequest::new(method, &path, body),
    );
    let value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    (response.status, value)
}

fn assert_invalid(db: &TestDb, method: Method, path: &str, body: &str) {
    let (status, answer) = call(db, method, path, body);
    assert_eq!(status, 400, "{path} {body:.80}: {answer}");
    assert_eq!(answer["error_code"], "INVALID_PARAMETER_VALUE", "{path}");
    let message = answer["message"].as_str().unwrap();
    assert!(
        !message.contains("SELECT") && !message.contains("database"),
        "{message}"
    );
}

fn count_runs(db: &TestDb) -> i64 {
    db.query_one("SELECT COUNT(*) FROM runs", &[])
        .unwrap()
        .unwrap()
        .int(0)
}

fn new_run(db: &TestDb) -> String {
    let (status, answer) = call(db, Method::Post, "runs/create", r#"{"experiment_id":"0"}"#);
    assert_eq!(status, 200);
    answer["run"]["info"]["run_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn bodies_of_the_wrong_shape_are_refused() {
    let db = testing::db();
    for body in ["[1,2]", "[\"0\",\"me\"]", "[]", "\"[1]\"", "5", "null"] {
        assert_invalid(&db, Method::Post, "runs/create", body);
    }
    assert_eq!(count_runs(&db), 0);
    let run_id = new_run(&db);
    for body in [
        json!({"run_id": run_id, "metrics": [["m", 1.0, 1, 0]]}),
        json!({"run_id": run_id, "params": [["p", "v"]]}),
        json!({"run_id": run_id, "tags": [["t", "v"]]}),
    ] {
        assert_invalid(&db, Method::Post, "runs/log-batch", &body.to_string());
    }
    assert_invalid(&db, Method::Post, "experiments/create", "[\"e\"]");
    assert_invalid(
        &db,
        Method::Post,
        "experiments/create",
        &json!({"name": "e", "tags": [["k", "v"]]}).to_string(),
    );
    let written = db
        .query_one(
            "SELECT (SELECT COUNT(*) FROM metrics) + (SELECT COUNT(*) FROM params)",
            &[],
        )
        .unwrap()
        .unwrap();
    assert_eq!(written.int(0), 0);
}

#[test]
fn out_of_range_integers_are_refused_not_clamped() {
    let db = testing::db();
    assert_invalid(
        &db,
        Method::Post,
        "runs/create",
        r#"{"experiment_id":"0","start_time":1e300}"#,
    );
    assert_eq!(count_runs(&db), 0);
    let run_id = new_run(&db);
    for point in [
        json!({"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": 9223372036854775808u64}),
        json!({"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 18446744073709551615u64}),
        json!({"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": 1.5}),
    ] {
        assert_invalid(&db, Method::Post, "runs/log-metric", &point.to_string());
    }
    let batch = json!({"run_id": run_id, "metrics": [
        {"key": "m", "value": 1.0, "timestamp": 18446744073709551615u64, "step": 0}]});
    assert_invalid(&db, Method::Post, "runs/log-batch", &batch.to_string());
    // The extremes of int64 themselves are fine.
    let edge = json!({"run_id": run_id, "key": "m", "value": 1.0,
        "timestamp": 9223372036854775807i64, "step": -9223372036854775808i64});
    assert_eq!(
        call(&db, Method::Post, "runs/log-metric", &edge.to_string()).0,
        200
    );
}

#[test]
fn oversized_filters_are_user_errors_on_every_search() {
    let db = testing::db();
    let clauses = vec!["tags.t = 'x'"; 988].join(" AND ");
    let ids: Vec<String> = (0..32_766).map(|i| format!("'{i:032x}'")).collect();
    let in_list = format!("attributes.run_id IN ({})", ids.join(","));
    for filter in [&clauses, &in_list] {
        let body = json!({"experiment_ids": ["0"], "filter": filter}).to_string();
        assert_invalid(&db, Method::Post, "runs/search", &body);
        let body = json!({"filter": filter.replace("attributes.run_id", "name")}).to_string();
        assert_invalid(&db, Method::Post, "experiments/search", &body);
        let query = format!(
            "filter={}",
            urlencode(&filter.replace("attributes.run_id", "name"))
        );
        assert_invalid(
            &db,
            Method::Get,
            &format!("registered-models/search?{query}"),
            "",
        );
        assert_invalid(
            &db,
            Method::Get,
            &format!("model-versions/search?{query}"),
            "",
        );
        let body =
            json!({"experiment_ids": ["0"], "filter": filter.replace("attributes.run_id", "name")});
        assert_invalid(&db, Method::Post, "logged-models/search", &body.to_string());
    }
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[test]
fn max_results_out_of_bounds_are_refused() {
    let db = testing::db();
    let run_id = new_run(&db);
    for (method, path, body) in [
        (
            Method::Post,
            "runs/search",
            json!({"experiment_ids": ["0"], "max_results": 50001}),
        ),
        (
            Method::Post,
            "runs/search",
            json!({"experiment_ids": ["0"], "max_results": 0}),
        ),
        (
            Method::Post,
            "experiments/search",
            json!({"max_results": 50001}),
        ),
        (
            Method::Post,
            "experiments/search",
            json!({"max_results": -1}),
        ),
    ] {
        assert_invalid(&db, method, path, &body.to_string());
    }
    for path in [
        format!("metrics/get-history?run_id={run_id}&metric_key=m&max_results=0"),
        format!("metrics/get-history?run_id={run_id}&metric_key=m&max_results=-5"),
        format!("metrics/get-history-bulk-interval?run_ids={run_id}&metric_key=m&max_results=2501"),
        "registered-models/search?max_results=1001".to_string(),
        "model-versions/search?max_results=200001".to_string(),
    ] {
        assert_invalid(&db, Method::Get, &path, "");
    }
}
