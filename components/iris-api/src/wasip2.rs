//! The WASIp2 export (`wasi:http/incoming-handler@0.2`, spin-sdk 5): what Spin 3,
//! containerd-shim-spin and `spinflow up` run with a fresh instance per request.

use crate::error::ApiError;
use crate::RequestHead;
use futures::StreamExt;
use mlflow_client::{HttpClient, HttpError, HttpResponse};
use spin_sdk::http::{Fields, IncomingRequest, IncomingResponse, Request, ResponseOutparam};
#[cfg(target_arch = "wasm32")]
use spin_sdk::http_component;

/// Outbound HTTP through Spin (`allowed_outbound_hosts` applies).
struct SpinHttp;

impl HttpClient for SpinHttp {
    async fn get(&self, url: &str, limit: usize) -> Result<HttpResponse, HttpError> {
        send(Request::get(url).build(), limit).await
    }

    async fn post_json(
        &self,
        url: &str,
        json: &str,
        limit: usize,
    ) -> Result<HttpResponse, HttpError> {
        let request = Request::post(url, json.to_string())
            .header("content-type", "application/json")
            .build();
        send(request, limit).await
    }
}

/// Sends `request` and reads the answer's body, giving up beyond `limit` bytes.
async fn send(request: Request, limit: usize) -> Result<HttpResponse, HttpError> {
    let response: IncomingResponse = spin_sdk::http::send(request)
        .await
        .map_err(|e| HttpError::Failed(e.to_string()))?;
    let status = response.status();
    // `response` stays alive while the body is read: dropping it cancels the request.
    let mut stream = response.take_body_stream();
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| HttpError::Failed(format!("reading the answer: {e:?}")))?;
        if body.len() + chunk.len() > limit {
            return Err(HttpError::TooLarge { limit });
        }
        body.extend(chunk);
    }
    Ok(HttpResponse { status, body })
}

fn header(headers: &Fields, name: &str) -> Option<String> {
    headers
        .get(name)
        .into_iter()
        .next()
        .map(|v| String::from_utf8_lossy(&v).into_owned())
}

/// Reads the body, refusing it (413) as soon as it exceeds `limit`.
async fn read_body(req: IncomingRequest, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut stream = req.into_body_stream();
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("could not read the body: {e:?}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        body.extend(chunk);
    }
    Ok(body)
}

// The export exists only in the wasm build: natively (unit tests) a cdylib cannot
// carry WIT export names such as `wasi:http/incoming-handler@0.2.0#handle`.
#[cfg_attr(target_arch = "wasm32", http_component)]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    // One handle on the headers: each `headers()` is a host call and a new resource.
    let headers = req.headers();
    let head = RequestHead {
        method: req.method().to_string(),
        path_and_query: req.path_with_query().unwrap_or_default(),
        x_api_key: header(&headers, "x-api-key"),
        authorization: header(&headers, "authorization"),
        content_type: header(&headers, "content-type"),
        content_length: header(&headers, "content-length"),
    };
    drop(headers);
    let outcome = crate::serve(head, |limit| read_body(req, limit), &SpinHttp).await;
    let mut headers = vec![("content-type", outcome.content_type)];
    headers.extend(outcome.headers.iter().map(|(n, v)| (*n, v.as_str())));
    // The whole answer at once: see `spin_reply`.
    spin_reply::send(out, outcome.status, &headers, &outcome.body);
}
