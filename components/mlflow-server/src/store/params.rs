//! Run parameters (`params`): written once per key, never changed.

use super::db::{Db, DbExt, SqlValue};
use crate::error::ApiResult;
use crate::params;
use mlflow_wire::tracking::KeyValue;

/// The value logged for `key`, if any.
pub fn value(db: &dyn Db, run_id: &str, key: &str) -> ApiResult<Option<String>> {
    Ok(db
        .query_one(
            "SELECT value FROM params WHERE run_uuid = ? AND key = ?",
            &params![run_id, key],
        )?
        .map(|r| r.text(0)))
}

pub fn insert(db: &dyn Db, run_id: &str, key: &str, value: &str) -> ApiResult<()> {
    db.exec(
        "INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?)",
        &params![run_id, key, value],
    )
}

/// (run id, param) of the runs bound in `binds` (`marks` holds their placeholders), by key.
pub fn of_runs(db: &dyn Db, marks: &str, binds: &[SqlValue]) -> ApiResult<Vec<(String, KeyValue)>> {
    Ok(db
        .query(
            &format!(
                "SELECT run_uuid, key, value FROM params WHERE run_uuid IN ({marks}) ORDER BY key"
            ),
            binds,
        )?
        .iter()
        .map(|r| (r.text(0), KeyValue::new(r.text(1), r.text(2))))
        .collect())
}
