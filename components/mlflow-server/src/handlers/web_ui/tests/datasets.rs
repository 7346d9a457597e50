//! search-datasets: summaries of logged dataset inputs, and bad requests.

use super::call_json;
use crate::http::Method;
use crate::services::runs::create_run;
use crate::store::testing;
use serde_json::json;

const URL: &str = "/ajax-api/2.0/mlflow/experiments/search-datasets";

#[test]
fn summaries_of_logged_inputs() {
    let db = testing::db();
    assert_eq!(
        call_json(&db, Method::Post, URL, r#"{"experiment_ids":["0"]}"#),
        (200, json!({}))
    );
    let run = create_run(&db, &Default::default()).unwrap().info.run_id;
    let inputs = json!({"run_id": run, "datasets": [{
        "tags": [{"key": "mlflow.data.context", "value": "training"}],
        "dataset": {"name": "iris", "digest": "abc", "source_type": "local", "source": "{}"}
    }]});
    let (status, _) = call_json(
        &db,
        Method::Post,
        "/api/2.0/mlflow/runs/log-inputs",
        &inputs.to_string(),
    );
    assert_eq!(status, 200);
    assert_eq!(
        call_json(&db, Method::Post, URL, r#"{"experiment_ids":["0","7"]}"#),
        (
            200,
            json!({"dataset_summaries": [
                {"experiment_id": "0", "name": "iris", "digest": "abc", "context": "training"}
            ]})
        )
    );
}

#[test]
fn bad_requests() {
    let db = testing::db();
    let many: Vec<String> = (0..21).map(|i| i.to_string()).collect();
    for body in [
        json!({}),
        json!({"experiment_ids": many}),
        json!({"experiment_ids": ["x"]}),
    ] {
        let (status, v) = call_json(&db, Method::Post, URL, &body.to_string());
        assert_eq!(
            (status, v["error_code"].as_str()),
            (400, Some("INVALID_PARAMETER_VALUE"))
        );
    }
}
