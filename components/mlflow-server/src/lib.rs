//! mlflow-server: the MLflow tracking server of spinflow, as a Spin HTTP component.
//!
//! Layout: `http` (request model + router with one dispatch table per API area),
//! `error` (the one error type, mapped to MLflow's error_code/status), `service`
//! (experiments, runs, metrics, server info), `search` (filter language → SQL),
//! `artifacts` (chunked artifact store + proxy endpoints), `store` (SQL seam over Spin
//! SQLite or rusqlite, versioned migrations), `util` (ids, time, names, page tokens).
//! Only `entry` touches Spin's HTTP types; everything else runs natively in unit tests.

pub mod error;
pub mod handlers;
pub mod http;
pub mod search;
pub mod services;
pub mod store;
pub mod util;

#[cfg(target_arch = "wasm32")]
mod entry;
