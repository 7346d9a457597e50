//! MLflow 3 logged models: create (PENDING), get, finalize, delete (soft), search,
//! params, tags. Artifacts live at `<experiment location>/models/<model_id>/artifacts`
//! in the proxied artifact store; metrics are the tracking metrics logged with the id.

use super::validation as v;
use crate::error::{ApiResult, MlflowError};
use crate::params;
use crate::services::experiments::get_active_experiment;
use crate::services::validation::validate_key;
use crate::store::db::{transaction, Db, DbExt, Row, SqlValue};
use crate::util::{ids, names, page_token, time::now_ms};
use mlflow_wire::logged_models::{
    LoggedModel, LoggedModelData, LoggedModelInfo, LoggedModelRegistration,
};
use mlflow_wire::tracking::{KeyValue, Metric};

/// The tag listing a logged model's registrations (a JSON list of `{name, version}`).
pub const MODEL_VERSIONS_TAG: &str = "mlflow.modelVersions";

pub const PENDING: &str = "LOGGED_MODEL_PENDING";
const STATUSES: [&str; 3] = [PENDING, "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"];

const COLUMNS: &str =
    "lm.model_id, lm.experiment_id, lm.name, lm.artifact_location, lm.creation_timestamp_ms, \
     lm.last_updated_timestamp_ms, lm.status, lm.status_message, lm.model_type, lm.source_run_id";

fn not_found(model_id: &str) -> MlflowError {
    MlflowError::not_found(format!("Logged model with ID '{model_id}' not found."))
}

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
pub fn get(db: &dyn Db, model_id: &str, allow_deleted: bool) -> ApiResult<LoggedModel> {
    let live = if allow_deleted {
        ""
    } else {
        " AND lm.lifecycle_stage = 'active'"
    };
    let row = db
        .query_one(
            &format!("SELECT {COLUMNS} FROM logged_models lm WHERE lm.model_id = ?{live}"),
            &params![model_id],
        )?
        .ok_or_else(|| not_found(model_id))?;
    from_row(db, &row)
}

fn require(db: &dyn Db, model_id: &str) -> ApiResult<()> {
    get(db, model_id, false).map(drop)
}

/// What a client may give when creating a logged model.
pub struct NewLoggedModel<'a> {
    pub experiment_id: &'a str,
    pub name: Option<&'a str>,
    pub model_type: Option<&'a str>,
    pub source_run_id: Option<&'a str>,
    pub params: &'a [KeyValue],
    pub tags: &'a [KeyValue],
}

pub fn create(db: &dyn Db, new: &NewLoggedModel<'_>) -> ApiResult<LoggedModel> {
    if let Some(name) = new.name {
        v::logged_model_name(name)?;
    }
    let params = checked_pairs("param", new.params)?;
    let tags = checked_pairs("tag", new.tags)?;
    let experiment = get_active_experiment(db, new.experiment_id)?;
    let model_id = ids::new_logged_model_id();
    let location = format!(
        "{}/models/{model_id}/artifacts",
        experiment.artifact_location.trim_end_matches('/')
    );
    let name = new.name.map_or_else(names::random_run_name, str::to_string);
    transaction(db, || {
        let now = now_ms();
        db.exec(
            "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, creation_timestamp_ms,
                 last_updated_timestamp_ms, status, model_type, source_run_id)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            &params![
                model_id.as_str(),
                experiment.experiment_id.parse::<i64>().unwrap_or(0),
                name.as_str(),
                location.as_str(),
                now,
                now,
                PENDING,
                new.model_type.filter(|t| !t.is_empty()),
                new.source_run_id.filter(|r| !r.is_empty())
            ],
        )?;
        write_pairs(db, "logged_model_params", &model_id, &params)?;
        write_pairs(db, "logged_model_tags", &model_id, &tags)
    })?;
    get(db, &model_id, false)
}

fn checked_pairs(kind: &str, pairs: &[KeyValue]) -> ApiResult<Vec<(String, String)>> {
    pairs
        .iter()
        .map(|p| {
            Ok((
                validate_key(kind, p.key.as_deref())?,
                p.value.clone().unwrap_or_default(),
            ))
        })
        .collect()
}

