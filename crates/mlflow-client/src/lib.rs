//! mlflow-client: the part of the MLflow REST API that finds and downloads a model, shared
//! by iris-api (a Spin component, wasm32-wasip2) and the trainer (`spinflow preinit
//! --model`, native).
//!
//! - [`ModelUri`] parses `models:/name@alias`, `models:/name/<version|stage|latest>`,
//!   `models:/m-<id>` and `runs:/<run_id>/<path>`;
//! - [`MlflowClient::resolve`] turns one into a model version and its artifact URI, and
//!   [`MlflowClient::download_onnx`] picks the ONNX file there and downloads it through
//!   the tracking server's artifact proxy;
//! - [`TrackingServer`] and [`ArtifactPath`] are the one place where artifact URIs become
//!   URLs: only locations the tracking server itself proxies are accepted, and `.`/`..`
//!   segments (also percent-encoded) are refused;
//! - answers are read into typed `mlflow-wire` structs (`mlflow_wire::answers`: the
//!   fields resolution uses; see `decode.rs` for why not serde_json's deserializer), and
//!   failures are classified ([`RegistryError`]: not found, unavailable, invalid answer).
//!
//! The crate has no HTTP stack: the caller implements [`HttpClient`] (Spin's outbound
//! HTTP in iris-api, ureq in the trainer, which drives the futures with a blocking
//! executor).

mod artifact_path;
mod client;
mod decode;
mod error;
mod http;
mod model_uri;
mod onnx;
mod origin;
mod resolve;
mod tracking_server;

pub use artifact_path::ArtifactPath;
pub use client::{MlflowClient, MAX_JSON_BYTES, MAX_MODEL_BYTES};
pub use error::RegistryError;
pub use http::{HttpClient, HttpError, HttpResponse};
pub use model_uri::ModelUri;
pub use onnx::{pick_onnx, OnnxChoice};
pub use resolve::Resolved;
pub use tracking_server::TrackingServer;

#[cfg(test)]
mod tests;
