//! What runs consumed and produced: dataset inputs (`run_dataset_inputs`), model inputs
//! (`run_model_inputs`) and model outputs (`run_model_outputs`).

use super::db::{Db, DbExt, SqlValue};
use crate::error::ApiResult;
use crate::params;
use mlflow_wire::tracking::{Dataset, DatasetInput, ModelInput, ModelOutput};

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

/// (run id, dataset input) of the runs bound in `binds`, in logging order.
pub fn datasets_of_runs(
    db: &dyn Db,
    marks: &str,
    binds: &[SqlValue],
) -> ApiResult<Vec<(String, DatasetInput)>> {
    Ok(db
        .query(
            &format!(
                "SELECT run_uuid, name, digest, source_type, source, schema, profile, tags_json FROM run_dataset_inputs WHERE run_uuid IN ({marks}) ORDER BY rowid"
            ),
            binds,
        )?
        .iter()
        .map(|r| {
            let input = DatasetInput {
                tags: serde_json::from_str(&r.text(7)).unwrap_or_default(),
                dataset: Some(Dataset {
                    name: r.opt_text(1),
                    digest: r.opt_text(2),
                    source_type: r.opt_text(3),
                    source: r.opt_text(4),
                    schema: r.opt_text(5),
                    profile: r.opt_text(6),
                }),
            };
            (r.text(0), input)
        })
        .collect())
}

/// (run id, model input) of the runs bound in `binds`, by model id.
pub fn model_inputs_of_runs(
    db: &dyn Db,
    marks: &str,
    binds: &[SqlValue],
) -> ApiResult<Vec<(String, ModelInput)>> {
    Ok(db
        .query(
            &format!("SELECT run_uuid, model_id FROM run_model_inputs WHERE run_uuid IN ({marks}) ORDER BY model_id"),
            binds,
        )?
        .iter()
        .map(|r| {
            (
                r.text(0),
                ModelInput {
                    model_id: r.opt_text(1),
                },
            )
        })
        .collect())
}

/// (run id, model output) of the runs bound in `binds`, by model id.
pub fn model_outputs_of_runs(
    db: &dyn Db,
    marks: &str,
    binds: &[SqlValue],
) -> ApiResult<Vec<(String, ModelOutput)>> {
    Ok(db
        .query(
            &format!("SELECT run_uuid, model_id, step FROM run_model_outputs WHERE run_uuid IN ({marks}) ORDER BY model_id"),
            binds,
        )?
        .iter()
        .map(|r| {
            (
                r.text(0),
                ModelOutput {
                    model_id: r.opt_text(1),
                    step: r.opt_int(2),
                },
            )
        })
        .collect())
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
