//! Artifact bodies between Spin's HTTP streams and the [`ArtifactStore`] that holds
//! them (the database or S3), a piece at a time: an upload never sits whole in memory,
//! and a download starts before its file has been read.

use crate::error::{ApiResult, MlflowError};
use crate::handlers::artifacts::download_headers;
use crate::http::ApiResponse;
use crate::services::artifacts as service;
use crate::store::artifact_store::{ArtifactReader, ArtifactStore};
use futures::{SinkExt, StreamExt};
use spin_sdk::http::{Fields, IncomingRequest, OutgoingResponse, ResponseOutparam};

/// Streams the request body into the proxy's file `target` (still percent-encoded).
pub async fn upload(
    files: &dyn ArtifactStore,
    target: &str,
    req: IncomingRequest,
) -> ApiResult<ApiResponse> {
    let (_, mut writer) = service::begin_upload(files, target)?;
    let mut stream = req.into_body_stream();
    while let Some(piece) = stream.next().await {
        let written = piece
            .map_err(|e| MlflowError::invalid(format!("cannot read request body: {e:?}")))
            .and_then(|piece| writer.write(&piece));
        if let Err(e) = written {
            writer.abort();
            return Err(e);
        }
    }
    writer.commit()?;
    ApiResponse::empty()
}

/// Streams an opened file (`path` is its store path) out a piece at a time.
pub async fn download(path: &str, mut file: Box<dyn ArtifactReader + '_>, out: ResponseOutparam) {
    let headers: Vec<(String, Vec<u8>)> = download_headers(path, file.size())
        .into_iter()
        .map(|(k, v)| (k, v.into_bytes()))
        .collect();
    let response =
        OutgoingResponse::new(Fields::from_list(&headers).unwrap_or_else(|_| Fields::new()));
    let _ = response.set_status_code(200);
    let mut body = response.take_body();
    out.set(response);
    loop {
        // Headers are gone already: on a failure the best we can do is cut the body
        // short, which the client sees as a truncated download (Content-Length mismatch).
        let piece = match file.next_piece() {
            Ok(Some(piece)) => piece,
            Ok(None) => return,
            Err(e) => {
                eprintln!(
                    "mlflow-server: download of '{path}' cut short: {}",
                    e.message
                );
                return;
            }
        };
        if body.send(piece).await.is_err() {
            return;
        }
    }
}
