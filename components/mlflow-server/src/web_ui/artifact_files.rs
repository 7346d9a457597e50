//! The UI's artifact files, outside the artifact proxy: previews and downloads of
//! `GET /get-artifact?run_uuid=&path=` (a run's file), `GET /model-versions/get-artifact?
//! name=&version=&path=` (a file of a registered version's model) and `GET /ajax-api/2.0/
//! mlflow/logged-models/{id}/artifacts/files?artifact_file_path=`, and the upload
//! `POST /ajax-api/2.0/mlflow/upload-artifact?run_uuid=&path=` (the raw file as body).
//!
//! Each resolves the owner's `mlflow-artifacts:` root and a relative path (checked by
//! [`paths::safe_path`], so nothing escapes the root) into a store path. In Spin the
//! downloads stream chunk by chunk: the entry point asks [`download_target`] before
//! buffering anything; the buffered handlers here answer the same routes natively.

use crate::artifacts::handlers::download_headers;
use crate::artifacts::paths::{self, from_artifact_uri, join, safe_path};
use crate::artifacts::store::{self, StoredFile};
use crate::error::{ApiResult, MlflowError};
use crate::http::ajax_only;
use crate::http::route::{Ctx, PathParams};
use crate::http::{ApiRequest, ApiResponse, Method};
use crate::services::model_versions as versions;
use crate::services::runs::get_run_info;
use crate::services::{logged_models, registry_validation as v};
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

/// The file a UI download names, resolved and opened: `None` when the request is not one
/// of the UI's downloads (the entry point then routes it as usual).
pub fn download_target(db: &dyn Db, req: &ApiRequest) -> Option<ApiResult<(String, StoredFile)>> {
    let owner = owner_of(req.method, &req.path)?;
    Some(resolve(db, &owner, req).and_then(|path| open_file(db, path)))
}

/// A query value taken as a literal path (already decoded: a `%` in it is a `%`).
fn literal_path(raw: &str) -> ApiResult<String> {
    safe_path(&raw.replace('%', "%25"))
}

fn required_query(req: &ApiRequest, name: &str) -> ApiResult<String> {
    req.query_value(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| MlflowError::missing(name))
}

/// The store path of an artifact root URI this server serves.
fn served_root(uri: &str, owner: &str) -> ApiResult<String> {
    from_artifact_uri(uri).ok_or_else(|| {
        MlflowError::invalid(format!(
            "The artifacts of {owner} are not served by this server ({uri})"
        ))
    })
}

fn run_root(db: &dyn Db, run_id: &str) -> ApiResult<String> {
    let info = get_run_info(db, run_id)?;
    served_root(&info.artifact_uri, &format!("run {run_id}"))
}

/// The store path of the requested file (not yet known to exist).
fn resolve(db: &dyn Db, owner: &Owner, req: &ApiRequest) -> ApiResult<String> {
    let (root, rel) = match owner {
        Owner::Run => {
            let rel = literal_path(&required_query(req, "path")?)?;
            let run_id = req
                .query_value("run_id")
                .filter(|v| !v.is_empty())
                .or_else(|| req.query_value("run_uuid"))
                .filter(|v| !v.is_empty())
                .ok_or_else(|| MlflowError::missing("run_uuid"))?;
            (run_root(db, &run_id)?, rel)
        }
        Owner::ModelVersion => {
            let rel = literal_path(&required_query(req, "path")?)?;
            let name = req.query_value("name");
            let name = v::model_name(name.as_deref())?;
            let version = v::version(req.query_value("version").as_deref())?;
            let uri = versions::download_uri(db, name, version)?;
            (
                served_root(&uri, &format!("model version {name}/{version}"))?,
                rel,
            )
        }
        Owner::LoggedModel(model_id) => {
            let raw = req
                .query_value("artifact_file_path")
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    MlflowError::new(
                        crate::error::ErrorCode::BadRequest,
                        "Request must include the \"artifact_file_path\" query parameter.",
                    )
                })?;
            let rel = literal_path(&raw)?;
            let model = logged_models::get(db, model_id, false)?;
            (
                served_root(&model.info.artifact_uri, &format!("model {model_id}"))?,
                rel,
            )
        }
    };
    Ok(join(&root, &rel))
}

/// Opens a file, telling a directory (400) from a missing file (404) as MLflow does.
fn open_file(db: &dyn Db, path: String) -> ApiResult<(String, StoredFile)> {
    match store::open(db, &path)? {
        Some(file) => Ok((path, file)),
        None if store::is_dir(db, &path)? => Err(MlflowError::invalid(format!(
            "Artifact path refers to a directory, not a file: '{path}'"
        ))),
        None => Err(MlflowError::not_found(format!(
            "No such artifact: '{path}'"
        ))),
    }
}

