//! `POST /ajax-api/2.0/mlflow/experiments/search-datasets`: the datasets the runs of some
//! experiments logged as inputs (the runs table's dataset column and filter).

use crate::error::ApiResult;
use crate::http::ajax_only;
use crate::http::route::{Ctx, PathParams};
use crate::http::{ApiRequest, ApiResponse};
use crate::services::datasets as service;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct SearchDatasets {
    #[serde(default)]
    experiment_ids: Vec<String>,
}

#[derive(Serialize)]
struct DatasetSummary {
    experiment_id: String,
    name: String,
    digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<String>,
}

pub fn search_datasets(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    ajax_only(req)?;
    let m: SearchDatasets = req.message()?;
    let summaries: Vec<DatasetSummary> = service::search_datasets(ctx.db, &m.experiment_ids)?
        .into_iter()
        .map(|s| DatasetSummary {
            experiment_id: s.experiment_id,
            name: s.name,
            digest: s.digest,
            context: s.context,
        })
        .collect();
    // Without summaries MLflow answers the empty message.
    if summaries.is_empty() {
        return ApiResponse::empty();
    }
    ApiResponse::json(&serde_json::json!({ "dataset_summaries": summaries }))
}

#[cfg(test)]
mod tests {
    use crate::http::Method;
    use crate::services::runs::create_run;
    use crate::store::testing;
    use crate::web_ui::testing::call_json;
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
}
