//! Model versions and their tags (`model_versions`, `model_version_tags`). Deleted
//! versions stay as rows in stage [`STAGE_DELETED`], so numbers are never reused.

use super::aliases;
use super::db::{Db, DbExt, Dialect, Row, SqlValue};
use crate::error::ApiResult;
use crate::params;
use crate::search;
use mlflow_wire::registry::ModelVersion;
use mlflow_wire::tracking::KeyValue;

/// The stage of deleted versions: they are kept so that numbers are not reused.
pub const STAGE_DELETED: &str = "Deleted_Internal";

const COLUMNS: &str = "mv.name, mv.version, mv.creation_time, mv.last_updated_time, mv.description, \
     mv.user_id, mv.current_stage, mv.source, mv.run_id, mv.run_link, mv.status, mv.status_message, mv.model_id";

/// A version row with its tags and aliases.
fn from_row(db: &dyn Db, r: &Row) -> ApiResult<ModelVersion> {
    let (name, version) = (r.text(0), r.int(1));
    let tags = db
        .query(
            "SELECT key, value FROM model_version_tags WHERE name = ? AND version = ? ORDER BY key",
            &params![name.as_str(), version],
        )?
        .iter()
        .map(|t| KeyValue::new(t.text(0), t.text(1)))
        .collect();
    let aliases = aliases::of_version(db, &name, version)?;
    Ok(ModelVersion {
        name,
        version: version.to_string(),
        creation_timestamp: r.opt_int(2),
        last_updated_timestamp: r.opt_int(3),
        description: r.opt_text(4),
        user_id: r.opt_text(5),
        current_stage: r.opt_text(6),
        source: r.opt_text(7),
        run_id: r.opt_text(8),
        run_link: r.opt_text(9),
        status: r.opt_text(10),
        status_message: r.opt_text(11),
        tags,
        aliases,
        model_id: r.opt_text(12),
    })
}

/// The live (not deleted) version.
pub fn get(db: &dyn Db, name: &str, version: i64) -> ApiResult<Option<ModelVersion>> {
    db.query_one(
        &format!(
            "SELECT {COLUMNS} FROM model_versions mv WHERE mv.name = ? AND mv.version = ? AND mv.current_stage != ?"
        ),
        &params![name, version, STAGE_DELETED],
    )?
    .map(|row| from_row(db, &row))
    .transpose()
}

/// The newest live version in each of `stages` (every stage when empty), in version
/// order.
pub fn latest_per_stage(db: &dyn Db, name: &str, stages: &[&str]) -> ApiResult<Vec<ModelVersion>> {
    let rows = db.query(
        &format!(
            "SELECT {COLUMNS} FROM model_versions mv
             WHERE mv.name = ? AND mv.current_stage != ? AND mv.version = (
                 SELECT MAX(o.version) FROM model_versions o WHERE o.name = mv.name AND o.current_stage = mv.current_stage)
             ORDER BY mv.version"
        ),
        &params![name, STAGE_DELETED],
    )?;
    rows.iter()
        .filter(|r| stages.is_empty() || stages.contains(&r.text(6).as_str()))
        .map(|r| from_row(db, r))
        .collect()
}

/// The number the next version of `name` gets (deleted versions count). Callers hold a
/// transaction, in which the number stays theirs: on SQLite it holds the write lock; on
/// PostgreSQL the registered model's row is locked first, so that a concurrent creator
/// (another replica) waits, then reads the number this one took.
pub fn next_number(db: &dyn Db, name: &str) -> ApiResult<i64> {
    if db.dialect() == Dialect::Postgres {
        db.exec(
            "SELECT 1 FROM registered_models WHERE name = ? FOR UPDATE",
            &params![name],
        )?;
    }
    Ok(db
        .query_one(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE name = ?",
            &params![name],
        )?
        .map_or(1, |r| r.int(0)))
}

/// A new version as stored (stage None, status READY).
pub struct NewVersion<'a> {
    pub name: &'a str,
    pub version: i64,
    pub now: i64,
    pub description: Option<String>,
    pub source: &'a str,
    pub storage_location: &'a str,
    pub run_id: Option<String>,
    pub run_link: Option<String>,
    pub model_id: Option<String>,
}

pub fn insert(db: &dyn Db, v: &NewVersion<'_>) -> ApiResult<()> {
    db.exec(
        "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, current_stage, source, storage_location, run_id, run_link, status, model_id)
             VALUES (?, ?, ?, ?, ?, 'None', ?, ?, ?, ?, 'READY', ?)",
        &params![
            v.name,
            v.version,
            v.now,
            v.now,
            v.description.clone(),
            v.source,
            v.storage_location,
            v.run_id.clone(),
            v.run_link.clone(),
            v.model_id.clone()
        ],
    )
}

