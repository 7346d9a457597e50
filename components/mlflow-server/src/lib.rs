//! mlflow-server: the MLflow tracking server of spinflow, as a Spin HTTP component.
//!
//! Layout, one layering for every API area (a request is parsed in `handlers/<area>.rs`,
//! checked in `services/<area>.rs` and stored by `store/<entity>.rs`):
//! - `http`: the request/response model, handler types (`route`) and the router, which
//!   mounts each handler module's route table;
//! - `handlers`: HTTP in and out — decode the request into wire types (`mlflow_wire`),
//!   call a service, encode the answer (tracking, registry, logged models, artifacts,
//!   server info, `graphql`, `web_ui`);
//! - `services`: MLflow's semantics — validation, limits, states, transactions;
//! - `store`: SQL behind the `Db` seam (Spin SQLite or rusqlite), one module per entity,
//!   versioned migrations with the tables in `store::schema`;
//! - `search`: the filter language (lexer, parser, bounds) and its SQL, used by the store;
//! - `error`: the one error type and every mapping onto it; `util`: ids, time, names, page
//!   tokens.
//!
//! Imports go handlers → services → store only, and no module imports one that imports it
//! back. Only `entry` and `artifact_streams` touch Spin's HTTP types (and `store::s3::wasi_http`
//! its outbound HTTP); everything else runs natively in unit tests.

pub mod error;
pub mod handlers;
pub mod http;
pub mod search;
pub mod services;
pub mod store;
pub mod util;

#[cfg(target_arch = "wasm32")]
mod artifact_streams;
#[cfg(target_arch = "wasm32")]
mod entry;
