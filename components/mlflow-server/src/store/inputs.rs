//! What runs consumed and produced: dataset inputs (`run_dataset_inputs`), model inputs
//! (`run_model_inputs`) and model outputs (`run_model_outputs`).

use super::db::{Db, DbExt, SqlValue};
use crate::error::ApiResult;
use crate::params;

/// A dataset input as stored (its fields checked by the caller).
pub struct NewDatasetInput<'a> {
    pub name: &'a str,
    pub digest: &'a str,
    pub source_type: &'a str,
    pub source: &'a str,
    pub schema: Option<String>,
    pub profile: Option<String>,
    pub context: Option<String>,
    pub tags_json: String,
}

pub fn insert_dataset(db: &dyn Db, run_id: &str, d: &NewDatasetInput<'_>) -> ApiResult<()> {
    db.exec(
        "INSERT INTO run_dataset_inputs (run_uuid, name, digest, source_type, source, schema, profile, context, tags_json)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        &params![
            run_id,
            d.name,
            d.digest,
            d.source_type,
            d.source,
            d.schema.clone(),
            d.profile.clone(),
            d.context.clone(),
            d.tags_json.as_str()
        ],
    )
}

pub fn insert_model_input(db: &dyn Db, run_id: &str, model_id: &str) -> ApiResult<()> {
    db.exec(
        "INSERT INTO run_model_inputs (run_uuid, model_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        &params![run_id, model_id],
    )
}

pub fn set_model_output(db: &dyn Db, run_id: &str, model_id: &str, step: i64) -> ApiResult<()> {
    db.exec(
        "INSERT INTO run_model_outputs (run_uuid, model_id, step) VALUES (?, ?, ?)
         ON CONFLICT (run_uuid, model_id) DO UPDATE SET step = excluded.step",
        &params![run_id, model_id, step],
    )
}

/// One dataset some run of an experiment logged as input.
pub struct DatasetSummary {
    pub experiment_id: String,
    pub name: String,
    pub digest: String,
    pub context: Option<String>,
}

/// The distinct datasets the runs of `experiment_ids` logged, at most `limit`.
pub fn dataset_summaries(
    db: &dyn Db,
    experiment_ids: &[i64],
    limit: i64,
) -> ApiResult<Vec<DatasetSummary>> {
    let mut binds: Vec<SqlValue> = experiment_ids
        .iter()
        .map(|id| SqlValue::Integer(*id))
        .collect();
    let marks = vec!["?"; binds.len()].join(", ");
    binds.push(SqlValue::Integer(limit));
    let rows = db.query(
        &format!(
            "SELECT DISTINCT r.experiment_id, d.name, d.digest, d.context
             FROM run_dataset_inputs d JOIN runs r ON r.run_uuid = d.run_uuid
             WHERE r.experiment_id IN ({marks})
             ORDER BY r.experiment_id, d.name, d.digest LIMIT ?"
        ),
        &binds,
    )?;
    Ok(rows
        .iter()
        .map(|r| DatasetSummary {
            experiment_id: r.int(0).to_string(),
            name: r.text(1),
            digest: r.text(2),
            context: r.opt_text(3),
        })
        .collect())
}
