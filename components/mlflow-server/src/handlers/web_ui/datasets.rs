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
