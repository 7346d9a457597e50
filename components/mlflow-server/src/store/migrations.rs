//! Versioned schema migrations, applied by the component itself on first use.
//!
//! Each area owns an ordered list of [`Migration`] steps under its own name (in
//! `super::schema`), so areas evolve independently: a new area adds one `&[Migration]`
//! line to [`AREAS`], and a
//! schema change in an area appends a step with the next version number (never edit a
//! shipped step: old databases are migrated in place by running the steps they lack).
//! Applied steps are recorded in `schema_migrations(area, version)`.
//!
//! Every request checks the recorded versions with one read (or, on a hot path, its
//! first statement carries [`SCHEMA_IS_CURRENT`]); only when something is missing does
//! it take the write lock and migrate, re-checking under the lock so that
//! concurrent first requests migrate once. On PostgreSQL that lock is a transaction-scoped
//! advisory lock ([`MIGRATION_LOCK`]): replicas starting together queue on it, and the
//! DDL commits (or not) with the versions it records.

use super::db::{transaction, Db, DbExt, Dialect};
use super::schema::{self, Migration};
use crate::error::{MlflowError, StoreError};
use crate::params;

/// Every area's steps. New areas plug in here.
pub const AREAS: &[&[Migration]] = &[
    schema::tracking::TRACKING_MIGRATIONS,
    schema::artifacts::ARTIFACT_MIGRATIONS,
    schema::registry::REGISTRY_MIGRATIONS,
];

/// How many steps this build knows, over every area.
pub const STEPS: i64 = {
    let mut n = 0;
    let mut i = 0;
    while i < AREAS.len() {
        n += AREAS[i].len();
        i += 1;
    }
    n as i64
};

/// A condition that holds when the database has every step of this build, with
/// [`STEPS`] bound to its `?`. A hot statement carries it so that its request needs no
/// separate check: when the statement writes nothing (or fails, before the first
/// migration) its caller runs [`ensure_schema`] and tries again. Steps are applied in
/// order and newer builds know every older step, so the count alone says it; a file
/// database with them all writes ahead already ([`ensure_schema`] switches it before
/// migrating).
pub const SCHEMA_IS_CURRENT: &str = "(SELECT COUNT(*) FROM schema_migrations) >= ?";

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    area TEXT NOT NULL, version INTEGER NOT NULL, applied_at INTEGER NOT NULL,
    PRIMARY KEY (area, version))";

const CREATE_TABLE_POSTGRES: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    area TEXT NOT NULL, version BIGINT NOT NULL, applied_at BIGINT NOT NULL,
    PRIMARY KEY (area, version))";

/// The key of the advisory lock that migrating PostgreSQL holds ("mlflow" in ASCII).
const MIGRATION_LOCK: i64 = 0x6d6c_666c_6f77;

fn applied(db: &dyn Db) -> Result<Vec<(String, i64)>, MlflowError> {
    Ok(db
        .query("SELECT area, version FROM schema_migrations", &[])?
        .into_iter()
        .map(|r| (r.text(0), r.int(1)))
        .collect())
}

/// The applied steps, and whether the database already writes ahead (WAL), in one
/// statement: every request asks. Before the first migration the table does not exist
/// and the read fails, quietly (a `StoreError`, not an `MlflowError`, which logs).
fn applied_and_journal(db: &dyn Db) -> Result<(Vec<(String, i64)>, bool), StoreError> {
    let rows = db.execute(
        "SELECT area, version, (SELECT journal_mode FROM pragma_journal_mode) FROM schema_migrations",
        &[],
    )?;
    // An in-memory database has no log to switch to ("memory").
    let wal = rows
        .first()
        .is_some_and(|r| matches!(r.text(2).to_ascii_lowercase().as_str(), "wal" | "memory"));
    Ok((rows.iter().map(|r| (r.text(0), r.int(1))).collect(), wal))
}

/// Switches a file database to write-ahead logging, once (the mode is kept in the
/// file). Readers then never wait for the writer, and a commit is one synced append
/// to the log instead of a synced journal and database; commits stay synced
/// (`synchronous` is left at SQLite's FULL), as the data of record needs. An
/// in-memory database stays as it is.
fn write_ahead(db: &dyn Db) -> Result<(), MlflowError> {
    db.query("PRAGMA journal_mode = WAL", &[]).map(drop)
}

fn pending(done: &[(String, i64)]) -> Vec<&'static Migration> {
    AREAS
        .iter()
        .flat_map(|steps| steps.iter())
        .filter(|m| !done.iter().any(|(a, v)| a == m.area && *v == m.version))
        .collect()
}

/// Brings the database to the current schema and journal mode (one read when it
/// already is there).
pub fn ensure_schema(db: &dyn Db) -> Result<(), MlflowError> {
    if db.dialect() == Dialect::Postgres {
        return ensure_schema_postgres(db);
    }
    match applied_and_journal(db) {
        Ok((done, true)) if pending(&done).is_empty() => return Ok(()),
        Ok((done, false)) if pending(&done).is_empty() => return write_ahead(db),
        _ => {}
    }
    write_ahead(db)?;
    db.exec(CREATE_TABLE, &[])?;
    transaction(db, || {
        let done = applied(db)?;
        for step in pending(&done) {
            for sql in step.statements {
                db.exec(sql, &[]).map_err(|e| {
                    MlflowError::internal(format!(
                        "migration {} v{} failed: {}",
                        step.area, step.version, e.message
                    ))
                })?;
            }
            record(db, step)?;
        }
        Ok(())
    })
}

fn record(db: &dyn Db, step: &Migration) -> Result<(), MlflowError> {
    db.exec(
        "INSERT INTO schema_migrations (area, version, applied_at) VALUES (?, ?, ?)",
        &params![step.area, step.version, crate::util::time::now_ms()],
    )
}

/// PostgreSQL: the same steps in its DDL, under [`MIGRATION_LOCK`]. DDL is
/// transactional there, so a failed step leaves nothing behind.
fn ensure_schema_postgres(db: &dyn Db) -> Result<(), MlflowError> {
    // Before the first migration the table does not exist: the read fails (quietly:
    // not through `MlflowError`, which logs), and the migration below creates it.
    if let Ok(rows) = db.execute("SELECT area, version FROM schema_migrations", &[]) {
        let done: Vec<(String, i64)> = rows.iter().map(|r| (r.text(0), r.int(1))).collect();
        if pending(&done).is_empty() {
            return Ok(());
        }
    }
    transaction(db, || {
        db.exec("SELECT pg_advisory_xact_lock(?)", &params![MIGRATION_LOCK])?;
        db.exec(CREATE_TABLE_POSTGRES, &[])?;
        let done = applied(db)?;
        for step in pending(&done) {
            for sql in step.postgres {
                db.exec(sql, &[]).map_err(|e| {
                    MlflowError::internal(format!(
                        "migration {} v{} failed: {}",
                        step.area, step.version, e.message
                    ))
                })?;
            }
            record(db, step)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests;