pub fn set_description(
    db: &dyn Db,
    name: &str,
    version: i64,
    description: Option<&str>,
    now: i64,
) -> ApiResult<()> {
    db.exec(
        "UPDATE model_versions SET description = ?, last_updated_time = ? WHERE name = ? AND version = ?",
        &params![description, now, name, version],
    )
}

/// Marks a version deleted, its details redacted (the row keeps the number taken).
pub fn mark_deleted(db: &dyn Db, name: &str, version: i64, now: i64) -> ApiResult<()> {
    db.exec(
        "UPDATE model_versions SET current_stage = ?, last_updated_time = ?, description = NULL, user_id = NULL,
                 source = 'REDACTED-SOURCE-PATH', storage_location = NULL, run_id = 'REDACTED-RUN-ID',
                 run_link = 'REDACTED-RUN-LINK', status_message = NULL
             WHERE name = ? AND version = ?",
        &params![STAGE_DELETED, now, name, version],
    )
}

/// Moves the other versions in `stage` to Archived.
pub fn archive_others(
    db: &dyn Db,
    name: &str,
    version: i64,
    stage: &str,
    now: i64,
) -> ApiResult<()> {
    db.exec(
        "UPDATE model_versions SET current_stage = 'Archived', last_updated_time = ?
                 WHERE name = ? AND version != ? AND current_stage = ?",
        &params![now, name, version, stage],
    )
}

pub fn set_stage(db: &dyn Db, name: &str, version: i64, stage: &str, now: i64) -> ApiResult<()> {
    db.exec(
        "UPDATE model_versions SET current_stage = ?, last_updated_time = ? WHERE name = ? AND version = ?",
        &params![stage, now, name, version],
    )
}

/// Where the version's files are: its storage location, or else its source.
pub fn download_location(db: &dyn Db, name: &str, version: i64) -> ApiResult<Option<String>> {
    Ok(db
        .query_one(
            "SELECT COALESCE(NULLIF(storage_location, ''), source) FROM model_versions WHERE name = ? AND version = ?",
            &params![name, version],
        )?
        .map(|r| r.text(0)))
}

pub fn set_tag(db: &dyn Db, name: &str, version: i64, key: &str, value: &str) -> ApiResult<()> {
    db.exec(
        "INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?)
         ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
        &params![name, version, key, value],
    )
}

pub fn delete_tag(db: &dyn Db, name: &str, version: i64, key: &str) -> ApiResult<()> {
    db.exec(
        "DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?",
        &params![name, version, key],
    )
}

/// Moves a model's versions to its new name (`now` stamps them).
pub fn rename_model(db: &dyn Db, name: &str, new_name: &str, now: i64) -> ApiResult<()> {
    db.exec(
        "UPDATE model_versions SET name = ?, last_updated_time = ? WHERE name = ?",
        &params![new_name, now, name],
    )
}

/// Moves the tags of a model's versions to its new name.
pub fn rename_model_tags(db: &dyn Db, name: &str, new_name: &str) -> ApiResult<()> {
    db.exec(
        "UPDATE model_version_tags SET name = ? WHERE name = ?",
        &params![new_name, name],
    )
}

/// Drops every version of a model, with their tags.
pub fn delete_model(db: &dyn Db, name: &str) -> ApiResult<()> {
    for table in ["model_version_tags", "model_versions"] {
        db.exec(
            &format!("DELETE FROM {table} WHERE name = ?"),
            &params![name],
        )?;
    }
    Ok(())
}

/// Up to `limit` live versions of a search from `offset`, and whether more exist.
pub fn search(
    db: &dyn Db,
    filter: &str,
    order_by: &[String],
    limit: i64,
    offset: i64,
) -> ApiResult<(Vec<ModelVersion>, bool)> {
    let filter = search::registry::model_versions_filter(filter)?.in_dialect(db.dialect());
    let order = search::registry::model_versions_order(order_by)?;
    let mut args = vec![SqlValue::from(STAGE_DELETED)];
    args.extend(filter.params);
    args.push((limit + 1).into());
    args.push(offset.into());
    let rows = db.query(
        &format!(
            "SELECT {COLUMNS} FROM model_versions mv WHERE mv.current_stage != ?{} ORDER BY {order} LIMIT ? OFFSET ?",
            filter.sql
        ),
        &args,
    )?;
    let has_more = rows.len() as i64 > limit;
    let versions = rows
        .iter()
        .take(limit as usize)
        .map(|r| from_row(db, r))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok((versions, has_more))
}
