//! MLflow 3 logged models (`logged_models`) with their params, tags and the metric
//! points logged with their id (`logged_model_params`, `logged_model_tags`,
//! `logged_model_metrics`). Registrations are recorded in a tag of the model.

use super::db::{Db, DbExt, Row, SqlValue};
use crate::error::ApiResult;
use crate::params;
use crate::search;
use mlflow_wire::logged_models::{
    LoggedModel, LoggedModelData, LoggedModelInfo, LoggedModelRegistration,
};
use mlflow_wire::tracking::{KeyValue, Metric};

/// The tag listing a logged model's registrations (a JSON list of `{name, version}`).
pub const MODEL_VERSIONS_TAG: &str = "mlflow.modelVersions";

const COLUMNS: &str =
    "lm.model_id, lm.experiment_id, lm.name, lm.artifact_location, lm.creation_timestamp_ms, \
     lm.last_updated_timestamp_ms, lm.status, lm.status_message, lm.model_type, lm.source_run_id";

fn from_row(db: &dyn Db, r: &Row) -> ApiResult<LoggedModel> {
    let model_id = r.text(0);
    let pairs = |table: &str| -> ApiResult<Vec<KeyValue>> {
        Ok(db
            .query(
                &format!("SELECT key, value FROM {table} WHERE model_id = ? ORDER BY key"),
                &params![model_id.as_str()],
            )?
            .iter()
            .map(|t| KeyValue::new(t.text(0), t.text(1)))
            .collect())
    };
    let tags = pairs("logged_model_tags")?;
    let params = pairs("logged_model_params")?;
    let metrics = db
        .query(
            "SELECT key, value, timestamp, step, run_uuid, dataset_name, dataset_digest, is_nan
             FROM logged_model_metrics WHERE model_id = ? ORDER BY key, timestamp, step",
            &params![model_id.as_str()],
        )?
        .iter()
        .map(|m| Metric {
            key: m.text(0),
            value: if m.int(7) != 0 {
                f64::NAN
            } else {
                m.opt_real(1).unwrap_or(f64::NAN)
            },
            timestamp: m.int(2),
            step: m.int(3),
            run_id: m.opt_text(4),
            dataset_name: m.opt_text(5),
            dataset_digest: m.opt_text(6),
            model_id: Some(model_id.clone()),
        })
        .collect();
    let registrations = registrations_of(&tags);
    Ok(LoggedModel {
        info: LoggedModelInfo {
            model_id: model_id.clone(),
            experiment_id: r.int(1).to_string(),
            name: r.text(2),
            artifact_uri: r.text(3),
            creation_timestamp_ms: r.opt_int(4),
            last_updated_timestamp_ms: r.opt_int(5),
            status: r.opt_text(6),
            status_message: r.opt_text(7),
            model_type: r.opt_text(8),
            source_run_id: r.opt_text(9),
            creator_id: None,
            tags,
            registrations,
        },
        data: LoggedModelData { params, metrics },
    })
}

/// The registrations recorded in the model's tag (versions are numbers there, as MLflow
/// writes them, or strings, as its client appends them).
fn registrations_of(tags: &[KeyValue]) -> Vec<LoggedModelRegistration> {
    let entries: Vec<serde_json::Value> = tags
        .iter()
        .find(|t| t.key.as_deref() == Some(MODEL_VERSIONS_TAG))
        .and_then(|t| serde_json::from_str(t.value.as_deref().unwrap_or("[]")).ok())
        .unwrap_or_default();
    entries
        .iter()
        .filter_map(|e| {
            let version = match &e["version"] {
                serde_json::Value::String(v) => v.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some(LoggedModelRegistration {
                name: e["name"].as_str()?.to_string(),
                version,
            })
        })
        .collect()
}

/// A logged model; deleted ones only with `allow_deleted`.
pub fn get(db: &dyn Db, model_id: &str, allow_deleted: bool) -> ApiResult<Option<LoggedModel>> {
    let live = if allow_deleted {
        ""
    } else {
        " AND lm.lifecycle_stage = 'active'"
    };
    db.query_one(
        &format!("SELECT {COLUMNS} FROM logged_models lm WHERE lm.model_id = ?{live}"),
        &params![model_id],
    )?
    .map(|row| from_row(db, &row))
    .transpose()
}

/// A new logged model as stored.
pub struct NewRow<'a> {
    pub model_id: &'a str,
    pub experiment_id: i64,
    pub name: &'a str,
    pub artifact_location: &'a str,
    pub now: i64,
    pub status: &'a str,
    pub model_type: Option<&'a str>,
    pub source_run_id: Option<&'a str>,
}

pub fn insert(db: &dyn Db, m: &NewRow<'_>) -> ApiResult<()> {
    db.exec(
        "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, creation_timestamp_ms,
                 last_updated_timestamp_ms, status, model_type, source_run_id)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &params![
            m.model_id,
            m.experiment_id,
            m.name,
            m.artifact_location,
            m.now,
            m.now,
            m.status,
            m.model_type,
            m.source_run_id
        ],
    )
}

