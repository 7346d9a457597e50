//! Fetching a registered model's ONNX file over the REST API, for `spinflow preinit
//! --model models:/...` (which bakes it into iris-api at build time). Resolution, the
//! choice of the ONNX file and its download are the shared `mlflow-client` crate's,
//! driven over this crate's blocking [`RestClient`].

use anyhow::Context;
use futures::executor::block_on;
use mlflow_client::{MlflowClient, ModelUri, MAX_MODEL_BYTES};

use crate::client::RestClient;

/// A registered model version and the bytes of its ONNX file.
pub struct FetchedModel {
    pub name: String,
    pub version: String,
    pub onnx: Vec<u8>,
}

/// Resolves `model_uri` (`models:/<name>@<alias>`, `models:/<name>/<version|stage|latest>`,
/// `models:/m-<id>`, `runs:/<run_id>/<path>`) against the tracking server and downloads
/// the version's ONNX file (`model.onnx`, else the only `.onnx` file of its artifacts)
/// through the artifact proxy.
pub fn fetch_onnx(tracking_uri: &str, model_uri: &str) -> anyhow::Result<FetchedModel> {
    let uri = ModelUri::parse(model_uri).map_err(anyhow::Error::msg)?;
    let http = RestClient::new(tracking_uri)?;
    let client = MlflowClient::new(&http, tracking_uri)?;
    let resolved =
        block_on(client.resolve(&uri)).with_context(|| format!("resolving {model_uri}"))?;
    let onnx = block_on(client.download_onnx(&resolved.artifact_uri, MAX_MODEL_BYTES))
        .with_context(|| {
            format!(
                "{model_uri}: downloading the model from {}",
                resolved.artifact_uri
            )
        })?;
    Ok(FetchedModel {
        name: resolved.name,
        version: resolved.version,
        onnx,
    })
}
