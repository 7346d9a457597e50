//! The UI's artifact files: downloads of runs, model versions and logged models, their
//! errors, streaming recognition, and the upload.

use super::{call, call_json};
use crate::handlers::web_ui::artifact_files::{download_target, MAX_UPLOAD_BYTES};
use crate::http::{ApiRequest, ApiResponse, Method};
use crate::services::artifact_paths::from_artifact_uri;
use crate::services::logged_models;
use crate::services::model_versions as versions;
use crate::services::runs::create_run;
use crate::store::artifacts as store;
use crate::store::database_artifacts::DatabaseArtifacts;
use crate::store::db::Db;
use crate::store::testing;

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
        (
            "/ajax-api/2.0/mlflow/logged-models/m-nope/artifacts/files?artifact_file_path=MLmodel"
                .into(),
            404,
        ),
        (
            format!(
                "/api/2.0/mlflow/logged-models/{id}/artifacts/files?artifact_file_path=MLmodel"
            ),
            404,
        ),
    ] {
        assert_eq!(call(&db, Method::Get, &uri, b"").status, status, "{uri}");
    }
}

#[test]
fn downloads_are_recognised_for_streaming() {
    let db = testing::db();
    let files = DatabaseArtifacts(&db);
    let (run, root) = run_with_files(&db);
    let req = ApiRequest::new(
        Method::Get,
        &format!("/get-artifact?path=notes/readme.txt&run_uuid={run}"),
        Vec::new(),
    );
    let (path, file) = download_target(&db, &files, &req).unwrap().unwrap();
    assert_eq!((path, file.size()), (format!("{root}/notes/readme.txt"), 5));
    for other in [
        "/get-artifacts?path=x",
        "/api/2.0/mlflow/logged-models/m-1/artifacts/files",
        "/ajax-api/2.0/mlflow/logged-models/a/b/artifacts/files",
        "/ajax-api/2.0/mlflow/runs/get",
    ] {
        let req = ApiRequest::new(Method::Get, other, Vec::new());
        assert!(download_target(&db, &files, &req).is_none(), "{other}");
    }
    let post = ApiRequest::new(Method::Post, "/get-artifact?path=x&run_uuid=y", Vec::new());
    assert!(download_target(&db, &files, &post).is_none());
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
