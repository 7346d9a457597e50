//! The tables, as versioned migration steps per area: `tracking` (experiments, runs,
//! params, tags, metrics, inputs), `registry` (registered models, versions, aliases,
//! logged models) and `artifacts` (chunked files, pending uploads). Append new steps;
//! never edit shipped ones. `super::migrations` applies them.

pub mod artifacts;
pub mod registry;
pub mod tracking;

/// One schema step: single SQL statements run in order inside one transaction, in
/// SQLite's DDL (`statements`) and PostgreSQL's (`postgres`), which must leave the same
/// tables, columns and keys. PostgreSQL's types: INTEGER → BIGINT, REAL → DOUBLE
/// PRECISION, BLOB → BYTEA, `INTEGER PRIMARY KEY AUTOINCREMENT` → an identity column;
/// triggers call a PL/pgSQL function of the trigger's name; foreign keys are left out,
/// as SQLite (without `PRAGMA foreign_keys`) does not enforce them.
pub struct Migration {
    pub area: &'static str,
    pub version: i64,
    pub statements: &'static [&'static str],
    pub postgres: &'static [&'static str],
}
