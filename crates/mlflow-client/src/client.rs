//! One tracking server seen through a caller's [`HttpClient`]: REST calls with typed
//! answers, and the classification of their failures.

use crate::error::RegistryError;
use crate::http::{HttpClient, HttpResponse};
use crate::tracking_server::TrackingServer;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Serialize;

/// Largest JSON answer read (an artifact listing of a big directory stays well below).
pub const MAX_JSON_BYTES: usize = 16 * 1024 * 1024;

/// Largest model file downloaded.
pub const MAX_MODEL_BYTES: usize = 1 << 30;

/// A client of one tracking server.
pub struct MlflowClient<'a, H> {
    pub(crate) http: &'a H,
    pub(crate) server: TrackingServer,
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

    /// `GET` of a REST call (`registered-models/alias?name=...`); a bare 404 (no such
    /// endpoint) is "not found".
    pub(crate) async fn get<T: DeserializeOwned>(&self, call: &str) -> Result<T, RegistryError> {
        self.get_url(&self.server.api_url(call)).await
    }

    /// `GET` of a full URL answering JSON.
    pub(crate) async fn get_url<T: DeserializeOwned>(&self, url: &str) -> Result<T, RegistryError> {
        let answer = self.http.get(url, MAX_JSON_BYTES).await;
        let answer = answer.map_err(|e| RegistryError::from_http(e, url))?;
        read_json(answer, url)?
            .ok_or_else(|| RegistryError::NotFound(format!("{url} answered 404")))
    }

    /// `POST` of a REST call with a JSON body; `None` for a bare 404 (an older server
    /// without the POST form of the call).
    pub(crate) async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        call: &str,
        body: &B,
    ) -> Result<Option<T>, RegistryError> {
        let url = self.server.api_url(call);
        let json = serde_json::to_string(body).expect("request bodies serialise");
        let answer = self.http.post_json(&url, &json, MAX_JSON_BYTES).await;
        read_json(answer.map_err(|e| RegistryError::from_http(e, &url))?, &url)
    }

    /// `GET` of a full URL answering bytes (at most `limit`); 404 is "not found".
    pub(crate) async fn get_bytes(
        &self,
        url: &str,
        limit: usize,
    ) -> Result<Vec<u8>, RegistryError> {
        let answer = self.http.get(url, limit).await;
        let answer = answer.map_err(|e| RegistryError::from_http(e, url))?;
        match answer.status {
            200 => Ok(answer.body),
            404 => Err(RegistryError::NotFound(format!("{url} answered 404"))),
            status => Err(RegistryError::from_status(status, url, &answer.body)),
        }
    }
}

/// The JSON of a 200; `None` for a 404 whose body is not JSON (the endpoint does not
/// exist, as opposed to an MLflow `RESOURCE_DOES_NOT_EXIST`); errors otherwise.
fn read_json<T: DeserializeOwned>(
    answer: HttpResponse,
    url: &str,
) -> Result<Option<T>, RegistryError> {
    if answer.status == 200 {
        return serde_json::from_slice(&answer.body)
            .map(Some)
            .map_err(|e| RegistryError::Invalid(format!("{url} answered invalid JSON: {e}")));
    }
    let is_json = serde_json::from_slice::<IgnoredAny>(&answer.body).is_ok();
    if answer.status == 404 && !is_json {
        return Ok(None);
    }
    Err(RegistryError::from_status(answer.status, url, &answer.body))
}
