//! The artifact store behind `/api/2.0/mlflow-artifacts/artifacts` (and the tracking
//! `artifacts/list`): files kept in Spin SQLite as fixed-size chunks, written and read one
//! chunk at a time so that large files stream through without being held in memory.

pub mod handlers;
pub mod paths;
#[cfg(test)]
mod paths_properties;
pub mod reclaim;
pub mod store;

use crate::store::migrations::Migration;

pub const MIGRATIONS: &[Migration] = &[
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
                reclaim::sql_now_ms!(),
                "); END"
            ),
            concat!(
                "CREATE TRIGGER artifact_chunk_touches_upload AFTER INSERT ON artifact_chunks BEGIN
                UPDATE artifact_uploads SET touched = ",
                reclaim::sql_now_ms!(),
                " WHERE blob_id = new.blob_id; END"
            ),
        ],
    },
];
