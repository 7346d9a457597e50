//! Run parameters (`params`): written once per key, never changed.

use super::db::{Db, DbExt};
use crate::error::ApiResult;
use crate::params;

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
