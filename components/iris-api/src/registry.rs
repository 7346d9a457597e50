//! Finding and downloading the served model: the shared `mlflow-client` crate (model
//! URIs, resolution, ONNX choice, artifact-path checks). The component supplies its
//! outbound HTTP by implementing [`HttpClient`] (`wasip2.rs` with Spin's, the
//! iris-api-p3 crate with wasi:http 0.3's).

pub use mlflow_client::{
    HttpClient, HttpError, HttpResponse, MlflowClient, ModelUri, RegistryError, Resolved,
    MAX_MODEL_BYTES,
};
