//! HTTP handlers of artifacts: the proxy (`/api/2.0/mlflow-artifacts/artifacts`) and the
//! tracking listing (`artifacts/list`), over `services::artifacts`. Upload (PUT) and
//! download (GET of a file) also exist in streaming form in the Spin entry point, which
//! intercepts them before buffering a body (see [`streaming_target`]); the buffered
//! handlers here serve the same routes elsewhere and share the same service calls.

use crate::error::{ApiResult, MlflowError};
use crate::http::route::{route, Ctx, PathParams, Route};
use crate::http::{ApiRequest, ApiResponse, Method};
use crate::services::artifacts as service;
use mlflow_wire::tracking::{self as wire, ListArtifactsResponse};

/// Under `/api/2.0/mlflow-artifacts/`.
pub const PROXY_ROUTES: &[Route] = &[
    route(Method::Get, "artifacts", list_proxied),
    route(Method::Get, "artifacts/{*path}", download),
    route(Method::Put, "artifacts/{*path}", upload),
    route(Method::Delete, "artifacts/{*path}", delete),
];

/// Under `/api/2.0/mlflow/`.
pub const TRACKING_ROUTES: &[Route] = &[route(Method::Get, "artifacts/list", list_run_artifacts)];

const PROXY_FILE_PREFIX: &str = "/api/2.0/mlflow-artifacts/artifacts/";

/// The artifact path of a request the entry point should stream (PUT upload or GET
/// download of `/api/2.0/mlflow-artifacts/artifacts/<path>`), still percent-encoded.
pub fn streaming_target(method: Method, path: &str) -> Option<&str> {
    let rest = path.strip_prefix(PROXY_FILE_PREFIX)?;
    (matches!(method, Method::Put | Method::Get) && !rest.is_empty()).then_some(rest)
}

/// Response headers of a download, as MLflow sends them.
pub fn download_headers(path: &str, size: i64) -> Vec<(String, String)> {
    let name = path.rsplit('/').next().unwrap_or(path).replace('"', "");
    vec![
        ("content-type".into(), guess_mime(&name).into()),
        (
            "content-disposition".into(),
            format!("attachment; filename=\"{name}\""),
        ),
        ("x-content-type-options".into(), "nosniff".into()),
        ("content-length".into(), size.to_string()),
    ]
}

/// MLflow's content type of a file: text for its list of text extensions and for
/// `MLmodel`/`MLproject` (names without an extension), otherwise by extension.
fn guess_mime(name: &str) -> &'static str {
    const TEXT: &[&str] = &[
        "txt",
        "log",
        "err",
        "cfg",
        "conf",
        "cnf",
        "cf",
        "ini",
        "properties",
        "prop",
        "hocon",
        "toml",
        "yaml",
        "yml",
        "xml",
        "json",
        "js",
        "py",
        "py3",
        "csv",
        "tsv",
        "md",
        "rst",
        "ipynb",
        "MLmodel",
        "MLproject",
    ];
    let ext = match name.rsplit_once('.') {
        Some((_, ext)) => ext,
        None => name,
    };
    if TEXT.contains(&ext) {
        return "text/plain";
    }
    match ext.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "svg" => "image/svg+xml",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "webp" => "image/webp",
        "tif" | "tiff" => "image/tiff",
        "pdf" => "application/pdf",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

fn list_proxied(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::ListProxiedArtifacts = req.message()?;
    // The query value is already decoded: it is checked as a literal path.
    let files = service::list_proxied(ctx.artifacts, &m.path.unwrap_or_default())?;
    ApiResponse::json(&ListArtifactsResponse {
        files,
        ..Default::default()
    })
}

fn download(ctx: &Ctx, _: &ApiRequest, p: &PathParams) -> ApiResult<ApiResponse> {
    let (path, bytes) = service::download(ctx.artifacts, p.get("path"))?;
    let mut resp = ApiResponse::raw(200, "application/octet-stream", Vec::new());
    resp.headers = download_headers(&path, bytes.len() as i64);
    resp.body = bytes;
    Ok(resp)
}

fn upload(ctx: &Ctx, req: &ApiRequest, p: &PathParams) -> ApiResult<ApiResponse> {
    service::upload(ctx.artifacts, p.get("path"), &req.body)?;
    ApiResponse::empty()
}

fn delete(ctx: &Ctx, _: &ApiRequest, p: &PathParams) -> ApiResult<ApiResponse> {
    service::delete(ctx.artifacts, p.get("path"))?;
    ApiResponse::empty()
}

/// `GET /mlflow/artifacts/list?run_id=&path=`: run-relative listing of a run's artifacts.
fn list_run_artifacts(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::ListArtifacts = req.message()?;
    let run_id = m.run.id().ok_or_else(|| MlflowError::missing("run_id"))?;
    let path = m.path.clone().unwrap_or_default();
    ApiResponse::json(&service::list_run_artifacts(
        ctx.db,
        ctx.artifacts,
        run_id,
        &path,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_mlflow() {
        for (name, want) in [
            ("readme.txt", "text/plain"),
            ("data.json", "text/plain"),
            ("table.csv", "text/plain"),
            ("MLmodel", "text/plain"),
            ("conda.yaml", "text/plain"),
            ("plot.png", "image/png"),
            ("photo.JPG", "image/jpeg"),
            ("page.html", "text/html"),
            ("model.pkl", "application/octet-stream"),
            ("README", "application/octet-stream"),
        ] {
            assert_eq!(guess_mime(name), want, "{name}");
        }
    }
}
