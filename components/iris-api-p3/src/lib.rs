//! iris-api as a WASIp3 component (`wasi:http/handler@0.3.0`).
//!
//! Spin gives a WASIp3 component's instance many requests (Spin 4 and `spinflow up`:
//! up to 128, 16 at a time), so what one request loads, the next finds: a registry model is
//! prepared once per instance instead of once per request (`iris_api::preload`).
//! The request handling is iris-api's; this crate only adapts the request, the
//! response and outbound HTTP to wasi:http 0.3.

use http_body_util::{BodyExt, Full};
use iris_api::error::ApiError;
use iris_api::RequestHead;
use mlflow_client::{HttpClient, HttpError, HttpResponse};
use wasip3::http::types::{ErrorCode, Request, Response};
use wasip3::http_compat::{
    http_from_wasi_request, http_from_wasi_response, http_into_wasi_request,
    http_into_wasi_response, IncomingRequestBody,
};

/// Outbound HTTP through wasi:http 0.3's client (`allowed_outbound_hosts` applies).
struct WasiHttp;

impl HttpClient for WasiHttp {
    async fn get(&self, url: &str, limit: usize) -> Result<HttpResponse, HttpError> {
        let request = http::Request::get(url)
            .body(Full::new(bytes::Bytes::new()))
            .map_err(|e| HttpError::Failed(e.to_string()))?;
        send(request, limit).await
    }

    async fn post_json(
        &self,
        url: &str,
        json: &str,
        limit: usize,
    ) -> Result<HttpResponse, HttpError> {
        let request = http::Request::post(url)
            .header("content-type", "application/json")
            .body(Full::new(bytes::Bytes::from(json.to_string())))
            .map_err(|e| HttpError::Failed(e.to_string()))?;
        send(request, limit).await
    }
}

/// Sends `request` and reads the answer's body, giving up beyond `limit` bytes.
async fn send(
    request: http::Request<Full<bytes::Bytes>>,
    limit: usize,
) -> Result<HttpResponse, HttpError> {
    let failed = |e: &dyn std::fmt::Debug| HttpError::Failed(format!("{e:?}"));
    let request = http_into_wasi_request(request).map_err(|e| failed(&e))?;
    let response = wasip3::http::client::send(request)
        .await
        .map_err(|e| failed(&e))?;
    let response = http_from_wasi_response(response).map_err(|e| failed(&e))?;
    let status = response.status().as_u16();
    let mut stream = response.into_body();
    let mut body = Vec::new();
    while let Some(frame) = stream.frame().await {
        let frame = frame.map_err(|e| HttpError::Failed(format!("reading the answer: {e:?}")))?;
        let Ok(chunk) = frame.into_data() else {
            continue; // trailers
        };
        if body.len() + chunk.len() > limit {
            return Err(HttpError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(HttpResponse { status, body })
}

fn header(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// Reads the body, refusing it (413) as soon as it exceeds `limit`.
async fn read_body(mut body: IncomingRequestBody, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::bad_request(format!("could not read the body: {e:?}")))?;
        let Ok(chunk) = frame.into_data() else {
            continue; // trailers
        };
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

struct IrisApi;

impl wasip3::exports::http::handler::Guest for IrisApi {
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        let (parts, body) = http_from_wasi_request(request)?.into_parts();
        let head = RequestHead {
            method: parts.method.to_string(),
            path_and_query: parts
                .uri
                .path_and_query()
                .map_or_else(|| "/".to_string(), |p| p.to_string()),
            x_api_key: header(&parts.headers, "x-api-key"),
            authorization: header(&parts.headers, "authorization"),
            content_type: header(&parts.headers, "content-type"),
            content_length: header(&parts.headers, "content-length"),
        };
        let outcome = iris_api::serve(head, |limit| read_body(body, limit), &WasiHttp).await;
        let mut response = http::Response::builder()
            .status(outcome.status)
            .header("content-type", outcome.content_type);
        for (name, value) in outcome.headers {
            response = response.header(name, value);
        }
        let response = response
            .body(Full::new(bytes::Bytes::from(outcome.body)))
            .map_err(|e| ErrorCode::InternalError(Some(e.to_string())))?;
        http_into_wasi_response(response)
    }
}

wasip3::http::service::export!(IrisApi);
