//! Registered models: create, get, rename, update, delete, search, latest versions and
//! tags — MLflow's rules for them over `store::registered_models` (a rename or delete
//! carries the model's versions, tags and aliases along).

use super::registry_validation as v;
use crate::error::{ApiResult, MlflowError};
use crate::store::db::{transaction, Db};
use crate::store::{aliases, model_versions, registered_models as store};
use crate::util::{page_token, time::now_ms};
use mlflow_wire::registry::{ModelVersion, RegisteredModel};
use mlflow_wire::tracking::KeyValue;

fn not_found(name: &str) -> MlflowError {
    MlflowError::not_found(format!("Registered Model with name={name} not found"))
}

fn already_exists(name: &str) -> MlflowError {
    MlflowError::already_exists(format!("Registered Model (name={name}) already exists."))
}

/// Fails with RESOURCE_DOES_NOT_EXIST unless `name` is registered.
pub fn require(db: &dyn Db, name: &str) -> ApiResult<()> {
    if store::exists(db, name)? {
        Ok(())
    } else {
        Err(not_found(name))
    }
}

pub fn get(db: &dyn Db, name: &str) -> ApiResult<RegisteredModel> {
    store::get(db, name)?.ok_or_else(|| not_found(name))
}

pub fn create(
    db: &dyn Db,
    name: &str,
    tags: &[KeyValue],
    description: Option<&str>,
) -> ApiResult<RegisteredModel> {
    let mut checked = Vec::new();
    for t in tags {
        checked.push(v::tag(t.key.as_deref(), t.value.as_deref())?);
    }
    transaction(db, || {
        if store::exists(db, name)? {
            return Err(already_exists(name));
        }
        store::insert(db, name, now_ms(), description)?;
        for (key, value) in &checked {
            store::set_tag(db, name, key, value)?;
        }
        Ok(())
    })?;
    get(db, name)
}

/// Renames a model with its versions, tags and aliases.
pub fn rename(db: &dyn Db, name: &str, new_name: &str) -> ApiResult<RegisteredModel> {
    transaction(db, || {
        require(db, name)?;
        if name != new_name && store::exists(db, new_name)? {
            return Err(already_exists(new_name));
        }
        let now = now_ms();
        store::rename(db, name, new_name, now)?;
        model_versions::rename_model(db, name, new_name, now)?;
        store::rename_tags(db, name, new_name)?;
        model_versions::rename_model_tags(db, name, new_name)?;
        aliases::rename_model(db, name, new_name)
    })?;
    get(db, new_name)
}

pub fn update(db: &dyn Db, name: &str, description: Option<&str>) -> ApiResult<RegisteredModel> {
    require(db, name)?;
    store::set_description(db, name, description, now_ms())?;
    get(db, name)
}

/// Deletes the model and everything registered under it.
pub fn delete(db: &dyn Db, name: &str) -> ApiResult<()> {
    transaction(db, || {
        require(db, name)?;
        aliases::delete_model(db, name)?;
        model_versions::delete_model(db, name)?;
        store::delete(db, name)
    })
}

/// The newest version in each requested stage (every stage when `stages` is empty),
/// in version order.
pub fn latest_versions(db: &dyn Db, name: &str, stages: &[String]) -> ApiResult<Vec<ModelVersion>> {
    let wanted = stages
        .iter()
        .map(|s| v::stage(Some(s)))
        .collect::<ApiResult<Vec<_>>>()?;
    model_versions::latest_per_stage(db, name, &wanted)
}

pub fn set_tag(db: &dyn Db, name: &str, key: &str, value: &str) -> ApiResult<()> {
    require(db, name)?;
    store::set_tag(db, name, key, value)
}

pub fn delete_tag(db: &dyn Db, name: &str, key: &str) -> ApiResult<()> {
    require(db, name)?;
    store::delete_tag(db, name, key)
}

/// One page of search_registered_models and the token of the next page.
pub fn search(
    db: &dyn Db,
    filter: Option<&str>,
    max_results: Option<i64>,
    order_by: &[String],
    token: Option<&str>,
) -> ApiResult<(Vec<RegisteredModel>, Option<String>)> {
    let limit = v::max_results(max_results, v::DEFAULT_SEARCH_MODELS, v::MAX_SEARCH_MODELS)?;
    let offset = page_token::decode(token)?;
    let (models, has_more) = store::search(db, filter.unwrap_or(""), order_by, limit, offset)?;
    let next = page_token::next(offset, models.len(), has_more);
    Ok((models, next))
}
