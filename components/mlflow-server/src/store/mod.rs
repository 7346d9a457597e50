//! Storage: SQL behind a small execution seam ([`db::Db`]) with two implementations —
//! Spin SQLite (`spin`, in the wasm component) and rusqlite (`native`, unit tests) — so
//! the same SQL runs in both. Only this module's children hold SQL; services above it
//! call one module per entity.
//!
//! Layout: `db` (the seam, values, rows, transactions), `migrations` (versioned steps,
//! applied on first use) with the tables in `schema`, and one module per entity.

pub mod aliases;
pub mod artifact_uploads;
pub mod artifacts;
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
pub mod registered_models;
pub mod runs;
pub mod schema;
#[cfg(target_arch = "wasm32")]
pub mod spin;
pub mod tags;
#[cfg(test)]
pub mod testing;
