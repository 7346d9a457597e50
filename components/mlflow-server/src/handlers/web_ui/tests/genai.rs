//! GenAI features: empty searches, empty trace metrics, named things not found.

use super::call_json;
use crate::http::Method;
use crate::store::testing;
use serde_json::json;

const V3: &str = "/ajax-api/3.0/mlflow";

#[test]
fn searches_are_empty() {
    let db = testing::db();
    let search = r#"{"locations":[{"type":"MLFLOW_EXPERIMENT","mlflow_experiment":{"experiment_id":"1"}}],"max_results":25}"#;
    assert_eq!(
        call_json(&db, Method::Post, &format!("{V3}/traces/search"), search),
        (200, json!({}))
    );
    assert_eq!(
        call_json(&db, Method::Post, &format!("{V3}/traces/search"), "{}").0,
        400
    );
    let datasets = r#"{"experiment_ids":["1"],"order_by":["created_time DESC"],"max_results":50}"#;
    assert_eq!(
        call_json(
            &db,
            Method::Post,
            &format!("{V3}/datasets/search"),
            datasets
        ),
        (200, json!({}))
    );
    assert_eq!(
        call_json(
            &db,
            Method::Get,
            &format!("{V3}/scorers/list?experiment_id=1"),
            ""
        ),
        (200, json!({}))
    );
    assert_eq!(
        call_json(
            &db,
            Method::Get,
            "/ajax-api/2.0/mlflow/traces?experiment_ids=1",
            ""
        ),
        (200, json!({}))
    );
    assert_eq!(
        call_json(&db, Method::Get, "/ajax-api/2.0/mlflow/traces", "").0,
        400
    );
}

#[test]
fn metrics_over_no_traces() {
    let db = testing::db();
    let url = format!("{V3}/traces/metrics");
    let count = r#"{"experiment_ids":["1"],"view_type":"TRACES","metric_name":"trace_count","aggregations":[{"aggregation_type":"COUNT"}]}"#;
    assert_eq!(
        call_json(&db, Method::Post, &url, count),
        (
            200,
            json!({"data_points": [{"metric_name": "trace_count", "values": {"COUNT": 0.0}}]})
        )
    );
    for grouped in [
        r#"{"experiment_ids":["1"],"view_type":"TRACES","metric_name":"trace_count","aggregations":[{"aggregation_type":"COUNT"}],"time_interval_seconds":86400}"#,
        r#"{"experiment_ids":["1"],"view_type":"SPANS","metric_name":"total_cost","aggregations":[{"aggregation_type":"COUNT"}],"dimensions":["span_model_name"]}"#,
        r#"{"experiment_ids":["1"],"view_type":"TRACES","metric_name":"latency","aggregations":[{"aggregation_type":"AVG"}]}"#,
    ] {
        assert_eq!(
            call_json(&db, Method::Post, &url, grouped),
            (200, json!({}))
        );
    }
    for bad in [
        "{}",
        r#"{"experiment_ids":["1"],"metric_name":"x","aggregations":[{}]}"#,
    ] {
        assert_eq!(call_json(&db, Method::Post, &url, bad).0, 400);
    }
}

#[test]
fn named_traces_and_datasets_are_not_found() {
    let db = testing::db();
    for url in [
        format!("{V3}/traces/get?trace_id=tr-x"),
        format!("{V3}/traces/tr-x"),
        format!("{V3}/get-trace-artifact?request_id=tr-x"),
        "/ajax-api/2.0/mlflow/get-trace-artifact?request_id=tr-x".to_string(),
        "/ajax-api/2.0/mlflow/traces/tr-x/info".to_string(),
        format!("{V3}/datasets/d-x"),
    ] {
        let (status, v) = call_json(&db, Method::Get, &url, "");
        assert_eq!(
            (status, v["error_code"].as_str()),
            (404, Some("RESOURCE_DOES_NOT_EXIST")),
            "{url}"
        );
    }
    assert_eq!(
        call_json(&db, Method::Get, &format!("{V3}/traces/get"), "").0,
        400
    );
    assert_eq!(
        call_json(
            &db,
            Method::Get,
            "/api/3.0/mlflow/get-trace-artifact?request_id=tr-x",
            ""
        )
        .0,
        404
    );
}
