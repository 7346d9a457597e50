//! Reclaiming the chunks of uploads that never completed (a client that went away without
//! its connection being seen to close, or a host killed mid-upload).
//!
//! A Spin component has no start hook and no background task, so the trigger is the next
//! upload: [`super::artifacts::begin_upload`] first asks, with one indexed read, whether some
//! upload has been idle longer than the bound, and only then reclaims. Storage is only
//! ever needed again by writes, and uploads are the large ones, so leaked space is
//! returned before new space is taken; every other request pays nothing.
//!
//! Every blob starts as a row of `artifact_uploads` (a trigger on `artifact_blobs`), each
//! chunk written refreshes its `touched` time (a trigger on `artifact_chunks`), and the
//! commit deletes the row. Idle time is thus measured from the last chunk written, so an
//! upload that is still streaming is never taken however long it runs. A reclaimed upload
//! is marked (`touched = 0`) before its chunks go: from then on its writes and its commit
//! are refused (the statements check the mark), so a resumed client gets an error rather
//! than a hollow file, and a reclaim cut short by a crash is finished by the next one.

use super::db::{Db, DbExt};
use crate::error::{ApiResult, ErrorCode, MlflowError};
use crate::params;

/// Default idle bound: an upload that wrote no chunk (1 MiB) for an hour is dead. Under
/// `spinflow up` a body that stops for 30 s already ends the request (and the component
/// aborts the upload itself), so this only catches uploads whose request never ended.
pub const DEFAULT_IDLE_SECONDS: i64 = 3600;

/// Overrides the bound (seconds, at least 1), read from the component's environment:
/// `environment` in spin.toml, or `spinflow up -e`.
pub const IDLE_ENV: &str = "MLFLOW_UPLOAD_IDLE_RECLAIM_SECONDS";

/// Uploads reclaimed per trigger, and chunks (MiB) freed per statement: both bound the
/// time one upload spends reclaiming and the time the write lock is held at once.
const UPLOADS_PER_TRIGGER: i64 = 8;
const CHUNKS_PER_STATEMENT: i64 = 64;

pub fn idle_bound_ms() -> i64 {
    bound_ms(std::env::var(IDLE_ENV).ok().as_deref())
}

/// The bound for a setting (the default when unset or not a whole number of seconds ≥ 1).
fn bound_ms(setting: Option<&str>) -> i64 {
    setting
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|s| *s >= 1)
        .unwrap_or(DEFAULT_IDLE_SECONDS)
        .saturating_mul(1000)
}

/// Reclaims up to [`UPLOADS_PER_TRIGGER`] uploads idle for more than `idle_ms`; returns
/// how many. When none is idle (the usual case) this is one indexed read.
pub fn reclaim_idle(db: &dyn Db, idle_ms: i64) -> ApiResult<usize> {
    let now = db.dialect().now_ms();
    let any = db.query_one(
        &format!("SELECT 1 FROM artifact_uploads WHERE touched < {now} - ? LIMIT 1"),
        &params![idle_ms],
    )?;
    if any.is_none() {
        return Ok(0);
    }
    // One statement claims them: a chunk write or commit of the same upload happens
    // wholly before it (and then the upload is no longer idle) or sees the mark.
    let claimed = db.query(
        &format!(
            "UPDATE artifact_uploads SET touched = 0 WHERE blob_id IN (
                SELECT blob_id FROM artifact_uploads WHERE touched < {now} - ? ORDER BY touched LIMIT ?) RETURNING blob_id"
        ),
        &params![idle_ms, UPLOADS_PER_TRIGGER],
    )?;
    for row in &claimed {
        free_claimed(db, row.int(0))?;
    }
    Ok(claimed.len())
}

/// Frees a claimed upload's chunks a few at a time, then its blob, and its upload row
/// last, so that a crash part way leaves it claimed for the next reclaim.
fn free_claimed(db: &dyn Db, blob: i64) -> ApiResult<()> {
    let last = db
        .query_one(
            "SELECT MAX(seq) FROM artifact_chunks WHERE blob_id = ?",
            &params![blob],
        )?
        .and_then(|r| r.opt_int(0));
    if let Some(last) = last {
        for lo in (0..=last).step_by(CHUNKS_PER_STATEMENT as usize) {
            db.exec(
                "DELETE FROM artifact_chunks WHERE blob_id = ? AND seq >= ? AND seq < ?",
                &params![blob, lo, lo + CHUNKS_PER_STATEMENT],
            )?;
        }
    }
    forget_blob(db, blob)
}

/// Deletes a blob whose chunks are gone, then its pending-upload row.
pub(super) fn forget_blob(db: &dyn Db, blob: i64) -> ApiResult<()> {
    db.exec(
        "DELETE FROM artifact_blobs WHERE blob_id = ?",
        &params![blob],
    )?;
    db.exec(
        "DELETE FROM artifact_uploads WHERE blob_id = ?",
        &params![blob],
    )
}

/// The answer to a write or commit of an upload that was reclaimed meanwhile: transient
/// for the client, which sends the file again.
pub fn reclaimed(blob: i64) -> MlflowError {
    MlflowError::new(
        ErrorCode::TemporarilyUnavailable,
        format!(
            "The upload was idle too long and its data was reclaimed (upload {blob}); send it again."
        ),
    )
}

#[cfg(test)]
mod tests;