/// The buffered form of a download (native; Spin streams instead, see the module doc).
fn serve(db: &dyn Db, req: &ApiRequest) -> ApiResult<ApiResponse> {
    let Some(target) = download_target(db, req) else {
        return Err(MlflowError::internal("not a UI download"));
    };
    let (path, file) = target?;
    let bytes = store::get(db, &path)?
        .ok_or_else(|| MlflowError::not_found(format!("No such artifact: '{path}'")))?;
    let mut resp = ApiResponse::raw(200, "application/octet-stream", bytes);
    resp.headers = download_headers(&path, file.size);
    Ok(resp)
}

pub fn get_run_artifact(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    serve(ctx.db, req)
}

pub fn get_model_version_artifact(
    ctx: &Ctx,
    req: &ApiRequest,
    _: &PathParams,
) -> ApiResult<ApiResponse> {
    serve(ctx.db, req)
}

pub fn get_logged_model_artifact(
    ctx: &Ctx,
    req: &ApiRequest,
    _: &PathParams,
) -> ApiResult<ApiResponse> {
    ajax_only(req)?;
    serve(ctx.db, req)
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
    let root = run_root(ctx.db, &run_id)?;
    store::put(ctx.db, &paths::join(&root, &rel), &req.body)?;
    Ok(ApiResponse::raw(200, "application/json", Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::runs::create_run;
    use crate::store::testing;
    use crate::web_ui::testing::{call, call_json};

    fn header<'a>(r: &'a ApiResponse, name: &str) -> &'a str {
        r.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    fn run_with_files(db: &dyn Db) -> (String, String) {
        let info = create_run(db, &Default::default()).unwrap().info;
        let root = from_artifact_uri(&info.artifact_uri).unwrap();
        store::put(db, &format!("{root}/notes/readme.txt"), b"hello").unwrap();
        store::put(db, &format!("{root}/plots/a b%.png"), b"\x89PNG").unwrap();
        (info.run_id, root)
    }

    #[test]
    fn run_files_are_served_with_mlflow_headers() {
        let db = testing::db();
        let (run, _) = run_with_files(&db);
        let r = call(
            &db,
            Method::Get,
            &format!("/get-artifact?path=notes%2Freadme.txt&run_uuid={run}"),
            b"",
        );
        assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
        assert_eq!(header(&r, "content-type"), "text/plain");
        assert!(header(&r, "content-disposition").contains("readme.txt"));
        // run_id works too; a literal % in a name is a %, not an escape.
        let png = call(
            &db,
            Method::Get,
            &format!("/get-artifact?path=plots/a%20b%25.png&run_id={run}"),
            b"",
        );
        assert_eq!(
            (png.status, header(&png, "content-type")),
            (200, "image/png")
        );
    }

    #[test]
    fn run_file_errors_are_mlflow_4xx() {
        let db = testing::db();
        let (run, root) = run_with_files(&db);
        let cases = [
            (
                format!("/get-artifact?path=notes/missing.txt&run_uuid={run}"),
                404,
                "RESOURCE_DOES_NOT_EXIST",
            ),
            (
                format!("/get-artifact?path=notes&run_uuid={run}"),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                format!("/get-artifact?path=..%2F..%2Fx&run_uuid={run}"),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                format!("/get-artifact?path=%2Fetc%2Fpasswd&run_uuid={run}"),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                format!("/get-artifact?run_uuid={run}"),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                "/get-artifact?path=a.txt".to_string(),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                "/get-artifact?path=a.txt&run_uuid=nope".to_string(),
                404,
                "RESOURCE_DOES_NOT_EXIST",
            ),
        ];
        for (uri, status, code) in cases {
            let (got, body) = call_json(&db, Method::Get, &uri, "");
            assert_eq!(
                (got, body["error_code"].as_str()),
                (status, Some(code)),
                "{uri}"
            );
        }
        let (_, body) = call_json(
            &db,
            Method::Get,
            &format!("/get-artifact?path=notes&run_uuid={run}"),
            "",
        );
        assert_eq!(
            body["message"],
            format!("Artifact path refers to a directory, not a file: '{root}/notes'")
        );
    }

    #[test]
    fn model_version_and_logged_model_files() {
        use crate::services::{logged_models::NewLoggedModel, registered_models as models};
        use mlflow_wire::registry::CreateModelVersion;
        let db = testing::db();
        let model = logged_models::create(
            &db,
            &NewLoggedModel {
                experiment_id: "0",
                name: Some("m"),
                model_type: None,
                source_run_id: None,
                params: &[],
                tags: &[],
            },
        )
        .unwrap();
        let (id, uri) = (model.info.model_id, model.info.artifact_uri);
        let root = from_artifact_uri(&uri).unwrap();
        store::put(&db, &format!("{root}/MLmodel"), b"flavors: {}").unwrap();
        models::create(&db, "iris", &[], None).unwrap();
        versions::create(
            &db,
            &CreateModelVersion {
                name: Some("iris".into()),
                source: Some(uri.clone()),
                model_id: Some(id.clone()),
                ..Default::default()
            },
        )
        .unwrap();

        let mv = call(
            &db,
            Method::Get,
            "/model-versions/get-artifact?path=MLmodel&name=iris&version=1",
            b"",
        );
        assert_eq!((mv.status, mv.body.as_slice()), (200, &b"flavors: {}"[..]));
        // MLmodel has no extension; MLflow serves it as text.
        assert_eq!(header(&mv, "content-type"), "text/plain");
        for (uri, status) in [
            (
                "/model-versions/get-artifact?path=MLmodel&name=iris&version=9",
                404,
            ),
            (
                "/model-versions/get-artifact?path=MLmodel&name=nope&version=1",
                404,
            ),
            (
                "/model-versions/get-artifact?path=..%2FMLmodel&name=iris&version=1",
                400,
            ),
            ("/model-versions/get-artifact?name=iris&version=1", 400),
            (
                "/model-versions/get-artifact?path=MLmodel&name=iris&version=x",
                400,
            ),
        ] {
            assert_eq!(call(&db, Method::Get, uri, b"").status, status, "{uri}");
        }

        let files = format!("/ajax-api/2.0/mlflow/logged-models/{id}/artifacts/files");
        let lm = call(
            &db,
            Method::Get,
            &format!("{files}?artifact_file_path=MLmodel"),
            b"",
        );
        assert_eq!((lm.status, lm.body.as_slice()), (200, &b"flavors: {}"[..]));
        let (status, body) = call_json(&db, Method::Get, &files, "");
        assert_eq!(
            (status, body["error_code"].as_str()),
            (400, Some("BAD_REQUEST"))
        );
        for (uri, status) in [
            (format!("{files}?artifact_file_path=nope"), 404),
            (format!("{files}?artifact_file_path=..%2Fx"), 400),
            ("/ajax-api/2.0/mlflow/logged-models/m-nope/artifacts/files?artifact_file_path=MLmodel".into(), 404),
            (format!("/api/2.0/mlflow/logged-models/{id}/artifacts/files?artifact_file_path=MLmodel"), 404),
        ] {
            assert_eq!(call(&db, Method::Get, &uri, b"").status, status, "{uri}");
        }
    }

    #[test]
    fn downloads_are_recognised_for_streaming() {
        let db = testing::db();
        let (run, root) = run_with_files(&db);
        let req = ApiRequest::new(
            Method::Get,
            &format!("/get-artifact?path=notes/readme.txt&run_uuid={run}"),
            Vec::new(),
        );
        let (path, file) = download_target(&db, &req).unwrap().unwrap();
        assert_eq!((path, file.size), (format!("{root}/notes/readme.txt"), 5));
        for other in [
            "/get-artifacts?path=x",
            "/api/2.0/mlflow/logged-models/m-1/artifacts/files",
            "/ajax-api/2.0/mlflow/logged-models/a/b/artifacts/files",
            "/ajax-api/2.0/mlflow/runs/get",
        ] {
            let req = ApiRequest::new(Method::Get, other, Vec::new());
            assert!(download_target(&db, &req).is_none(), "{other}");
        }
        let post = ApiRequest::new(Method::Post, "/get-artifact?path=x&run_uuid=y", Vec::new());
        assert!(download_target(&db, &post).is_none());
    }

    #[test]
    fn upload_then_download() {
        let db = testing::db();
        let (run, _) = run_with_files(&db);
        let up = call(
            &db,
            Method::Post,
            &format!("/ajax-api/2.0/mlflow/upload-artifact?run_uuid={run}&path=up%2Fnew.txt"),
            b"uploaded",
        );
        assert_eq!((up.status, up.body.len()), (200, 0));
        let got = call(
            &db,
            Method::Get,
            &format!("/get-artifact?path=up/new.txt&run_uuid={run}"),
            b"",
        );
        assert_eq!(got.body, b"uploaded");
        let base = "/ajax-api/2.0/mlflow/upload-artifact";
        let too_big = vec![b'x'; MAX_UPLOAD_BYTES + 1];
        let cases: [(String, &[u8], u16, &str); 6] = [
            (
                format!("{base}?run_uuid={run}&path=..%2Fx"),
                b"x",
                400,
                "Invalid path: ../x",
            ),
            (
                format!("{base}?run_uuid={run}"),
                b"x",
                400,
                "Request must specify path.",
            ),
            (
                format!("{base}?path=a.txt"),
                b"x",
                400,
                "Request must specify run_uuid.",
            ),
            (
                format!("{base}?run_uuid={run}&path=e.txt"),
                b"",
                400,
                "Request must specify data.",
            ),
            (
                format!("{base}?run_uuid={run}&path=e.txt"),
                &too_big,
                400,
                "Artifact size is too large. Max size is 10MB.",
            ),
            (
                format!("{base}?run_uuid=nope&path=e.txt"),
                b"x",
                404,
                "Run with id=nope not found",
            ),
        ];
        for (uri, body, status, message) in cases {
            let r = call(&db, Method::Post, &uri, body);
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(
                (r.status, v["message"].as_str()),
                (status, Some(message)),
                "{uri}"
            );
        }
        let api = call(
            &db,
            Method::Post,
            &format!("/api/2.0/mlflow/upload-artifact?run_uuid={run}&path=b.txt"),
            b"x",
        );
        assert_eq!(api.status, 404);
    }
}
