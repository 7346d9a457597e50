//! Services: MLflow's semantics — validation, limits, states, how requests become store
//! calls and transactions — one module per area, over `crate::store`. Services take and
//! return wire types (`mlflow_wire`) and never hold SQL.
//!
//! Dependencies between services run one way: `validation` ← `registry_validation`;
//! `experiments` ← `runs` ← `metrics`; `experiments` ← `logged_models`;
//! `registered_models` ← `model_versions` (which also uses `runs` and `logged_models`) ←
//! `aliases`; `datasets` and `health` stand alone. Tracking services never use registry ones.

pub mod aliases;
pub mod artifact_paths;
pub mod artifacts;
pub mod datasets;
pub mod experiments;
pub mod health;
pub mod logged_models;
pub mod metrics;
pub mod model_versions;
pub mod registered_models;
pub mod registry_validation;
pub mod runs;
pub mod validation;

#[cfg(test)]
mod scale_tests;
