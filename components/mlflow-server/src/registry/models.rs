//! Registered models: create, get, rename, update, delete, search, latest versions,
//! tags and aliases.

use super::validation::{self as v, STAGE_DELETED};
use super::{search, versions};
use crate::error::{ApiResult, MlflowError};
use crate::params;
use crate::store::db::{transaction, Db, DbExt, Row, SqlValue};
use crate::util::{page_token, time::now_ms};
use mlflow_wire::registry::{ModelVersion, RegisteredModel, RegisteredModelAlias};
use mlflow_wire::tracking::KeyValue;

const COLUMNS: &str = "rm.name, rm.creation_time, rm.last_updated_time, rm.description, rm.user_id";

fn not_found(name: &str) -> MlflowError {
    MlflowError::not_found(format!("Registered Model with name={name} not found"))
}

/// Fails with RESOURCE_DOES_NOT_EXIST unless `name` is registered.
pub fn require(db: &dyn Db, name: &str) -> ApiResult<()> {
    db.query_one(
        "SELECT 1 FROM registered_models WHERE name = ?",
        &params![name],
    )?
    .map(drop)
    .ok_or_else(|| not_found(name))
}

fn from_row(db: &dyn Db, r: &Row) -> ApiResult<RegisteredModel> {
    let name = r.text(0);
    let tags = db
        .query(
            "SELECT key, value FROM registered_model_tags WHERE name = ? ORDER BY key",
            &params![name.as_str()],
        )?
        .iter()
        .map(|t| KeyValue::new(t.text(0), t.text(1)))
        .collect();
    let aliases = db
        .query(
            "SELECT alias, version FROM registered_model_aliases WHERE name = ? ORDER BY alias",
            &params![name.as_str()],
        )?
        .iter()
        .map(|a| RegisteredModelAlias {
            alias: a.text(0),
            version: a.int(1).to_string(),
        })
        .collect();
    Ok(RegisteredModel {
        latest_versions: latest_versions(db, &name, &[])?,
        name,
        creation_timestamp: r.opt_int(1),
        last_updated_timestamp: r.opt_int(2),
        description: r.opt_text(3),
        user_id: r.opt_text(4),
        tags,
        aliases,
    })
}

pub fn get(db: &dyn Db, name: &str) -> ApiResult<RegisteredModel> {
    let row = db
        .query_one(
            &format!("SELECT {COLUMNS} FROM registered_models rm WHERE rm.name = ?"),
            &params![name],
        )?
        .ok_or_else(|| not_found(name))?;
    from_row(db, &row)
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
        if db
            .query_one(
                "SELECT 1 FROM registered_models WHERE name = ?",
                &params![name],
            )?
            .is_some()
        {
            return Err(MlflowError::already_exists(format!(
                "Registered Model (name={name}) already exists."
            )));
        }
        let now = now_ms();
        db.exec(
            "INSERT INTO registered_models (name, creation_time, last_updated_time, description) VALUES (?, ?, ?, ?)",
            &params![name, now, now, description],
        )?;
        for (key, value) in &checked {
            db.exec(
                "INSERT OR REPLACE INTO registered_model_tags (name, key, value) VALUES (?, ?, ?)",
                &params![name, key.as_str(), value.as_str()],
            )?;
        }
        Ok(())
    })?;
    get(db, name)
}

/// Renames a model with its versions, tags and aliases.
pub fn rename(db: &dyn Db, name: &str, new_name: &str) -> ApiResult<RegisteredModel> {
    transaction(db, || {
        require(db, name)?;
        if name != new_name
            && db
                .query_one(
                    "SELECT 1 FROM registered_models WHERE name = ?",
                    &params![new_name],
                )?
                .is_some()
        {
            return Err(MlflowError::already_exists(format!(
                "Registered Model (name={new_name}) already exists."
            )));
        }
        let now = now_ms();
        db.exec(
            "UPDATE registered_models SET name = ?, last_updated_time = ? WHERE name = ?",
            &params![new_name, now, name],
        )?;
        db.exec(
            "UPDATE model_versions SET name = ?, last_updated_time = ? WHERE name = ?",
            &params![new_name, now, name],
        )?;
        for table in [
            "registered_model_tags",
            "model_version_tags",
            "registered_model_aliases",
        ] {
            db.exec(
                &format!("UPDATE {table} SET name = ? WHERE name = ?"),
                &params![new_name, name],
            )?;
        }
        Ok(())
    })?;
    get(db, new_name)
}

pub fn update(db: &dyn Db, name: &str, description: Option<&str>) -> ApiResult<RegisteredModel> {
    require(db, name)?;
    db.exec(
        "UPDATE registered_models SET description = ?, last_updated_time = ? WHERE name = ?",
        &params![description, now_ms(), name],
    )?;
    get(db, name)
}

