//! Run tags (`tags`).

use super::db::{Db, DbExt, SqlValue};
use crate::error::ApiResult;
use crate::params;

/// Tag rows per INSERT in [`insert_all`].
const TAG_ROWS: usize = 100;

/// Sets a tag (replacing its value).
pub fn set(db: &dyn Db, run_id: &str, key: &str, value: &str) -> ApiResult<()> {
    db.exec(
        "INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?)
         ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
        &params![run_id, key, value],
    )
}

/// One tag per key, the last value winning (as successive writes would), in their
/// order: PostgreSQL refuses a statement that writes the same row twice.
pub fn last_per_key(tags: &[(String, String)]) -> Vec<&(String, String)> {
    let mut last: Vec<&(String, String)> = Vec::with_capacity(tags.len());
    for tag in tags.iter().rev() {
        if !last.iter().any(|t| t.0 == tag.0) {
            last.push(tag);
        }
    }
    last.reverse();
    last
}

/// Sets many tags in as few statements as SQLite's limit on bound values allows.
pub fn insert_all(db: &dyn Db, run_id: &str, tags: &[(String, String)]) -> ApiResult<()> {
    for chunk in last_per_key(tags).chunks(TAG_ROWS) {
        let rows = vec!["(?, ?, ?)"; chunk.len()].join(", ");
        let binds: Vec<SqlValue> = chunk
            .iter()
            .flat_map(|(k, val)| params![run_id, k.as_str(), val.as_str()])
            .collect();
        db.exec(
            &format!("INSERT INTO tags (run_uuid, key, value) VALUES {rows} ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value"),
            &binds,
        )?;
    }
    Ok(())
}

pub fn value(db: &dyn Db, run_id: &str, key: &str) -> ApiResult<Option<String>> {
    Ok(db
        .query_one(
            "SELECT value FROM tags WHERE run_uuid = ? AND key = ?",
            &params![run_id, key],
        )?
        .map(|r| r.text(0)))
}

pub fn exists(db: &dyn Db, run_id: &str, key: &str) -> ApiResult<bool> {
    Ok(db
        .query_one(
            "SELECT 1 FROM tags WHERE run_uuid = ? AND key = ?",
            &params![run_id, key],
        )?
        .is_some())
}

pub fn delete(db: &dyn Db, run_id: &str, key: &str) -> ApiResult<()> {
    db.exec(
        "DELETE FROM tags WHERE run_uuid = ? AND key = ?",
        &params![run_id, key],
    )
}
