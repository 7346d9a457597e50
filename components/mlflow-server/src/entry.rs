//! The Spin entry point: opens the database (`store::select`: Spin SQLite or PostgreSQL,
//! by the `database_url` variable), migrates it if needed, streams artifact
//! uploads/downloads (the proxy's and the web UI's) chunk by chunk, and hands every other
//! request to the router with its body buffered (bounded).

use crate::error::{ApiResult, MlflowError};
use crate::handlers::artifacts as artifact_http;
use crate::handlers::server_info::unusable_store;
use crate::handlers::web_ui::artifact_files;
use crate::http::route::Ctx;
use crate::http::router::dispatch;
use crate::http::{ApiRequest, ApiResponse, Method};
use crate::services::artifacts as artifact_service;
use crate::store::artifacts::StoredFile;
use crate::store::db::Db;
use crate::store::migrations::ensure_schema;
use crate::store::select;
use futures::{SinkExt, StreamExt};
use spin_sdk::http::{Fields, IncomingRequest, OutgoingResponse, ResponseOutparam};
use spin_sdk::http_component;

/// Largest body read into memory for a JSON endpoint (log-batch itself allows 1 MB).
const MAX_BUFFERED_BODY: usize = 16 << 20;

#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    let method = Method::parse(&method_name(&req));
    let path_and_query = req.path_with_query().unwrap_or_else(|| "/".into());
    let path = path_and_query.split('?').next().unwrap_or("/").to_string();
    let db = match select::open() {
        Ok(db) => db,
        Err(e) => return send(out, unusable_store(&path, e)),
    };
    if let Err(e) = ensure_schema(&db) {
        return send(out, ApiResponse::error(&e));
    }
    if let Some(target) = artifact_http::streaming_target(method, &path) {
        let target = target.to_string();
        return match method {
            Method::Put => {
                let resp = upload(&db, &target, req)
                    .await
                    .unwrap_or_else(|e| ApiResponse::error(&e));
                send(out, resp)
            }
            _ => download(&db, &target, out).await,
        };
    }
    // The UI's file previews (runs, model versions, logged models) stream as well.
    let head = ApiRequest::new(method, &path_and_query, Vec::new());
    if let Some(target) = artifact_files::download_target(&db, &head) {
        return match target {
            Ok((path, file)) => stream_file(&db, &path, file, out).await,
            Err(e) => send(out, ApiResponse::error(&e)),
        };
    }
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(e) => return send(out, ApiResponse::error(&e)),
    };
    let api_req = ApiRequest::new(method, &path_and_query, body);
    send(out, dispatch(&Ctx { db: &db }, &api_req))
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

/// Streams the request body into the store in CHUNK_SIZE pieces: memory stays at about
/// one chunk whatever the file size.
async fn upload(db: &dyn Db, target: &str, req: IncomingRequest) -> ApiResult<ApiResponse> {
    let (path, blob) = artifact_service::begin_upload(db, target)?;
    let result = async {
        let mut stream = req.into_body_stream();
        let mut pending: Vec<u8> = Vec::with_capacity(artifact_service::CHUNK_SIZE);
        let (mut seq, mut size) = (0i64, 0i64);
        while let Some(piece) = stream.next().await {
            let mut piece = &piece
                .map_err(|e| MlflowError::invalid(format!("cannot read request body: {e:?}")))?[..];
            size += piece.len() as i64;
            while !piece.is_empty() {
                let take = (artifact_service::CHUNK_SIZE - pending.len()).min(piece.len());
                pending.extend_from_slice(&piece[..take]);
                piece = &piece[take..];
                if pending.len() == artifact_service::CHUNK_SIZE {
                    let full = std::mem::replace(
                        &mut pending,
                        Vec::with_capacity(artifact_service::CHUNK_SIZE),
                    );
                    artifact_service::write_chunk(db, blob, seq, full)?;
                    seq += 1;
                }
            }
        }
        if !pending.is_empty() {
            artifact_service::write_chunk(db, blob, seq, pending)?;
        }
        artifact_service::commit_upload(db, &path, blob, size)
    }
    .await;
    match result {
        Ok(()) => ApiResponse::empty(),
        Err(e) => {
            let _ = artifact_service::abort_upload(db, blob);
            Err(e)
        }
    }
}

/// Streams a stored file out chunk by chunk.
async fn download(db: &dyn Db, target: &str, out: ResponseOutparam) {
    match artifact_service::open_proxied(db, target) {
        Ok((path, file)) => stream_file(db, &path, file, out).await,
        Err(e) => send(out, ApiResponse::error(&e)),
    }
}

/// Streams an opened file (`path` is its store path) out chunk by chunk.
async fn stream_file(db: &dyn Db, path: &str, file: StoredFile, out: ResponseOutparam) {
    let headers = artifact_http::download_headers(path, file.size);
    let response = OutgoingResponse::new(fields(&headers));
    let _ = response.set_status_code(200);
    let mut body = response.take_body();
    out.set(response);
    for seq in 0..file.chunks {
        // Headers are gone already: on a failure the best we can do is cut the body short,
        // which the client sees as a truncated download (Content-Length mismatch).
        let Ok(chunk) = artifact_service::read_chunk(db, file.blob, seq) else {
            return;
        };
        if body.send(chunk).await.is_err() {
            return;
        }
    }
}

fn fields(headers: &[(String, String)]) -> Fields {
    let list: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
        .collect();
    Fields::from_list(&list).unwrap_or_else(|_| Fields::new())
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
