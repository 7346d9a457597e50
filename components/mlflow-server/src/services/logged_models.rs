//! MLflow 3 logged models: create (PENDING), get, finalize, delete (soft), search,
//! params, tags — MLflow's rules for them over `store::logged_models`. Artifacts live at
//! `<experiment location>/models/<model_id>/artifacts` in the proxied artifact store;
//! metrics are the tracking metrics logged with the model's id.

use super::experiments::get_active_experiment;
use super::registry_validation as v;
use super::validation::validate_key;
use crate::error::{ApiResult, MlflowError};
use crate::store::db::{transaction, Db};
use crate::store::logged_models::{self as store, NewRow};
use crate::util::{ids, names, page_token, time::now_ms};
use mlflow_wire::logged_models::LoggedModel;
use mlflow_wire::tracking::KeyValue;

pub const PENDING: &str = "LOGGED_MODEL_PENDING";
const STATUSES: [&str; 3] = [PENDING, "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"];

fn not_found(model_id: &str) -> MlflowError {
    MlflowError::not_found(format!("Logged model with ID '{model_id}' not found."))
}

/// A logged model; deleted ones only with `allow_deleted`.
pub fn get(db: &dyn Db, model_id: &str, allow_deleted: bool) -> ApiResult<LoggedModel> {
    store::get(db, model_id, allow_deleted)?.ok_or_else(|| not_found(model_id))
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
        store::insert(
            db,
            &NewRow {
                model_id: &model_id,
                experiment_id: experiment.experiment_id.parse::<i64>().unwrap_or(0),
                name: &name,
                artifact_location: &location,
                now: now_ms(),
                status: PENDING,
                model_type: new.model_type.filter(|t| !t.is_empty()),
                source_run_id: new.source_run_id.filter(|r| !r.is_empty()),
            },
        )?;
        store::set_params(db, &model_id, &params)?;
        store::set_tags(db, &model_id, &tags)
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
    store::set_status(db, model_id, status, now_ms())?;
    get(db, model_id, false)
}

pub fn delete(db: &dyn Db, model_id: &str) -> ApiResult<()> {
    require(db, model_id)?;
    store::mark_deleted(db, model_id, now_ms())
}

pub fn set_tags(db: &dyn Db, model_id: &str, tags: &[KeyValue]) -> ApiResult<()> {
    let tags = checked_pairs("tag", tags)?;
    require(db, model_id)?;
    transaction(db, || store::set_tags(db, model_id, &tags))
}

pub fn delete_tag(db: &dyn Db, model_id: &str, key: &str) -> ApiResult<()> {
    require(db, model_id)?;
    if !store::tag_exists(db, model_id, key)? {
        return Err(MlflowError::not_found(format!(
            "No tag with key '{key}' found for model with ID '{model_id}'."
        )));
    }
    store::delete_tag(db, model_id, key)
}

pub fn log_params(db: &dyn Db, model_id: &str, params: &[KeyValue]) -> ApiResult<()> {
    let params = checked_pairs("param", params)?;
    require(db, model_id)?;
    transaction(db, || store::set_params(db, model_id, &params))
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
    let limit = v::max_results(
        max_results,
        v::DEFAULT_SEARCH_LOGGED_MODELS,
        v::MAX_SEARCH_LOGGED_MODELS,
    )?;
    let offset = page_token::decode(token)?;
    let (models, has_more) = store::search(
        db,
        experiment_ids,
        filter.unwrap_or(""),
        order_by,
        limit,
        offset,
    )?;
    let next = page_token::next(offset, models.len(), has_more);
    Ok((models, next))
}
