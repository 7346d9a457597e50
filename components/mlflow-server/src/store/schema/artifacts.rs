//! Artifact tables (area `artifacts`): files stored as fixed-size chunks of a blob, and
//! the uploads not yet committed. Append new steps; never edit shipped ones.

use super::Migration;

/// Milliseconds since the epoch by the database's clock: every time of
/// `artifact_uploads` comes from it (triggers included), so no two clocks are compared.
macro_rules! sql_now_ms {
    () => {
        "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
    };
}
pub(crate) use sql_now_ms;

pub const ARTIFACT_MIGRATIONS: &[Migration] = &[
    Migration {
        area: "artifacts",
        version: 1,
        statements: &[
            // A blob is one upload; it becomes visible only when a file row points at it, so a
            // failed or concurrent upload never exposes partial content.
            "CREATE TABLE artifact_blobs (
            blob_id INTEGER PRIMARY KEY AUTOINCREMENT,
            created INTEGER NOT NULL)",
            "CREATE TABLE artifact_chunks (
            blob_id INTEGER NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL,
            PRIMARY KEY (blob_id, seq)) WITHOUT ROWID",
            "CREATE TABLE artifact_files (
            path TEXT PRIMARY KEY, blob_id INTEGER NOT NULL,
            size INTEGER NOT NULL, updated INTEGER NOT NULL)",
        ],
    },
    Migration {
        area: "artifacts",
        version: 2,
        statements: &[
            // The uploads not yet committed, with the time of their last chunk: what
            // `reclaim` collects once idle too long (touched = 0: being reclaimed).
            "CREATE TABLE artifact_uploads (
            blob_id INTEGER PRIMARY KEY, touched INTEGER NOT NULL)",
            "CREATE INDEX artifact_uploads_touched ON artifact_uploads (touched)",
            // Blobs of earlier builds that no file names: orphans of killed uploads (or
            // uploads in flight in an older process), idle since they began.
            "INSERT INTO artifact_uploads (blob_id, touched)
            SELECT blob_id, created FROM artifact_blobs
            WHERE blob_id NOT IN (SELECT blob_id FROM artifact_files)",
            // Triggers, so that neither costs a statement (a round trip to the host) and
            // each is atomic with the write it follows.
            concat!(
                "CREATE TRIGGER artifact_blob_is_pending AFTER INSERT ON artifact_blobs BEGIN
                INSERT INTO artifact_uploads (blob_id, touched) VALUES (new.blob_id, ",
                sql_now_ms!(),
                "); END"
            ),
            concat!(
                "CREATE TRIGGER artifact_chunk_touches_upload AFTER INSERT ON artifact_chunks BEGIN
                UPDATE artifact_uploads SET touched = ",
                sql_now_ms!(),
                " WHERE blob_id = new.blob_id; END"
            ),
        ],
    },
];
