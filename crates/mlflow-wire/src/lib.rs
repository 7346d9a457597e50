//! mlflow-wire: the MLflow REST API's JSON bodies as serde types, shared by the
//! mlflow-server component, the trainer and the mlflow-client crate (iris-api's and the
//! trainer's registry client).
//!
//! Conventions (see MLflow's proto-JSON): snake_case proto field names, int64 as JSON
//! numbers (strings accepted on input), enums as names, unset fields omitted, doubles
//! NaN/±Infinity as strings. Request types keep every field optional so that a server can
//! report a missing field as `INVALID_PARAMETER_VALUE` rather than a parse error, and they
//! accept query-string spellings too (see [`lenient`]).

pub mod answers;
pub mod lenient;
pub mod logged_models;
pub mod registry;
pub mod tracking;

pub use tracking::ErrorBody;
