//! Registered models and their tags (`registered_models`, `registered_model_tags`); a
//! model is read with its aliases and the latest version of each stage.

use super::db::{Db, DbExt, Row, SqlValue};
use super::{aliases, model_versions};
use crate::error::ApiResult;
use crate::params;
use crate::search;
use mlflow_wire::registry::RegisteredModel;
use mlflow_wire::tracking::KeyValue;

const COLUMNS: &str = "rm.name, rm.creation_time, rm.last_updated_time, rm.description, rm.user_id";

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
    let aliases = aliases::of_model(db, &name)?;
    Ok(RegisteredModel {
        latest_versions: model_versions::latest_per_stage(db, &name, &[])?,
        name,
        creation_timestamp: r.opt_int(1),
        last_updated_timestamp: r.opt_int(2),
        description: r.opt_text(3),
        user_id: r.opt_text(4),
        tags,
        aliases,
    })
}

pub fn exists(db: &dyn Db, name: &str) -> ApiResult<bool> {
    Ok(db
        .query_one(
            "SELECT 1 FROM registered_models WHERE name = ?",
            &params![name],
        )?
        .is_some())
}

pub fn get(db: &dyn Db, name: &str) -> ApiResult<Option<RegisteredModel>> {
    db.query_one(
        &format!("SELECT {COLUMNS} FROM registered_models rm WHERE rm.name = ?"),
        &params![name],
    )?
    .map(|row| from_row(db, &row))
    .transpose()
}

pub fn insert(db: &dyn Db, name: &str, now: i64, description: Option<&str>) -> ApiResult<()> {
    db.exec(
        "INSERT INTO registered_models (name, creation_time, last_updated_time, description) VALUES (?, ?, ?, ?)",
        &params![name, now, now, description],
    )
}

pub fn set_tag(db: &dyn Db, name: &str, key: &str, value: &str) -> ApiResult<()> {
    db.exec(
        "INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?)
         ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
        &params![name, key, value],
    )
}

pub fn delete_tag(db: &dyn Db, name: &str, key: &str) -> ApiResult<()> {
    db.exec(
        "DELETE FROM registered_model_tags WHERE name = ? AND key = ?",
        &params![name, key],
    )
}

pub fn set_description(
    db: &dyn Db,
    name: &str,
    description: Option<&str>,
    now: i64,
) -> ApiResult<()> {
    db.exec(
        "UPDATE registered_models SET description = ?, last_updated_time = ? WHERE name = ?",
        &params![description, now, name],
    )
}

/// Stamps the model as updated `now` (its versions changed).
pub fn touch(db: &dyn Db, name: &str, now: i64) -> ApiResult<()> {
    db.exec(
        "UPDATE registered_models SET last_updated_time = ? WHERE name = ?",
        &params![now, name],
    )
}

/// Renames the model row (stamped `now`).
pub fn rename(db: &dyn Db, name: &str, new_name: &str, now: i64) -> ApiResult<()> {
    db.exec(
        "UPDATE registered_models SET name = ?, last_updated_time = ? WHERE name = ?",
        &params![new_name, now, name],
    )
}

/// Moves the model's tags to its new name.
pub fn rename_tags(db: &dyn Db, name: &str, new_name: &str) -> ApiResult<()> {
    db.exec(
        "UPDATE registered_model_tags SET name = ? WHERE name = ?",
        &params![new_name, name],
    )
}

/// Deletes the model row and its tags.
pub fn delete(db: &dyn Db, name: &str) -> ApiResult<()> {
    for table in ["registered_model_tags", "registered_models"] {
        db.exec(
            &format!("DELETE FROM {table} WHERE name = ?"),
            &params![name],
        )?;
    }
    Ok(())
}

/// Up to `limit` models of a search from `offset`, and whether more exist.
pub fn search(
    db: &dyn Db,
    filter: &str,
    order_by: &[String],
    limit: i64,
    offset: i64,
) -> ApiResult<(Vec<RegisteredModel>, bool)> {
    let filter = search::registry::registered_models_filter(filter)?.in_dialect(db.dialect());
    let order = search::registry::registered_models_order(order_by)?;
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
    let has_more = rows.len() as i64 > limit;
    let models = rows
        .iter()
        .take(limit as usize)
        .map(|r| from_row(db, r))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok((models, has_more))
}
