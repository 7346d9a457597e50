//! The UI's artifact files, outside the artifact proxy: previews and downloads of
//! `GET /get-artifact?run_uuid=&path=` (a run's file), `GET /model-versions/get-artifact?
//! name=&version=&path=` (a file of a registered version's model) and `GET /ajax-api/2.0/
//! mlflow/logged-models/{id}/artifacts/files?artifact_file_path=`, and the upload
//! `POST /ajax-api/2.0/mlflow/upload-artifact?run_uuid=&path=` (the raw file as body).
//!
//! Each reads the owner and the relative path from the query; `services::artifacts`
//! checks the path (so nothing escapes the owner's root) and resolves it into a store
//! path. In Spin the downloads stream piece by piece: the entry point asks
//! [`download_target`] before buffering anything; the buffered handlers here answer the
//! same routes natively.

use crate::error::{ApiResult, ErrorCode, MlflowError};
use crate::handlers::artifacts::download_headers;
use crate::http::ajax_only;
use crate::http::route::{Ctx, PathParams};
use crate::http::{ApiRequest, ApiResponse, Method};
use crate::services::artifact_paths::literal_path;
use crate::services::artifacts as service;
use crate::services::registry_validation as v;
use crate::store::artifact_store::{ArtifactReader, ArtifactStore};
use crate::store::db::Db;

/// MLflow's limit for the UI's upload.
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;

const LOGGED_MODEL_FILES: (&str, &str) =
    ("/ajax-api/2.0/mlflow/logged-models/", "/artifacts/files");

/// Whose file a download names.
enum Owner {
    Run,
    ModelVersion,
    LoggedModel(String),
}

/// The download a request asks for, if it is one of the three (path without the query,
/// still percent-encoded).
fn owner_of(method: Method, path: &str) -> Option<Owner> {
    if method != Method::Get {
        return None;
    }
    let path = path.trim_end_matches('/');
    match path {
        "/get-artifact" => Some(Owner::Run),
        "/model-versions/get-artifact" => Some(Owner::ModelVersion),
        _ => {
            let id = path
                .strip_prefix(LOGGED_MODEL_FILES.0)?
                .strip_suffix(LOGGED_MODEL_FILES.1)?;
            (!id.is_empty() && !id.contains('/')).then(|| {
                Owner::LoggedModel(
                    percent_encoding::percent_decode_str(id)
                        .decode_utf8_lossy()
                        .into_owned(),
                )
            })
        }
    }
}

/// A download's store path and its opened file.
pub type OpenedFile<'f> = (String, Box<dyn ArtifactReader + 'f>);

/// The file a UI download names, resolved and opened: `None` when the request is not one
/// of the UI's downloads (the entry point then routes it as usual).
pub fn download_target<'f>(
    db: &dyn Db,
    files: &'f dyn ArtifactStore,
    req: &ApiRequest,
) -> Option<ApiResult<OpenedFile<'f>>> {
    let owner = owner_of(req.method, &req.path)?;
    Some(resolve(db, &owner, req).and_then(|path| service::open_file(files, path)))
}

fn required_query(req: &ApiRequest, name: &str) -> ApiResult<String> {
    req.query_value(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| MlflowError::missing(name))
}

/// The store path of the requested file (not yet known to exist).
fn resolve(db: &dyn Db, owner: &Owner, req: &ApiRequest) -> ApiResult<String> {
    match owner {
        Owner::Run => {
            let rel = literal_path(&required_query(req, "path")?)?;
            let run_id = req
                .query_value("run_id")
                .filter(|v| !v.is_empty())
                .or_else(|| req.query_value("run_uuid"))
                .filter(|v| !v.is_empty())
                .ok_or_else(|| MlflowError::missing("run_uuid"))?;
            service::run_file(db, &run_id, &rel)
        }
        Owner::ModelVersion => {
            let rel = literal_path(&required_query(req, "path")?)?;
            let name = req.query_value("name");
            let name = v::model_name(name.as_deref())?;
            let version = v::version(req.query_value("version").as_deref())?;
            service::model_version_file(db, name, version, &rel)
        }
        Owner::LoggedModel(model_id) => {
            let raw = req
                .query_value("artifact_file_path")
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    MlflowError::new(
                        ErrorCode::BadRequest,
                        "Request must include the \"artifact_file_path\" query parameter.",
                    )
                })?;
            let rel = literal_path(&raw)?;
            service::logged_model_file(db, model_id, &rel)
        }
    }
}

/// The buffered form of a download (native; Spin streams instead, see the module doc).
fn serve(ctx: &Ctx, req: &ApiRequest) -> ApiResult<ApiResponse> {
    let Some(target) = download_target(ctx.db, ctx.artifacts, req) else {
        return Err(MlflowError::internal("not a UI download"));
    };
    let (path, file) = target?;
    let size = file.size();
    let bytes = service::read_all(file)?;
    let mut resp = ApiResponse::raw(200, "application/octet-stream", bytes);
    resp.headers = download_headers(&path, size);
    Ok(resp)
}

pub fn get_run_artifact(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    serve(ctx, req)
}

pub fn get_model_version_artifact(
    ctx: &Ctx,
    req: &ApiRequest,
    _: &PathParams,
) -> ApiResult<ApiResponse> {
    serve(ctx, req)
}

pub fn get_logged_model_artifact(
    ctx: &Ctx,
    req: &ApiRequest,
    _: &PathParams,
) -> ApiResult<ApiResponse> {
    ajax_only(req)?;
    serve(ctx, req)
}

/// Stores the body as `path` under the run's artifact root (MLflow's checks, in its order;
/// the answer is an empty JSON response, as MLflow sends).
pub fn upload(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    ajax_only(req)?;
    let run_id = req
        .query_value("run_uuid")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| MlflowError::invalid("Request must specify run_uuid."))?;
    let raw = req
        .query_value("path")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| MlflowError::invalid("Request must specify path."))?;
    let rel = literal_path(&raw)?;
    if req.body.len() > MAX_UPLOAD_BYTES {
        return Err(MlflowError::invalid(
            "Artifact size is too large. Max size is 10MB.",
        ));
    }
    if req.body.is_empty() {
        return Err(MlflowError::invalid("Request must specify data."));
    }
    service::upload_run_file(ctx.db, ctx.artifacts, &run_id, &rel, &req.body)?;
    Ok(ApiResponse::raw(200, "application/json", Vec::new()))
}