fn write_pairs(
    db: &dyn Db,
    table: &str,
    model_id: &str,
    pairs: &[(String, String)],
) -> ApiResult<()> {
    for (key, value) in pairs {
        db.exec(
            &format!("INSERT INTO {table} (model_id, key, value) VALUES (?, ?, ?) ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value"),
            &params![model_id, key.as_str(), value.as_str()],
        )?;
    }
    Ok(())
}

/// Sets params (replacing values of existing keys).
pub fn set_params(db: &dyn Db, model_id: &str, params: &[(String, String)]) -> ApiResult<()> {
    write_pairs(db, "logged_model_params", model_id, params)
}

/// Sets tags (replacing values of existing keys).
pub fn set_tags(db: &dyn Db, model_id: &str, tags: &[(String, String)]) -> ApiResult<()> {
    write_pairs(db, "logged_model_tags", model_id, tags)
}

pub fn set_status(db: &dyn Db, model_id: &str, status: &str, now: i64) -> ApiResult<()> {
    db.exec(
        "UPDATE logged_models SET status = ?, last_updated_timestamp_ms = ? WHERE model_id = ?",
        &params![status, now, model_id],
    )
}

pub fn mark_deleted(db: &dyn Db, model_id: &str, now: i64) -> ApiResult<()> {
    db.exec(
        "UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_timestamp_ms = ? WHERE model_id = ?",
        &params![now, model_id],
    )
}

pub fn tag_exists(db: &dyn Db, model_id: &str, key: &str) -> ApiResult<bool> {
    Ok(db
        .query_one(
            "SELECT 1 FROM logged_model_tags WHERE model_id = ? AND key = ?",
            &params![model_id, key],
        )?
        .is_some())
}

pub fn delete_tag(db: &dyn Db, model_id: &str, key: &str) -> ApiResult<()> {
    db.exec(
        "DELETE FROM logged_model_tags WHERE model_id = ? AND key = ?",
        &params![model_id, key],
    )
}

/// Records a metric point logged with a model's id (log-metric / log-batch call this).
#[allow(clippy::too_many_arguments)]
pub fn record_metric(
    db: &dyn Db,
    model_id: &str,
    run_id: &str,
    key: &str,
    value: f64,
    timestamp: i64,
    step: i64,
    dataset: (Option<&str>, Option<&str>),
) -> ApiResult<()> {
    let (value, is_nan) = if value.is_nan() {
        (0.0, 1i64)
    } else {
        (value, 0)
    };
    db.exec(
        "INSERT INTO logged_model_metrics
             (model_id, key, timestamp, step, value, is_nan, run_uuid, dataset_name, dataset_digest)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        &params![model_id, key, timestamp, step, value, is_nan, run_id, dataset.0, dataset.1],
    )
}

/// Appends `{name, version}` to the model's registrations tag (once).
pub fn record_registration(db: &dyn Db, model_id: &str, name: &str, version: i64) -> ApiResult<()> {
    let current = db
        .query_one(
            "SELECT value FROM logged_model_tags WHERE model_id = ? AND key = ?",
            &params![model_id, MODEL_VERSIONS_TAG],
        )?
        .and_then(|r| serde_json::from_str::<Vec<serde_json::Value>>(&r.text(0)).ok())
        .unwrap_or_default();
    let entry = serde_json::json!({ "name": name, "version": version });
    if current.contains(&entry) {
        return Ok(());
    }
    let mut all = current;
    all.push(entry);
    db.exec(
        "INSERT INTO logged_model_tags (model_id, key, value) VALUES (?, ?, ?)
         ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value",
        &params![
            model_id,
            MODEL_VERSIONS_TAG,
            serde_json::Value::from(all).to_string()
        ],
    )
}

/// Up to `limit` active models of `experiment_ids` in a search from `offset`, and
/// whether more exist.
pub fn search(
    db: &dyn Db,
    experiment_ids: &[String],
    filter: &str,
    order_by: &[(String, bool)],
    limit: i64,
    offset: i64,
) -> ApiResult<(Vec<LoggedModel>, bool)> {
    let filter = search::registry::logged_models_filter(filter)?.in_dialect(db.dialect());
    let order = search::registry::logged_models_order(order_by)?;
    let ids: Vec<i64> = experiment_ids
        .iter()
        .filter_map(|id| id.trim().parse().ok())
        .collect();
    let placeholders = vec!["?"; ids.len().max(1)].join(", ");
    let mut args: Vec<SqlValue> = if ids.is_empty() {
        vec![SqlValue::Integer(-1)]
    } else {
        ids.iter().map(|id| SqlValue::Integer(*id)).collect()
    };
    args.extend(filter.params);
    args.extend(order.params);
    args.push((limit + 1).into());
    args.push(offset.into());
    let rows = db.query(
        &format!(
            "SELECT {COLUMNS} FROM logged_models lm
             WHERE lm.lifecycle_stage = 'active' AND lm.experiment_id IN ({placeholders}){}
             ORDER BY {} LIMIT ? OFFSET ?",
            filter.sql, order.sql
        ),
        &args,
    )?;
    let has_more = rows.len() as i64 > limit;
    let models = rows
        .iter()
        .take(limit as usize)
        .map(|r| from_row(db, r))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok((models, has_more))
}
