//! Reclaiming idle uploads: what goes, what stays, and the bound setting.

use super::*;
use crate::params;
use crate::store::artifacts::{self as store, begin_upload, commit_upload, write_chunk};
use crate::store::db::{Db, DbExt};
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
