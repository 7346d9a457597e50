//! A small blocking client for the MLflow REST API: JSON calls, MLflow error bodies, and
//! uploads through the artifact proxy (`/api/2.0/mlflow-artifacts/artifacts/...`). Which
//! artifact locations are accepted and how they become URLs is the shared
//! `mlflow-client` crate's (`TrackingServer`), which also reads models through this
//! client's [`mlflow_client::HttpClient`] implementation (see `fetch.rs`).

use std::fmt;
use std::time::Duration;

use anyhow::Context;
use mlflow_client::{HttpClient, HttpError, HttpResponse, RegistryError, TrackingServer};
use serde::de::DeserializeOwned;
use serde::Serialize;
use ureq::http::Response;
use ureq::Body;

/// Every REST call of the trainer is small; a slow server gets this long per request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Upper bound for a JSON answer we read into memory.
const MAX_JSON_BYTES: u64 = 16 * 1024 * 1024;

/// An error answered by the server in MLflow's shape (`{"error_code", "message"}`), or a
/// non-2xx answer without that shape (then `error_code` is derived from the status as the
/// Python client does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub error_code: String,
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (HTTP {}): {}",
            self.error_code, self.status, self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// Whether `err` is an [`ApiError`] with this MLflow error code.
    pub fn has_code(err: &anyhow::Error, code: &str) -> bool {
        err.downcast_ref::<ApiError>()
            .is_some_and(|e| e.error_code == code)
    }

    fn from_answer(status: u16, body: &str) -> ApiError {
        #[derive(serde::Deserialize)]
        struct Body {
            error_code: String,
            #[serde(default)]
            message: String,
        }
        match serde_json::from_str::<Body>(body) {
            Ok(b) => ApiError {
                status,
                error_code: b.error_code,
                message: b.message,
            },
            Err(_) => ApiError {
                status,
                error_code: code_for_status(status).to_string(),
                message: body.chars().take(500).collect(),
            },
        }
    }
}

/// The error code the Python client assigns to a non-JSON error answer.
fn code_for_status(status: u16) -> &'static str {
    match status {
        400 => "BAD_REQUEST",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "ENDPOINT_NOT_FOUND",
        409 => "RESOURCE_CONFLICT",
        429 => "REQUEST_LIMIT_EXCEEDED",
        503 => "TEMPORARILY_UNAVAILABLE",
        _ => "INTERNAL_ERROR",
    }
}

/// A connection to one tracking server.
pub struct RestClient {
    agent: ureq::Agent,
    server: TrackingServer,
    base: String,
}

impl RestClient {
    /// `tracking_uri` must be `http://` or `https://` (the artifact proxy needs HTTP).
    pub fn new(tracking_uri: &str) -> anyhow::Result<RestClient> {
        // A bad URI is the user's setting, not a registry answer: its message alone.
        let server = TrackingServer::parse(tracking_uri).map_err(|e| match e {
            RegistryError::Invalid(why) => anyhow::anyhow!(why),
            other => other.into(),
        })?;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build()
            .into();
        Ok(RestClient {
            agent,
            base: server.base().to_string(),
            server,
        })
    }

    /// The tracking URI without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET <base><endpoint>?query`.
    pub fn get<R: DeserializeOwned>(
        &self,
        endpoint: &str,
        query: &[(&str, &str)],
    ) -> anyhow::Result<R> {
        let url = format!("{}{endpoint}", self.base);
        let answer = self
            .agent
            .get(&url)
            .query_pairs(query.iter().copied())
            .call()
            .with_context(|| format!("GET {url}"))?;
        read_json(answer, "GET", &url)
    }

    /// `POST <base><endpoint>` with a JSON body.
    pub fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        endpoint: &str,
        body: &B,
    ) -> anyhow::Result<R> {
        let url = format!("{}{endpoint}", self.base);
        let answer = self
            .agent
            .post(&url)
            .send_json(body)
            .with_context(|| format!("POST {url}"))?;
        read_json(answer, "POST", &url)
    }

    /// `PATCH <base><endpoint>` with a JSON body.
    pub fn patch<B: Serialize, R: DeserializeOwned>(
        &self,
        endpoint: &str,
        body: &B,
    ) -> anyhow::Result<R> {
        let url = format!("{}{endpoint}", self.base);
        let answer = self
            .agent
            .patch(&url)
            .send_json(body)
            .with_context(|| format!("PATCH {url}"))?;
        read_json(answer, "PATCH", &url)
    }

    /// Uploads one file to `artifact_uri` + `/` + `relative_path` through the artifact proxy.
    pub fn put_artifact(
        &self,
        artifact_uri: &str,
        relative_path: &str,
        bytes: &[u8],
    ) -> anyhow::Result<()> {
        let url = self.upload_url(artifact_uri, relative_path)?;
        let answer = self
            .agent
            .put(&url)
            .header("Content-Type", content_type(relative_path))
            .send(bytes)
            .with_context(|| format!("PUT {url}"))?;
        read_json::<serde_json::Value>(answer, "PUT", &url).map(drop)
    }

    /// Where `relative_path` under `artifact_uri` is uploaded: the tracking server's
    /// artifact proxy, if it serves that location (see `TrackingServer::artifact_path`).
    fn upload_url(&self, artifact_uri: &str, relative_path: &str) -> anyhow::Result<String> {
        let path = self
            .server
            .artifact_path(artifact_uri)?
            .join(relative_path)?;
        Ok(self.server.artifact_url(&path))
    }
}

