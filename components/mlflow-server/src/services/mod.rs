//! Services: MLflow's semantics — validation, limits, states, how requests become store
//! calls and transactions — one module per area, over `crate::store`. Services take and
//! return wire types (`mlflow_wire`) and never hold SQL.
//!
//! Dependencies between services run one way: `validation` ← `experiments` ← `runs` ←
//! `metrics`; `datasets` stands alone.

pub mod datasets;
pub mod experiments;
pub mod metrics;
pub mod runs;
pub mod validation;

#[cfg(test)]
mod scale_tests;
