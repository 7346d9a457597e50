//! Experiments and their tags (`experiments`, `experiment_tags`).

use super::db::{Db, DbExt, Row};
use super::lifecycle::ViewType;
use crate::error::{ApiResult, MlflowError};
use crate::params;
use crate::search;
use mlflow_wire::tracking::{Experiment, KeyValue};

const COLUMNS: &str =
    "e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, e.last_update_time";

fn from_row(db: &dyn Db, r: &Row) -> ApiResult<Experiment> {
    let id = r.int(0);
    let tags = db
        .query(
            "SELECT key, value FROM experiment_tags WHERE experiment_id = ? ORDER BY key",
            &params![id],
        )?
        .iter()
        .map(|t| KeyValue::new(t.text(0), t.text(1)))
        .collect();
    Ok(Experiment {
        experiment_id: id.to_string(),
        name: r.text(1),
        artifact_location: r.text(2),
        lifecycle_stage: r.text(3),
        creation_time: r.opt_int(4),
        last_update_time: r.opt_int(5),
        tags,
    })
}

pub fn get(db: &dyn Db, id: i64) -> ApiResult<Option<Experiment>> {
    db.query_one(
        &format!("SELECT {COLUMNS} FROM experiments e WHERE e.experiment_id = ?"),
        &params![id],
    )?
    .map(|row| from_row(db, &row))
    .transpose()
}

/// The experiment of that name, an active one first.
pub fn get_by_name(db: &dyn Db, name: &str) -> ApiResult<Option<Experiment>> {
    db.query_one(
        &format!("SELECT {COLUMNS} FROM experiments e WHERE e.name = ? ORDER BY e.lifecycle_stage = 'active' DESC"),
        &params![name],
    )?
    .map(|row| from_row(db, &row))
    .transpose()
}

pub fn name_exists(db: &dyn Db, name: &str) -> ApiResult<bool> {
    Ok(db
        .query_one("SELECT 1 FROM experiments WHERE name = ?", &params![name])?
        .is_some())
}

/// Inserts an active experiment (artifact location still empty) and returns its id.
pub fn insert(db: &dyn Db, name: &str, now: i64) -> ApiResult<i64> {
    let row = db
        .query_one(
            "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time)
             VALUES (?, '', 'active', ?, ?) RETURNING experiment_id",
            &params![name, now, now],
        )?
        .ok_or_else(|| MlflowError::internal("experiment insert returned no id"))?;
    Ok(row.int(0))
}

pub fn set_artifact_location(db: &dyn Db, id: i64, location: &str) -> ApiResult<()> {
    db.exec(
        "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
        &params![location, id],
    )
}

pub fn rename(db: &dyn Db, id: i64, name: &str, now: i64) -> ApiResult<()> {
    db.exec(
        "UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?",
        &params![name, now, id],
    )
}

pub fn set_lifecycle(db: &dyn Db, id: i64, stage: &str, now: i64) -> ApiResult<()> {
    db.exec(
        "UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE experiment_id = ?",
        &params![stage, now, id],
    )
}

pub fn set_tag(db: &dyn Db, id: i64, key: &str, value: &str) -> ApiResult<()> {
    db.exec(
        "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)
         ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
        &params![id, key, value],
    )
}

pub fn tag_exists(db: &dyn Db, id: i64, key: &str) -> ApiResult<bool> {
    Ok(db
        .query_one(
            "SELECT 1 FROM experiment_tags WHERE experiment_id = ? AND key = ?",
            &params![id, key],
        )?
        .is_some())
}

pub fn delete_tag(db: &dyn Db, id: i64, key: &str) -> ApiResult<()> {
    db.exec(
        "DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?",
        &params![id, key],
    )
}

/// Up to `limit` experiments of a search from `offset`, and whether more exist.
pub fn search(
    db: &dyn Db,
    view: ViewType,
    filter: &str,
    order_by: &[String],
    limit: i64,
    offset: i64,
) -> ApiResult<(Vec<Experiment>, bool)> {
    let view = view.sql("e.lifecycle_stage");
    let filter = search::experiments::filter_sql(filter)?.in_dialect(db.dialect());
    let order = search::experiments::order_sql(order_by)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM experiments e WHERE {view}{}{} LIMIT ? OFFSET ?",
        filter.sql, order.sql
    );
    let mut binds = filter.params;
    binds.extend(order.params);
    binds.extend(params![limit + 1, offset]);
    let rows = db.query(&sql, &binds)?;
    let has_more = rows.len() as i64 > limit;
    let experiments = rows
        .iter()
        .take(limit as usize)
        .map(|r| from_row(db, r))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok((experiments, has_more))
}
