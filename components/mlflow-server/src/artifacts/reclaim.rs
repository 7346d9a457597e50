//! Reclaiming the chunks of uploads that never completed (a client that went away without
//! its connection being seen to close, or a host killed mid-upload).
//!
//! A Spin component has no start hook and no background task, so the trigger is the next
//! upload: [`super::store::begin_upload`] first asks, with one indexed read, whether some
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

use crate::error::{ApiResult, ErrorCode, MlflowError};
use crate::params;
use crate::store::db::{Db, DbExt};

use crate::store::schema::artifacts::sql_now_ms;

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
    let any = db.query_one(
        concat!(
            "SELECT 1 FROM artifact_uploads WHERE touched < ",
            sql_now_ms!(),
            " - ? LIMIT 1"
        ),
        &params![idle_ms],
    )?;
    if any.is_none() {
        return Ok(0);
    }
    // One statement claims them: a chunk write or commit of the same upload happens
    // wholly before it (and then the upload is no longer idle) or sees the mark.
    let claimed = db.query(
        concat!(
            "UPDATE artifact_uploads SET touched = 0 WHERE blob_id IN (
                SELECT blob_id FROM artifact_uploads WHERE touched < ",
            sql_now_ms!(),
            " - ? ORDER BY touched LIMIT ?) RETURNING blob_id"
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
    super::store::forget_blob(db, blob)
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
mod tests {
    use super::*;
    use crate::artifacts::store::{self, begin_upload, commit_upload, write_chunk};
    use crate::store::testing;

    const HOUR_MS: i64 = 3_600_000;

    fn count(db: &dyn Db, sql: &str) -> i64 {
        db.query_one(sql, &[]).unwrap().unwrap().int(0)
    }

    fn rows(db: &dyn Db) -> (i64, i64, i64) {
        (
            count(db, "SELECT COUNT(*) FROM artifact_chunks"),
            count(db, "SELECT COUNT(*) FROM artifact_blobs"),
            count(db, "SELECT COUNT(*) FROM artifact_uploads"),
        )
    }

    /// An upload that wrote `chunks` chunks and stopped, its last write `ago_ms` back.
    fn stalled_upload(db: &dyn Db, chunks: i64, ago_ms: i64) -> i64 {
        let blob = begin_upload(db).unwrap();
        for seq in 0..chunks {
            write_chunk(db, blob, seq, vec![seq as u8; 16]).unwrap();
        }
        db.exec(
            "UPDATE artifact_uploads SET touched = touched - ? WHERE blob_id = ?",
            &params![ago_ms, blob],
        )
        .unwrap();
        blob
    }

    #[test]
    fn the_next_upload_reclaims_an_idle_one_and_nothing_else() {
        let db = testing::db();
        store::put(&db, "0/r/artifacts/kept.bin", &[7u8; 40]).unwrap();
        stalled_upload(&db, 130, 2 * HOUR_MS); // more than two delete batches
        assert_eq!(rows(&db), (131, 2, 1));
        // `put` starts an upload, which reclaims first.
        store::put(&db, "0/r/artifacts/new.bin", b"new").unwrap();
        assert_eq!(rows(&db), (2, 2, 0));
        assert_eq!(
            store::get(&db, "0/r/artifacts/kept.bin").unwrap().unwrap(),
            [7u8; 40]
        );
    }

    #[test]
    fn a_streaming_upload_is_idle_from_its_last_chunk_not_its_start() {
        let db = testing::db();
        // Began two hours ago, but a chunk was just written.
        let blob = stalled_upload(&db, 1, 2 * HOUR_MS);
        write_chunk(&db, blob, 1, b"more".to_vec()).unwrap();
        assert_eq!(reclaim_idle(&db, HOUR_MS).unwrap(), 0);
        // Not idle for a second either: only older than the bound goes.
        assert_eq!(reclaim_idle(&db, 1000).unwrap(), 0);
        commit_upload(&db, "0/r/artifacts/slow.bin", blob, 20).unwrap();
        assert_eq!(rows(&db), (2, 1, 0));
    }

    #[test]
    fn a_reclaimed_upload_can_neither_write_nor_commit() {
        let db = testing::db();
        let blob = stalled_upload(&db, 2, 2 * HOUR_MS);
        assert_eq!(reclaim_idle(&db, HOUR_MS).unwrap(), 1);
        let write = write_chunk(&db, blob, 2, b"late".to_vec()).unwrap_err();
        assert_eq!(write.status(), 503, "{}", write.message);
        let commit = commit_upload(&db, "0/r/artifacts/late.bin", blob, 40).unwrap_err();
        assert_eq!(commit.status(), 503, "{}", commit.message);
        assert_eq!(rows(&db), (0, 0, 0));
        assert!(store::open(&db, "0/r/artifacts/late.bin")
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_reclaim_cut_short_is_finished_by_the_next() {
        let db = testing::db();
        let blob = stalled_upload(&db, 3, 0);
        // Claimed (as the first statement of a reclaim does), then the process died.
        db.exec(
            "UPDATE artifact_uploads SET touched = 0 WHERE blob_id = ?",
            &params![blob],
        )
        .unwrap();
        assert!(write_chunk(&db, blob, 3, b"x".to_vec()).is_err());
        assert_eq!(reclaim_idle(&db, HOUR_MS).unwrap(), 1);
        assert_eq!(rows(&db), (0, 0, 0));
    }

    #[test]
    fn each_trigger_reclaims_a_bounded_number() {
        let db = testing::db();
        // Started together (each start would reclaim the idle ones before it), then idle.
        for _ in 0..10 {
            stalled_upload(&db, 1, 0);
        }
        db.exec(
            "UPDATE artifact_uploads SET touched = touched - ?",
            &params![2 * HOUR_MS],
        )
        .unwrap();
        assert_eq!(reclaim_idle(&db, HOUR_MS).unwrap(), 8);
        assert_eq!(reclaim_idle(&db, HOUR_MS).unwrap(), 2);
        assert_eq!(reclaim_idle(&db, HOUR_MS).unwrap(), 0);
        assert_eq!(rows(&db), (0, 0, 0));
    }

    #[test]
    fn committed_and_aborted_uploads_leave_no_pending_row() {
        let db = testing::db();
        store::put(&db, "0/r/artifacts/a", b"a").unwrap();
        store::put(&db, "0/r/artifacts/a", b"b").unwrap();
        let blob = begin_upload(&db).unwrap();
        write_chunk(&db, blob, 0, b"c".to_vec()).unwrap();
        store::abort_upload(&db, blob).unwrap();
        assert_eq!(rows(&db), (1, 1, 0));
    }

    #[test]
    fn orphans_of_earlier_builds_become_pending_uploads() {
        let db = crate::store::native::NativeDb::open_in_memory();
        let [v1, v2] = crate::store::schema::artifacts::ARTIFACT_MIGRATIONS else {
            panic!("two artifact migrations")
        };
        let run = |statements: &[&str]| {
            for sql in statements {
                db.exec(sql, &[]).unwrap();
            }
        };
        run(v1.statements);
        // Blob 1 is a committed file, blob 2 an upload killed an hour and more ago.
        run(&[
            "INSERT INTO artifact_blobs (blob_id, created) VALUES (1, 0), (2, 0)",
            "INSERT INTO artifact_chunks (blob_id, seq, data) VALUES (1, 0, x'01'), (2, 0, x'02')",
            "INSERT INTO artifact_files (path, blob_id, size, updated) VALUES ('f', 1, 1, 0)",
        ]);
        run(v2.statements);
        let pending = db
            .query_one("SELECT group_concat(blob_id) FROM artifact_uploads", &[])
            .unwrap()
            .unwrap()
            .text(0);
        assert_eq!(pending, "2");
        assert_eq!(reclaim_idle(&db, HOUR_MS).unwrap(), 1);
        assert_eq!(rows(&db), (1, 1, 0));
        assert_eq!(store::get(&db, "f").unwrap().unwrap(), [1]);
    }

    #[test]
    fn the_bound_setting() {
        assert_eq!(bound_ms(None), DEFAULT_IDLE_SECONDS * 1000);
        assert_eq!(bound_ms(Some(" 5 ")), 5000);
        for bad in ["0", "-3", "1.5", "soon", ""] {
            assert_eq!(bound_ms(Some(bad)), DEFAULT_IDLE_SECONDS * 1000, "{bad}");
        }
    }
}
