//! Handlers: HTTP in and out. Each module decodes requests into wire types
//! (`mlflow_wire`), calls a service and encodes the answer, and exports the route table
//! that `http::router` mounts. No handler holds SQL.

pub mod artifacts;
pub mod experiments;
pub mod graphql;
pub mod logged_models;
pub mod metrics;
pub mod model_versions;
pub mod registered_models;
pub mod runs;
pub mod server_info;
pub mod web_ui;

#[cfg(test)]
mod tests;
