//! One tracking server seen through a caller's [`HttpClient`]: REST calls, their JSON
//! answers read into typed structs, and the classification of their failures.
//!
//! The awaited calls and the JSON parsing are not generic over the answer's type; only
//! the reading of the parsed value into its struct is (see [`crate::decode`]), so each
//! answer type adds little code to iris-api's component.

use crate::decode::from_value;
use crate::error::RegistryError;
use crate::http::{HttpClient, HttpResponse};
use crate::tracking_server::TrackingServer;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// Largest JSON answer read (an artifact listing of a big directory stays well below).
pub const MAX_JSON_BYTES: usize = 16 * 1024 * 1024;

/// Largest model file downloaded.
pub const MAX_MODEL_BYTES: usize = 1 << 30;

/// A client of one tracking server.
pub struct MlflowClient<'a, H> {
    pub(crate) http: &'a H,
    pub(crate) server: TrackingServer,
}

/// A JSON answer (status 200) parsed but not read into its type yet, or the bare 404
/// of a missing endpoint (`None`).
pub(crate) struct JsonAnswer {
    url: String,
    value: Option<Value>,
}

impl JsonAnswer {
    /// The answer as `T`; a missing endpoint is "not found".
    pub(crate) fn decode<T: DeserializeOwned>(self) -> Result<T, RegistryError> {
        self.decode_if_found()?
            .ok_or_else(|| RegistryError::NotFound(format!("{} answered 404", self.url)))
    }

    /// The answer as `T`, `None` for a missing endpoint.
    pub(crate) fn decode_if_found<T: DeserializeOwned>(&self) -> Result<Option<T>, RegistryError> {
        let Some(value) = &self.value else {
            return Ok(None);
        };
        from_value(value)
            .map(Some)
            .map_err(|e| invalid_json(&self.url, &e))
    }
}

fn invalid_json(url: &str, error: &dyn std::fmt::Display) -> RegistryError {
    RegistryError::Invalid(format!("{url} answered invalid JSON: {error}"))
}

impl<'a, H: HttpClient> MlflowClient<'a, H> {
    /// A client of the server at `tracking_uri` (`http://` or `https://`).
    pub fn new(http: &'a H, tracking_uri: &str) -> Result<Self, RegistryError> {
        Ok(Self {
            http,
            server: TrackingServer::parse(tracking_uri)?,
        })
    }

    pub fn server(&self) -> &TrackingServer {
        &self.server
    }

    /// `GET` of a REST call (`registered-models/alias?name=...`).
    pub(crate) async fn get(&self, call: &str) -> Result<JsonAnswer, RegistryError> {
        self.json(self.server.api_url(call), None).await
    }

    /// `POST` of a REST call with a JSON body.
    pub(crate) async fn post<B: Serialize>(
        &self,
        call: &str,
        body: &B,
    ) -> Result<JsonAnswer, RegistryError> {
        let json = serde_json::to_string(body).expect("request bodies serialise");
        self.json(self.server.api_url(call), Some(&json)).await
    }

    /// `GET` (or `POST` of `json`) of a URL answering JSON.
    pub(crate) async fn json(
        &self,
        url: String,
        json: Option<&str>,
    ) -> Result<JsonAnswer, RegistryError> {
        let answer = self.send(&url, json, MAX_JSON_BYTES).await?;
        if answer.status == 200 {
            let value = serde_json::from_slice(&answer.body).map_err(|e| invalid_json(&url, &e))?;
            return Ok(JsonAnswer {
                url,
                value: Some(value),
            });
        }
        // A 404 that is not an MLflow error body: the endpoint itself does not exist.
        let is_json = serde_json::from_slice::<Value>(&answer.body).is_ok();
        if answer.status == 404 && !is_json {
            return Ok(JsonAnswer { url, value: None });
        }
        Err(RegistryError::from_status(
            answer.status,
            &url,
            &answer.body,
        ))
    }

    /// `GET` of a URL answering bytes (at most `limit`); 404 is "not found".
    pub(crate) async fn bytes(&self, url: &str, limit: usize) -> Result<Vec<u8>, RegistryError> {
        let answer = self.send(url, None, limit).await?;
        match answer.status {
            200 => Ok(answer.body),
            404 => Err(RegistryError::NotFound(format!("{url} answered 404"))),
            status => Err(RegistryError::from_status(status, url, &answer.body)),
        }
    }

    /// The one place that calls the transport.
    async fn send(
        &self,
        url: &str,
        json: Option<&str>,
        limit: usize,
    ) -> Result<HttpResponse, RegistryError> {
        let answer = match json {
            None => self.http.get(url, limit).await,
            Some(json) => self.http.post_json(url, json, limit).await,
        };
        answer.map_err(|e| RegistryError::from_http(e, url))
    }
}
