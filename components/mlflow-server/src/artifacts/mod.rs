//! The artifact store behind `/api/2.0/mlflow-artifacts/artifacts` (and the tracking
//! `artifacts/list`): files kept in Spin SQLite as fixed-size chunks, written and read one
//! chunk at a time so that large files stream through without being held in memory.

pub mod handlers;
pub mod paths;
pub mod store;

use crate::store::migrations::Migration;

pub const MIGRATIONS: &[Migration] = &[Migration {
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
}];