fn write_pairs(
    db: &dyn Db,
    table: &str,
    model_id: &str,
    pairs: &[(String, String)],
) -> ApiResult<()> {
    for (key, value) in pairs {
        db.exec(
            &format!("INSERT OR REPLACE INTO {table} (model_id, key, value) VALUES (?, ?, ?)"),
            &params![model_id, key.as_str(), value.as_str()],
        )?;
    }
    Ok(())
}

/// The stored status name of a status given by name or by its proto number.
pub fn status_name(status: &str) -> ApiResult<&'static str> {
    let s = status.trim();
    let by_number = match s {
        "1" => Some(STATUSES[0]),
        "2" => Some(STATUSES[1]),
        "3" => Some(STATUSES[2]),
        _ => None,
    };
    by_number
        .or_else(|| STATUSES.iter().copied().find(|k| k.eq_ignore_ascii_case(s)))
        .ok_or_else(|| {
            MlflowError::invalid(format!(
                "Invalid logged model status '{status}'; expected one of {}",
                STATUSES.join(", ")
            ))
        })
}

/// Sets the status (PATCH `logged-models/{id}`), typically READY after the upload.
pub fn finalize(db: &dyn Db, model_id: &str, status: &str) -> ApiResult<LoggedModel> {
    let status = status_name(status)?;
    require(db, model_id)?;
    db.exec(
        "UPDATE logged_models SET status = ?, last_updated_timestamp_ms = ? WHERE model_id = ?",
        &params![status, now_ms(), model_id],
    )?;
    get(db, model_id, false)
}

pub fn delete(db: &dyn Db, model_id: &str) -> ApiResult<()> {
    require(db, model_id)?;
    db.exec(
        "UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_timestamp_ms = ? WHERE model_id = ?",
        &params![now_ms(), model_id],
    )
}

pub fn set_tags(db: &dyn Db, model_id: &str, tags: &[KeyValue]) -> ApiResult<()> {
    let tags = checked_pairs("tag", tags)?;
    require(db, model_id)?;
    transaction(db, || write_pairs(db, "logged_model_tags", model_id, &tags))
}

pub fn delete_tag(db: &dyn Db, model_id: &str, key: &str) -> ApiResult<()> {
    require(db, model_id)?;
    let existing = db.query_one(
        "SELECT 1 FROM logged_model_tags WHERE model_id = ? AND key = ?",
        &params![model_id, key],
    )?;
    if existing.is_none() {
        return Err(MlflowError::not_found(format!(
            "No tag with key '{key}' found for model with ID '{model_id}'."
        )));
    }
    db.exec(
        "DELETE FROM logged_model_tags WHERE model_id = ? AND key = ?",
        &params![model_id, key],
    )
}

pub fn log_params(db: &dyn Db, model_id: &str, params: &[KeyValue]) -> ApiResult<()> {
    let params = checked_pairs("param", params)?;
    require(db, model_id)?;
    transaction(db, || {
        write_pairs(db, "logged_model_params", model_id, &params)
    })
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
        "INSERT OR IGNORE INTO logged_model_metrics
             (model_id, key, timestamp, step, value, is_nan, run_uuid, dataset_name, dataset_digest)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        "INSERT OR REPLACE INTO logged_model_tags (model_id, key, value) VALUES (?, ?, ?)",
        &params![
            model_id,
            MODEL_VERSIONS_TAG,
            serde_json::Value::from(all).to_string()
        ],
    )
}

/// One page of search_logged_models over `experiment_ids` and the next page token.
pub fn search(
    db: &dyn Db,
    experiment_ids: &[String],
    filter: Option<&str>,
    order_by: &[(String, bool)],
    max_results: Option<i64>,
    token: Option<&str>,
) -> ApiResult<(Vec<LoggedModel>, Option<String>)> {
    if experiment_ids.is_empty() {
        return Err(MlflowError::missing("experiment_ids"));
    }
    crate::search::limits::check_experiment_ids(experiment_ids)?;
    let limit = super::versions::v_max(
        max_results,
        v::DEFAULT_SEARCH_LOGGED_MODELS,
        v::MAX_SEARCH_LOGGED_MODELS,
    )?;
    let offset = page_token::decode(token)?;
    let filter = super::search::logged_models_filter(filter.unwrap_or(""))?;
    let order = super::search::logged_models_order(order_by)?;
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
    page_token::page(&rows, limit, offset, |r| from_row(db, r))
}
