//! Registered-model aliases (`registered_model_aliases`): a name per model pointing at
//! one of its versions.

use super::db::{Db, DbExt};
use crate::error::ApiResult;
use crate::params;
use mlflow_wire::registry::RegisteredModelAlias;

/// The aliases of a model, by alias.
pub fn of_model(db: &dyn Db, name: &str) -> ApiResult<Vec<RegisteredModelAlias>> {
    Ok(db
        .query(
            "SELECT alias, version FROM registered_model_aliases WHERE name = ? ORDER BY alias",
            &params![name],
        )?
        .iter()
        .map(|a| RegisteredModelAlias {
            alias: a.text(0),
            version: a.int(1).to_string(),
        })
        .collect())
}

/// The aliases pointing at one version, sorted.
pub fn of_version(db: &dyn Db, name: &str, version: i64) -> ApiResult<Vec<String>> {
    Ok(db
        .query(
            "SELECT alias FROM registered_model_aliases WHERE name = ? AND version = ? ORDER BY alias",
            &params![name, version],
        )?
        .iter()
        .map(|a| a.text(0))
        .collect())
}

/// The version an alias points at.
pub fn version_of(db: &dyn Db, name: &str, alias: &str) -> ApiResult<Option<i64>> {
    Ok(db
        .query_one(
            "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?",
            &params![name, alias],
        )?
        .map(|r| r.int(0)))
}

/// Points `alias` at `version`, moving it when it exists.
pub fn set(db: &dyn Db, name: &str, alias: &str, version: i64) -> ApiResult<()> {
    db.exec(
        "INSERT INTO registered_model_aliases (name, alias, version) VALUES (?, ?, ?)
         ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
        &params![name, alias, version],
    )
}

pub fn delete(db: &dyn Db, name: &str, alias: &str) -> ApiResult<()> {
    db.exec(
        "DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?",
        &params![name, alias],
    )
}

/// Drops the aliases of one version.
pub fn delete_of_version(db: &dyn Db, name: &str, version: i64) -> ApiResult<()> {
    db.exec(
        "DELETE FROM registered_model_aliases WHERE name = ? AND version = ?",
        &params![name, version],
    )
}

/// Moves a model's aliases to its new name.
pub fn rename_model(db: &dyn Db, name: &str, new_name: &str) -> ApiResult<()> {
    db.exec(
        "UPDATE registered_model_aliases SET name = ? WHERE name = ?",
        &params![new_name, name],
    )
}

/// Drops every alias of a model.
pub fn delete_model(db: &dyn Db, name: &str) -> ApiResult<()> {
    db.exec(
        "DELETE FROM registered_model_aliases WHERE name = ?",
        &params![name],
    )
}
