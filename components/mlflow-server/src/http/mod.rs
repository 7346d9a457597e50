//! Host-independent HTTP model: the request a handler sees, the response it returns,
//! and body/query decoding. The Spin entry point (`entry.rs`) converts to and from these,
//! so routing and handlers are unit-tested natively.

pub mod objects_only;
pub mod route;
pub mod router;

use crate::error::{ApiResult, ErrorCode, MlflowError};
use objects_only::ObjectsOnly;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Other,
}

impl Method {
    pub fn parse(m: &str) -> Method {
        match m.to_ascii_uppercase().as_str() {
            "GET" | "HEAD" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => Method::Other,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: Method,
    /// Path without the query string, still percent-encoded.
    pub path: String,
    /// Raw query string (without `?`).
    pub query: String,
    pub body: Vec<u8>,
}

impl ApiRequest {
    pub fn new(method: Method, path_and_query: &str, body: impl Into<Vec<u8>>) -> Self {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        ApiRequest {
            method,
            path: path.to_string(),
            query: query.to_string(),
            body: body.into(),
        }
    }

    /// Decodes the request message: GET (and bodiless DELETE) from the query string, the
    /// rest from the JSON body. Unknown fields are ignored, as MLflow ignores them; a
    /// message (or a message inside it) written as an array is refused ([`ObjectsOnly`]).
    pub fn message<T: DeserializeOwned>(&self) -> ApiResult<T> {
        let invalid =
            |e: serde_json::Error| MlflowError::invalid(format!("Invalid request parameters: {e}"));
        if self.method == Method::Get || self.body_is_blank() {
            return T::deserialize(ObjectsOnly(query_to_json(&self.query))).map_err(invalid);
        }
        // Straight from the bytes (no intermediate tree: log-batch bodies are large);
        // only a failed parse looks for a double-encoded body or a better message.
        from_json_bytes(&self.body).or_else(|e| {
            let value = body_to_json(&self.body)?;
            match T::deserialize(ObjectsOnly(value)) {
                Ok(v) => Ok(v),
                Err(_) => Err(invalid(e)),
            }
        })
    }

    fn body_is_blank(&self) -> bool {
        self.body.iter().all(|b| b.is_ascii_whitespace())
    }

    /// One query-string value, percent-decoded.
    pub fn query_value(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// MLflow registers some UI endpoints only under `/ajax-api/`: their `/api/` alias is not
/// found there, and here too.
pub fn ajax_only(req: &ApiRequest) -> ApiResult<()> {
    if req.path.starts_with("/ajax-api/") {
        Ok(())
    } else {
        Err(MlflowError::new(
            ErrorCode::EndpointNotFound,
            format!("{} is served under /ajax-api/ only", req.path),
        ))
    }
}

/// One JSON document (nothing but whitespace after it) into `T`, structs from objects only.
fn from_json_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = T::deserialize(ObjectsOnly(&mut de))?;
    de.end()?;
    Ok(value)
}

/// `a=1&b=x&b=y` → `{"a": "1", "b": ["x", "y"]}` (repeated keys become lists).
pub fn query_to_json(query: &str) -> Value {
    let mut map = Map::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let v = Value::String(v.into_owned());
        match map.get_mut(k.as_ref()) {
            None => {
                map.insert(k.into_owned(), v);
            }
            Some(Value::Array(items)) => items.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
        }
    }
    Value::Object(map)
}

/// Parses a JSON object body; a body that is a JSON string holding JSON (legacy clients
/// double-encode) is decoded twice.
pub fn body_to_json(body: &[u8]) -> ApiResult<Value> {
    let bad = |e: serde_json::Error| MlflowError::invalid(format!("Malformed JSON body: {e}"));
    let mut v: Value = serde_json::from_slice(body).map_err(bad)?;
    if let Value::String(inner) = &v {
        v = serde_json::from_str(inner).map_err(bad)?;
    }
    if v.is_object() {
        Ok(v)
    } else {
        Err(MlflowError::invalid(
            "The request body must be a JSON object.",
        ))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ApiResponse {
    pub fn json<T: Serialize>(value: &T) -> ApiResult<ApiResponse> {
        let body = serde_json::to_vec(value)
            .map_err(|e| MlflowError::internal(format!("cannot encode response: {e}")))?;
        Ok(ApiResponse {
            status: 200,
            content_type: "application/json",
            headers: Vec::new(),
            body,
        })
    }

    /// The empty message `{}` that most write endpoints answer.
    pub fn empty() -> ApiResult<ApiResponse> {
        Ok(Self::raw(200, "application/json", b"{}".to_vec()))
    }

    pub fn text(status: u16, text: &str) -> ApiResponse {
        Self::raw(
            status,
            "text/plain; charset=utf-8",
            text.as_bytes().to_vec(),
        )
    }

    pub fn raw(status: u16, content_type: &'static str, body: Vec<u8>) -> ApiResponse {
        ApiResponse {
            status,
            content_type,
            headers: Vec::new(),
            body,
        }
    }

    /// A plain (non-JSON) 404: the MLflow client reads it as ENDPOINT_NOT_FOUND and falls back.
    pub fn not_found() -> ApiResponse {
        Self::text(404, "Not Found")
    }

    pub fn error(err: &MlflowError) -> ApiResponse {
        let body = serde_json::json!({"error_code": err.code.name(), "message": err.message});
        Self::raw(
            err.status(),
            "application/json",
            body.to_string().into_bytes(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_lists_and_decoding() {
        let v = query_to_json("experiment_ids=1&experiment_ids=2&filter=a%20%3D%20%27b%27&x=+y");
        assert_eq!(v["experiment_ids"], serde_json::json!(["1", "2"]));
        assert_eq!(v["filter"], "a = 'b'");
        assert_eq!(v["x"], " y");
    }

    #[test]
    fn body_parsing() {
        assert!(body_to_json(b"{\"a\":1}").is_ok());
        assert!(body_to_json(b"\"{\\\"a\\\":1}\"").unwrap()["a"] == 1);
        assert!(body_to_json(b"[1]").is_err());
        assert!(body_to_json(b"{oops").is_err());
    }

    #[test]
    fn errors_render_as_mlflow() {
        let r = ApiResponse::error(&MlflowError::not_found("Run with id=x not found"));
        assert_eq!(r.status, 404);
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["error_code"], "RESOURCE_DOES_NOT_EXIST");
    }
}
