//! Storage: SQL behind a small execution seam ([`db::Db`]) with four implementations —
//! SQLite through Spin (`spin`, in the wasm component) and rusqlite (`native`, unit
//! tests), PostgreSQL through Spin (`pg_spin`) and tokio-postgres (`pg_native`, unit
//! tests) — so the same SQL runs in all (the dialects differ in a few spellings,
//! [`db::Dialect`]; `pg_sql` rewrites placeholders for PostgreSQL). Only this module's children hold SQL; services above it
//! call one module per entity.
//!
//! Layout: `db` (the seam, values, rows, transactions), `select` (what `database_url`
//! selects) and `spin_store` (the component's store it opens), `migrations` (versioned
//! steps, applied on first use) with the tables in `schema`, and one module per entity.
//!
//! Artifact bytes have a seam of their own (`artifact_store`): chunks in the database
//! (`database_artifacts` over `artifacts`) or objects in an S3 bucket (`s3`), chosen by
//! the component's variables (`artifact_destination`).

pub mod aliases;
#[cfg(target_arch = "wasm32")]
pub mod artifact_destination;
pub mod artifact_store;
pub mod artifact_uploads;
pub mod artifacts;
pub mod database_artifacts;
pub mod db;
pub mod experiments;
pub mod inputs;
pub mod lifecycle;
pub mod logged_models;
pub mod metrics;
pub mod migrations;
pub mod model_versions;
#[cfg(test)]
pub mod native;
pub mod params;
pub mod pg_errors;
#[cfg(all(test, not(target_arch = "wasm32")))]
pub mod pg_native;
#[cfg(target_arch = "wasm32")]
pub mod pg_spin;
pub mod pg_sql;
pub mod registered_models;
pub mod run_data;
pub mod runs;
pub mod s3;
pub mod schema;
pub mod select;
#[cfg(target_arch = "wasm32")]
pub mod spin;
#[cfg(target_arch = "wasm32")]
pub mod spin_store;
pub mod tags;
#[cfg(test)]
pub mod testing;
