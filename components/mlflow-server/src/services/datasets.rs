//! Dataset summaries for the web UI's runs table: the datasets the runs of some
//! experiments logged as inputs, within MLflow's bounds.

use crate::error::{ApiResult, MlflowError};
use crate::store::db::Db;
use crate::store::inputs::{self, DatasetSummary};

/// MLflow's bounds: at most 20 experiments per request, 1,000 summaries per answer.
const MAX_EXPERIMENTS: usize = 20;
const MAX_SUMMARIES: i64 = 1000;

pub fn search_datasets(db: &dyn Db, experiment_ids: &[String]) -> ApiResult<Vec<DatasetSummary>> {
    if experiment_ids.is_empty() {
        return Err(MlflowError::invalid(
            "SearchDatasets request must specify at least one experiment_id.",
        ));
    }
    if experiment_ids.len() > MAX_EXPERIMENTS {
        return Err(MlflowError::invalid(format!(
            "SearchDatasets request cannot specify more than {MAX_EXPERIMENTS} experiment_ids. Received {} experiment_ids.",
            experiment_ids.len()
        )));
    }
    let mut ids = Vec::with_capacity(experiment_ids.len());
    for id in experiment_ids {
        let id: i64 = id
            .trim()
            .parse()
            .map_err(|_| MlflowError::invalid(format!("Invalid experiment ID: '{id}'")))?;
        ids.push(id);
    }
    inputs::dataset_summaries(db, &ids, MAX_SUMMARIES)
}
