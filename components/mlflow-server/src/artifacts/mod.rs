//! The artifact store behind `/api/2.0/mlflow-artifacts/artifacts` (and the tracking
//! `artifacts/list`): files kept in Spin SQLite as fixed-size chunks, written and read one
//! chunk at a time so that large files stream through without being held in memory.

pub mod handlers;
pub mod paths;
#[cfg(test)]
mod paths_properties;
pub mod reclaim;
pub mod store;
