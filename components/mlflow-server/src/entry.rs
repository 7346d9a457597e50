//! The Spin entry point: opens the database (`store::spin_store`: Spin SQLite or PostgreSQL,
//! by the `database_url` variable), migrates it if needed, picks where artifact bytes
//! live (`store::artifact_destination`: the database or S3), streams artifact
//! uploads/downloads (the proxy's and the web UI's) piece by piece (`artifact_streams`),
//! and hands every other request to the router with its body buffered (bounded).

use crate::artifact_streams;
use crate::error::{ApiResult, MlflowError};
use crate::handlers::artifacts as artifact_http;
use crate::handlers::server_info::{unmigrated_store, unusable_store};
use crate::handlers::web_ui::artifact_files;
use crate::http::route::Ctx;
use crate::http::router::{checks_schema_itself, dispatch};
use crate::http::{ApiRequest, ApiResponse, Method};
use crate::services::artifacts as artifact_service;
use crate::store::artifact_destination::LazyDestination;
use crate::store::artifact_store::ArtifactStore;
use crate::store::migrations::ensure_schema;
use crate::store::spin_store;
use futures::StreamExt;
use spin_sdk::http::{IncomingRequest, ResponseOutparam};
use spin_sdk::http_component;

/// Largest body read into memory for a JSON endpoint (log-batch itself allows 1 MB).
const MAX_BUFFERED_BODY: usize = 16 << 20;

#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    let method = Method::parse(&method_name(&req));
    let path_and_query = req.path_with_query().unwrap_or_else(|| "/".into());
    let path = path_and_query.split('?').next().unwrap_or("/").to_string();
    let db = match spin_store::open() {
        Ok(db) => db,
        Err(e) => return send(out, unusable_store(&path, e)),
    };
    if !checks_schema_itself(method, &path) {
        if let Err(e) = ensure_schema(&db) {
            return send(out, unmigrated_store(&path, e));
        }
    }
    // Read from the variables only if the request touches an artifact.
    let destination = LazyDestination::new(&db);
    let files: &dyn ArtifactStore = &destination;
    if let Some(target) = artifact_http::streaming_target(method, &path) {
        let target = target.to_string();
        return match method {
            Method::Put => {
                let resp = artifact_streams::upload(files, &target, req)
                    .await
                    .unwrap_or_else(|e| ApiResponse::error(&e));
                send(out, resp)
            }
            _ => match artifact_service::open_proxied(files, &target) {
                Ok((path, file)) => artifact_streams::download(&path, file, out).await,
                Err(e) => send(out, ApiResponse::error(&e)),
            },
        };
    }
    // The UI's file previews (runs, model versions, logged models) stream as well.
    let head = ApiRequest::new(method, &path_and_query, Vec::new());
    if let Some(target) = artifact_files::download_target(&db, files, &head) {
        return match target {
            Ok((path, file)) => artifact_streams::download(&path, file, out).await,
            Err(e) => send(out, ApiResponse::error(&e)),
        };
    }
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(e) => return send(out, ApiResponse::error(&e)),
    };
    let api_req = ApiRequest::new(method, &path_and_query, body);
    let ctx = Ctx {
        db: &db,
        artifacts: files,
    };
    send(out, dispatch(&ctx, &api_req))
}

fn method_name(req: &IncomingRequest) -> String {
    use spin_sdk::http::Method as M;
    match req.method() {
        M::Get => "GET".into(),
        M::Post => "POST".into(),
        M::Put => "PUT".into(),
        M::Patch => "PATCH".into(),
        M::Delete => "DELETE".into(),
        M::Head => "HEAD".into(),
        other => other.to_string(),
    }
}

async fn read_body(req: IncomingRequest) -> ApiResult<Vec<u8>> {
    let mut stream = req.into_body_stream();
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| MlflowError::invalid(format!("cannot read request body: {e:?}")))?;
        if body.len() + chunk.len() > MAX_BUFFERED_BODY {
            return Err(MlflowError::invalid(format!(
                "Request body exceeds the limit of {MAX_BUFFERED_BODY} bytes"
            )));
        }
        body.extend(chunk);
    }
    Ok(body)
}

fn send(out: ResponseOutparam, resp: ApiResponse) {
    let content_type = resp
        .headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map_or(resp.content_type, |(_, ct)| ct.as_str());
    let mut headers = vec![("content-type", content_type)];
    headers.extend(
        resp.headers
            .iter()
            .filter(|(k, _)| k != "content-type")
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    // The whole answer at once: see `spin_reply`.
    spin_reply::send(out, resp.status, &headers, &resp.body);
}