/// The transport of the shared MLflow client (model resolution and download). Blocking
/// calls inside `async fn`s: the futures are driven by `futures::executor::block_on`.
impl HttpClient for RestClient {
    async fn get(&self, url: &str, limit: usize) -> Result<HttpResponse, HttpError> {
        bytes_answer(self.agent.get(url).call(), limit)
    }

    async fn post_json(
        &self,
        url: &str,
        json: &str,
        limit: usize,
    ) -> Result<HttpResponse, HttpError> {
        let request = self
            .agent
            .post(url)
            .header("Content-Type", "application/json");
        bytes_answer(request.send(json), limit)
    }
}

fn bytes_answer(
    answer: Result<Response<Body>, ureq::Error>,
    limit: usize,
) -> Result<HttpResponse, HttpError> {
    let mut answer = answer.map_err(|e| HttpError::Failed(e.to_string()))?;
    let status = answer.status().as_u16();
    let body = answer
        .body_mut()
        .with_config()
        .limit(limit as u64)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => HttpError::TooLarge { limit },
            e => HttpError::Failed(format!("reading the answer: {e}")),
        })?;
    Ok(HttpResponse { status, body })
}

fn read_json<R: DeserializeOwned>(
    mut answer: Response<Body>,
    method: &str,
    url: &str,
) -> anyhow::Result<R> {
    let status = answer.status().as_u16();
    let text = answer
        .body_mut()
        .with_config()
        .limit(MAX_JSON_BYTES)
        .read_to_string()
        .with_context(|| format!("reading the answer to {method} {url}"))?;
    if !(200..300).contains(&status) {
        return Err(anyhow::Error::new(ApiError::from_answer(status, &text))
            .context(format!("{method} {url}")));
    }
    // MLflow answers an empty body (or `{}`) for calls without a result.
    let text = if text.trim().is_empty() { "{}" } else { &text };
    serde_json::from_str(text)
        .with_context(|| format!("unexpected answer to {method} {url}: {}", snippet(text)))
}

fn snippet(text: &str) -> String {
    text.chars().take(300).collect()
}

/// The Content-Type sent with an upload, guessed from the name as the Python client does.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("json") => "application/json",
        Some("yaml") | Some("yml") => "application/x-yaml",
        Some("txt") => "text/plain",
        _ if path.ends_with("MLmodel") => "text/plain",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload_url(tracking_uri: &str, artifact_uri: &str, path: &str) -> anyhow::Result<String> {
        RestClient::new(tracking_uri)?.upload_url(artifact_uri, path)
    }

    #[test]
    fn proxied_locations_map_to_the_tracking_server() {
        let url = upload_url(
            "http://127.0.0.1:3000",
            "mlflow-artifacts:/1/models/m-ab/artifacts",
            "MLmodel",
        )
        .unwrap();
        assert_eq!(
            url,
            "http://127.0.0.1:3000/api/2.0/mlflow-artifacts/artifacts/1/models/m-ab/artifacts/MLmodel"
        );
    }

    #[test]
    fn a_location_with_a_host_is_accepted_only_for_the_tracking_server() {
        let url = upload_url(
            "https://tracking",
            "mlflow-artifacts://tracking:443/2/r/artifacts",
            "model.onnx",
        )
        .unwrap();
        assert_eq!(
            url,
            "https://tracking/api/2.0/mlflow-artifacts/artifacts/2/r/artifacts/model.onnx"
        );
        let err = upload_url(
            "https://tracking",
            "mlflow-artifacts://store:5000/2/r/artifacts",
            "model.onnx",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("not served by the tracking server"),
            "{err}"
        );
    }

    #[test]
    fn unproxied_or_climbing_locations_are_refused() {
        let err = upload_url("http://h", "/tmp/mlruns/1/abc/artifacts", "MLmodel").unwrap_err();
        assert!(err.to_string().contains("--serve-artifacts"), "{err}");
        assert!(upload_url("http://h", "mlflow-artifacts:/1/../../etc", "MLmodel").is_err());
        assert!(upload_url("http://h", "mlflow-artifacts:/1/r", "../MLmodel").is_err());
    }

    #[test]
    fn error_answers_keep_the_mlflow_code() {
        let e = ApiError::from_answer(
            400,
            r#"{"error_code":"RESOURCE_ALREADY_EXISTS","message":"exists"}"#,
        );
        assert_eq!(e.error_code, "RESOURCE_ALREADY_EXISTS");
        assert_eq!(e.message, "exists");
        let e = ApiError::from_answer(404, "<html>not found</html>");
        assert_eq!(e.error_code, "ENDPOINT_NOT_FOUND");
    }

    #[test]
    fn paths_are_encoded_per_segment() {
        let url = upload_url("http://h", "mlflow-artifacts:/1", "a b/c.onnx").unwrap();
        assert!(url.ends_with("/artifacts/1/a%20b/c.onnx"), "{url}");
    }

    #[test]
    fn only_http_tracking_uris_are_accepted() {
        let err = RestClient::new("file:///tmp/mlruns").err().unwrap();
        assert!(
            err.to_string().starts_with("the tracking URI must be http"),
            "{err}"
        );
        assert_eq!(RestClient::new("http://h:1/").unwrap().base(), "http://h:1");
    }
}