/// Deletes the model and everything registered under it.
pub fn delete(db: &dyn Db, name: &str) -> ApiResult<()> {
    transaction(db, || {
        require(db, name)?;
        for table in [
            "registered_model_aliases",
            "model_version_tags",
            "model_versions",
            "registered_model_tags",
            "registered_models",
        ] {
            db.exec(
                &format!("DELETE FROM {table} WHERE name = ?"),
                &params![name],
            )?;
        }
        Ok(())
    })
}

/// The newest version in each requested stage (every stage when `stages` is empty),
/// in version order.
pub fn latest_versions(db: &dyn Db, name: &str, stages: &[String]) -> ApiResult<Vec<ModelVersion>> {
    let wanted = stages
        .iter()
        .map(|s| v::stage(Some(s)))
        .collect::<ApiResult<Vec<_>>>()?;
    let rows = db.query(
        &format!(
            "SELECT {} FROM model_versions mv
             WHERE mv.name = ? AND mv.current_stage != ? AND mv.version = (
                 SELECT MAX(o.version) FROM model_versions o WHERE o.name = mv.name AND o.current_stage = mv.current_stage)
             ORDER BY mv.version",
            versions::COLUMNS
        ),
        &params![name, STAGE_DELETED],
    )?;
    rows.iter()
        .filter(|r| wanted.is_empty() || wanted.contains(&r.text(6).as_str()))
        .map(|r| versions::from_row(db, r))
        .collect()
}

pub fn set_tag(db: &dyn Db, name: &str, key: &str, value: &str) -> ApiResult<()> {
    require(db, name)?;
    db.exec(
        "INSERT OR REPLACE INTO registered_model_tags (name, key, value) VALUES (?, ?, ?)",
        &params![name, key, value],
    )
}

pub fn delete_tag(db: &dyn Db, name: &str, key: &str) -> ApiResult<()> {
    require(db, name)?;
    db.exec(
        "DELETE FROM registered_model_tags WHERE name = ? AND key = ?",
        &params![name, key],
    )
}

/// Points `alias` at `version` (moving it when it exists); the version must be live.
pub fn set_alias(db: &dyn Db, name: &str, alias: &str, version: i64) -> ApiResult<()> {
    versions::get(db, name, version)?;
    db.exec(
        "INSERT OR REPLACE INTO registered_model_aliases (name, alias, version) VALUES (?, ?, ?)",
        &params![name, alias, version],
    )
}

pub fn delete_alias(db: &dyn Db, name: &str, alias: &str) -> ApiResult<()> {
    require(db, name)?;
    db.exec(
        "DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?",
        &params![name, alias],
    )
}

/// The version an alias points at. `latest` is the highest live version. A missing
/// alias is INVALID_PARAMETER_VALUE (400), as MLflow answers.
pub fn version_by_alias(db: &dyn Db, name: &str, alias: &str) -> ApiResult<ModelVersion> {
    require(db, name)?;
    if alias.eq_ignore_ascii_case("latest") {
        return latest_versions(db, name, &[])?
            .into_iter()
            .max_by_key(|mv| mv.version.parse::<i64>().unwrap_or(0))
            .ok_or_else(|| {
                MlflowError::not_found(format!("Latest version not found for model {name}."))
            });
    }
    let row = db
        .query_one(
            "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?",
            &params![name, alias],
        )?
        .ok_or_else(|| {
            MlflowError::invalid(format!("Registered model alias {alias} not found."))
        })?;
    versions::get(db, name, row.int(0))
}

/// One page of search_registered_models and the token of the next page.
pub fn search(
    db: &dyn Db,
    filter: Option<&str>,
    max_results: Option<i64>,
    order_by: &[String],
    token: Option<&str>,
) -> ApiResult<(Vec<RegisteredModel>, Option<String>)> {
    let limit = versions::v_max(max_results, v::DEFAULT_SEARCH_MODELS, v::MAX_SEARCH_MODELS)?;
    let offset = page_token::decode(token)?;
    let filter = search::registered_models_filter(filter.unwrap_or(""))?;
    let order = search::registered_models_order(order_by)?;
    let mut args: Vec<SqlValue> = filter.params;
    args.push((limit + 1).into());
    args.push(offset.into());
    let rows = db.query(
        &format!(
            "SELECT {COLUMNS} FROM registered_models rm WHERE 1 = 1{} ORDER BY {order} LIMIT ? OFFSET ?",
            filter.sql
        ),
        &args,
    )?;
    page_token::page(&rows, limit, offset, |r| from_row(db, r))
}
