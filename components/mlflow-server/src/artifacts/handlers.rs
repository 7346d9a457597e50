//! Artifact endpoints. Upload (PUT) and download (GET of a file) also exist in streaming
//! form in the Spin entry point, which intercepts them before buffering a body (see
//! [`streaming_target`]); the buffered handlers here serve the same routes elsewhere and
//! share the same store calls.

use super::paths::{from_artifact_uri, join, safe_path};
use super::store;
use crate::error::{ApiResult, MlflowError};
use crate::http::route::{route, Ctx, PathParams, Route};
use crate::http::{ApiRequest, ApiResponse, Method};
use crate::services::runs::get_run_info;
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
    // The query value is already decoded; check it as a literal path.
    let raw = m.path.unwrap_or_default();
    let dir = safe_path(&raw.replace('%', "%25"))?;
    let files = store::list(ctx.db, &dir, "")?;
    ApiResponse::json(&ListArtifactsResponse {
        files,
        ..Default::default()
    })
}

fn download(ctx: &Ctx, _: &ApiRequest, p: &PathParams) -> ApiResult<ApiResponse> {
    let path = safe_path(p.get("path"))?;
    let bytes = store::get(ctx.db, &path)?
        .ok_or_else(|| MlflowError::not_found(format!("File not found: {path}")))?;
    let mut resp = ApiResponse::raw(200, "application/octet-stream", Vec::new());
    resp.headers = download_headers(&path, bytes.len() as i64);
    resp.body = bytes;
    Ok(resp)
}

fn upload(ctx: &Ctx, req: &ApiRequest, p: &PathParams) -> ApiResult<ApiResponse> {
    let path = safe_path(p.get("path"))?;
    store::put(ctx.db, &path, &req.body)?;
    ApiResponse::empty()
}

fn delete(ctx: &Ctx, _: &ApiRequest, p: &PathParams) -> ApiResult<ApiResponse> {
    let path = safe_path(p.get("path"))?;
    store::delete(ctx.db, &path)?;
    ApiResponse::empty()
}

/// `GET /mlflow/artifacts/list?run_id=&path=`: run-relative listing of a run's artifacts.
fn list_run_artifacts(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::ListArtifacts = req.message()?;
    let run_id = m.run.id().ok_or_else(|| MlflowError::missing("run_id"))?;
    let info = get_run_info(ctx.db, run_id)?;
    let rel = safe_path(&m.path.unwrap_or_default().replace('%', "%25"))?;
    let root = from_artifact_uri(&info.artifact_uri).ok_or_else(|| {
        MlflowError::invalid(format!(
            "The artifacts of run {run_id} are not served by this server ({})",
            info.artifact_uri
        ))
    })?;
    let files = store::list(ctx.db, &join(&root, &rel), &rel)?;
    ApiResponse::json(&ListArtifactsResponse {
        root_uri: Some(info.artifact_uri),
        files,
        next_page_token: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::router::dispatch;
    use crate::store::testing;

    fn call(db: &dyn crate::store::db::Db, method: Method, uri: &str, body: &[u8]) -> ApiResponse {
        dispatch(&Ctx { db }, &ApiRequest::new(method, uri, body.to_vec()))
    }

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

    #[test]
    fn proxy_round_trip_over_http_model() {
        let db = testing::db();
        let base = "/api/2.0/mlflow-artifacts/artifacts";
        assert_eq!(
            call(
                &db,
                Method::Put,
                &format!("{base}/0/r/artifacts/d/a%20b.txt"),
                b"hi"
            )
            .status,
            200
        );
        let got = call(
            &db,
            Method::Get,
            &format!("{base}/0/r/artifacts/d/a%20b.txt"),
            b"",
        );
        assert_eq!((got.status, got.body.as_slice()), (200, &b"hi"[..]));
        let listing = call(&db, Method::Get, &format!("{base}?path=0/r/artifacts"), b"");
        assert_eq!(
            String::from_utf8(listing.body).unwrap(),
            r#"{"files":[{"path":"d","is_dir":true}]}"#
        );
        let file_listing = call(
            &db,
            Method::Get,
            &format!("{base}?path=0/r/artifacts/d/a%20b.txt"),
            b"",
        );
        assert_eq!(file_listing.body, b"{}");
        assert_eq!(
            call(&db, Method::Get, &format!("{base}?path=../x"), b"").status,
            400
        );
        assert_eq!(
            call(&db, Method::Put, &format!("{base}/0/%2e%2e/x"), b"x").status,
            400
        );
        assert_eq!(
            call(&db, Method::Get, &format!("{base}/0/missing"), b"").status,
            404
        );
        assert_eq!(
            call(&db, Method::Delete, &format!("{base}/0/r/artifacts/d"), b"").status,
            200
        );
        assert_eq!(
            call(
                &db,
                Method::Get,
                &format!("{base}/0/r/artifacts/d/a%20b.txt"),
                b""
            )
            .status,
            404
        );
        assert_eq!(
            streaming_target(Method::Put, &format!("{base}/0/x")),
            Some("0/x")
        );
        assert_eq!(
            streaming_target(Method::Delete, &format!("{base}/0/x")),
            None
        );
    }
}
