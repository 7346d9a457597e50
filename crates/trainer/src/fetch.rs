//! Fetching a registered model's ONNX file over the REST API, for `spinflow preinit
//! --model models:/...` (which bakes it into iris-api at build time).

use anyhow::{bail, Context};
use mlflow_wire::registry::{DownloadUriResponse, ModelVersionResponse};
use mlflow_wire::tracking::ListArtifactsResponse;

use crate::client::{proxy_listing_url, proxy_url, RestClient};

/// Largest model file fetched.
const MAX_MODEL_BYTES: u64 = 1 << 30;

/// A registered model version and the bytes of its ONNX file.
pub struct FetchedModel {
    pub name: String,
    pub version: String,
    pub onnx: Vec<u8>,
}

/// Resolves `models:/<name>@<alias>` or `models:/<name>/<version>` against the
/// tracking server and downloads the version's ONNX file (`model.onnx`, else the
/// only `.onnx` file of its artifacts) through the artifact proxy.
pub fn fetch_onnx(tracking_uri: &str, model_uri: &str) -> anyhow::Result<FetchedModel> {
    let client = RestClient::new(tracking_uri)?;
    let version = resolve(&client, model_uri)?;
    let download: DownloadUriResponse = client.get(
        "/api/2.0/mlflow/model-versions/get-download-uri",
        &[("name", &version.name), ("version", &version.version)],
    )?;
    let mut artifact_uri = download.artifact_uri;
    // A 3.x registry may answer with the logged model's URI.
    if let Some(model_id) = artifact_uri.strip_prefix("models:/") {
        let logged: serde_json::Value =
            client.get(&format!("/api/2.0/mlflow/logged-models/{model_id}"), &[])?;
        artifact_uri = logged["model"]["info"]["artifact_uri"]
            .as_str()
            .with_context(|| format!("logged model {model_id} has no artifact_uri"))?
            .to_string();
    }
    let file = if artifact_uri.ends_with(".onnx") {
        artifact_uri
    } else {
        let listing: ListArtifactsResponse =
            client.get_url(&proxy_listing_url(client.base(), &artifact_uri)?)?;
        let onnx: Vec<&str> = listing
            .files
            .iter()
            .filter(|f| !f.is_dir && f.path.ends_with(".onnx"))
            .map(|f| f.path.rsplit('/').next().unwrap_or(&f.path))
            .collect();
        let pick = match onnx.iter().find(|n| **n == "model.onnx") {
            Some(name) => *name,
            None => match onnx.as_slice() {
                [only] => only,
                [] => bail!("{model_uri}: no .onnx file in {artifact_uri}"),
                many => bail!("{model_uri}: several .onnx files in {artifact_uri}: {many:?}"),
            },
        };
        format!("{}/{pick}", artifact_uri.trim_end_matches('/'))
    };
    let onnx = client.get_url_bytes(&proxy_url(client.base(), &file)?, MAX_MODEL_BYTES)?;
    Ok(FetchedModel {
        name: version.name,
        version: version.version,
        onnx,
    })
}

struct VersionRef {
    name: String,
    version: String,
}

fn resolve(client: &RestClient, model_uri: &str) -> anyhow::Result<VersionRef> {
    let Some(rest) = model_uri.strip_prefix("models:/") else {
        bail!("{model_uri:?}: expected models:/<name>@<alias> or models:/<name>/<version>");
    };
    let answer: ModelVersionResponse = if let Some((name, alias)) = rest.split_once('@') {
        client.get(
            "/api/2.0/mlflow/registered-models/alias",
            &[("name", name), ("alias", alias)],
        )?
    } else if let Some((name, version)) = rest
        .rsplit_once('/')
        .filter(|(_, v)| v.parse::<u64>().is_ok())
    {
        client.get(
            "/api/2.0/mlflow/model-versions/get",
            &[("name", name), ("version", version)],
        )?
    } else {
        bail!("{model_uri:?}: expected models:/<name>@<alias> or models:/<name>/<version>");
    };
    Ok(VersionRef {
        name: answer.model_version.name,
        version: answer.model_version.version,
    })
}
