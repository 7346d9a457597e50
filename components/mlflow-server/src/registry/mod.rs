//! The MLflow model registry (registered models, versions, aliases, stages, tags) and
//! MLflow 3 logged models.
//!
//! Layout: `schema` (tables, area `registry`), `validation` (MLflow's rules), `search`
//! (filters and orderings as SQL), one store module per entity (`models`, `versions`,
//! `logged_models`: plain functions over [`crate::store::db::Db`], unit-tested natively) and
//! the HTTP handlers (`api`, `logged_models_api`) that the router mounts under
//! `/api/2.0/mlflow/`.

pub mod api;
pub mod logged_models;
pub mod logged_models_api;
pub mod models;
pub mod search;
pub mod validation;
pub mod versions;

#[cfg(test)]
mod tests;
