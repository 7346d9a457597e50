//! A small blocking client for the MLflow REST API: JSON calls, MLflow error bodies, and
//! uploads through the artifact proxy (`/api/2.0/mlflow-artifacts/artifacts/...`).

use std::fmt;
use std::time::Duration;

use anyhow::{bail, Context};
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
    base: String,
}

impl RestClient {
    /// `tracking_uri` must be `http://` or `https://` (the artifact proxy needs HTTP).
    pub fn new(tracking_uri: &str) -> anyhow::Result<RestClient> {
        let base = tracking_uri.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!("the tracking URI must be http:// or https://, got {tracking_uri:?}");
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build()
            .into();
        Ok(RestClient { agent, base })
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

    /// `GET` of a full URL (an artifact proxy's, which may be another host), as JSON.
    pub fn get_url<R: DeserializeOwned>(&self, url: &str) -> anyhow::Result<R> {
        let answer = self
            .agent
            .get(url)
            .call()
            .with_context(|| format!("GET {url}"))?;
        read_json(answer, "GET", url)
    }

    /// `GET` of a full URL, as bytes (at most `limit` of them).
    pub fn get_url_bytes(&self, url: &str, limit: u64) -> anyhow::Result<Vec<u8>> {
        let mut answer = self
            .agent
            .get(url)
            .call()
            .with_context(|| format!("GET {url}"))?;
        let status = answer.status().as_u16();
        if !(200..300).contains(&status) {
            let text = answer.body_mut().read_to_string().unwrap_or_default();
            return Err(anyhow::Error::new(ApiError::from_answer(status, &text))
                .context(format!("GET {url}")));
        }
        answer
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .with_context(|| format!("reading the answer to GET {url}"))
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
        let url = format!(
            "{}/{}",
            proxy_url(&self.base, artifact_uri)?,
            encode_path(relative_path)
        );
        let answer = self
            .agent
            .put(&url)
            .header("Content-Type", content_type(relative_path))
            .send(bytes)
            .with_context(|| format!("PUT {url}"))?;
        read_json::<serde_json::Value>(answer, "PUT", &url).map(drop)
    }
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

const PROXY: &str = "/api/2.0/mlflow-artifacts/artifacts";

/// Maps an `mlflow-artifacts:` URI to the proxy URL that serves it, as the Python client
/// does: `mlflow-artifacts:/P` is served by the tracking server itself,
/// `mlflow-artifacts://host:port/P` by that host (with the tracking URI's scheme).
pub fn proxy_url(tracking_base: &str, artifact_uri: &str) -> anyhow::Result<String> {
    let (origin, path) = proxy_location(tracking_base, artifact_uri)?;
    Ok(format!("{origin}{PROXY}/{}", encode_path(&path)))
}

/// The URL that lists the directory `artifact_uri` through the artifact proxy.
pub fn proxy_listing_url(tracking_base: &str, artifact_uri: &str) -> anyhow::Result<String> {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    let (origin, path) = proxy_location(tracking_base, artifact_uri)?;
    let query = utf8_percent_encode(&path, NON_ALPHANUMERIC);
    Ok(format!("{origin}{PROXY}?path={query}"))
}

/// The server that proxies `artifact_uri`, and the path it has there.
fn proxy_location(tracking_base: &str, artifact_uri: &str) -> anyhow::Result<(String, String)> {
    let Some(rest) = artifact_uri.strip_prefix("mlflow-artifacts:") else {
        bail!(
            "the server handed out the artifact location {artifact_uri:?}, which is not proxied; \
             start the tracking server with artifact serving on (`mlflow server --serve-artifacts`)"
        );
    };
    let (origin, path) = match rest.strip_prefix("//") {
        Some(authority_and_path) => {
            let (authority, path) = authority_and_path
                .split_once('/')
                .unwrap_or((authority_and_path, ""));
            let scheme = tracking_base.split_once("://").map_or("http", |(s, _)| s);
            (format!("{scheme}://{authority}"), path)
        }
        None => (tracking_base.to_string(), rest),
    };
    let path = path.trim_matches('/');
    if path.split('/').any(|segment| segment == "..") {
        bail!("refusing the artifact location {artifact_uri:?}: it climbs out of the store");
    }
    Ok((origin, path.to_string()))
}

/// Percent-encodes each segment of a relative path, keeping the `/` separators.
fn encode_path(path: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    path.split('/')
        .map(|segment| utf8_percent_encode(segment, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
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

    #[test]
    fn proxied_locations_map_to_the_tracking_server() {
        let url = proxy_url(
            "http://127.0.0.1:3000",
            "mlflow-artifacts:/1/models/m-ab/artifacts",
        )
        .unwrap();
        assert_eq!(
            url,
            "http://127.0.0.1:3000/api/2.0/mlflow-artifacts/artifacts/1/models/m-ab/artifacts"
        );
    }

    #[test]
    fn a_location_with_a_host_is_served_by_that_host() {
        let url = proxy_url(
            "https://tracking",
            "mlflow-artifacts://store:5000/2/r/artifacts",
        )
        .unwrap();
        assert_eq!(
            url,
            "https://store:5000/api/2.0/mlflow-artifacts/artifacts/2/r/artifacts"
        );
    }

    #[test]
    fn unproxied_or_climbing_locations_are_refused() {
        let err = proxy_url("http://h", "/tmp/mlruns/1/abc/artifacts").unwrap_err();
        assert!(err.to_string().contains("--serve-artifacts"), "{err}");
        assert!(proxy_url("http://h", "mlflow-artifacts:/1/../../etc").is_err());
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
        assert_eq!(encode_path("a b/c.onnx"), "a%20b/c.onnx");
    }

    #[test]
    fn only_http_tracking_uris_are_accepted() {
        assert!(RestClient::new("file:///tmp/mlruns").is_err());
        assert_eq!(RestClient::new("http://h:1/").unwrap().base(), "http://h:1");
    }
}
