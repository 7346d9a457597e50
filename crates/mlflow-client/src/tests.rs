//! Resolution and download against a fake tracking server (a table of answers).

use crate::{
    HttpClient, HttpError, HttpResponse, MlflowClient, ModelUri, RegistryError, MAX_MODEL_BYTES,
};
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;

/// Answers from a table of `"GET url"` / `"POST url body"` -> (status, body); records
/// the calls; anything else is a refused connection.
struct Fake {
    answers: HashMap<String, (u16, Vec<u8>)>,
    calls: RefCell<Vec<String>>,
}

impl Fake {
    fn new(answers: &[(&str, u16, &str)]) -> Self {
        let answers = answers
            .iter()
            .map(|(u, s, b)| (u.to_string(), (*s, b.as_bytes().to_vec())))
            .collect();
        Self {
            answers,
            calls: RefCell::default(),
        }
    }

    fn answer(&self, key: String, limit: usize) -> Result<HttpResponse, HttpError> {
        self.calls.borrow_mut().push(key.clone());
        match self.answers.get(&key) {
            Some((_, body)) if body.len() > limit => Err(HttpError::TooLarge { limit }),
            Some((status, body)) => Ok(HttpResponse {
                status: *status,
                body: body.clone(),
            }),
            None => Err(HttpError::Failed(format!("connection refused ({key})"))),
        }
    }
}

impl HttpClient for Fake {
    async fn get(&self, url: &str, limit: usize) -> Result<HttpResponse, HttpError> {
        self.answer(format!("GET {url}"), limit)
    }
    async fn post_json(
        &self,
        url: &str,
        json: &str,
        limit: usize,
    ) -> Result<HttpResponse, HttpError> {
        self.answer(format!("POST {url} {json}"), limit)
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

fn client(fake: &Fake) -> MlflowClient<'_, Fake> {
    MlflowClient::new(fake, "http://t").unwrap()
}

fn uri(text: &str) -> ModelUri {
    ModelUri::parse(text).unwrap()
}

const ALIAS: &str = "GET http://t/api/2.0/mlflow/registered-models/alias?name=iris&alias=champion";
const VERSION_3: &str = r#"{"model_version":{"name":"iris","version":"3"}}"#;
const DOWNLOAD_URI_3: &str =
    "GET http://t/api/2.0/mlflow/model-versions/get-download-uri?name=iris&version=3";

#[test]
fn alias_resolution_and_download() {
    let fake = Fake::new(&[
        (ALIAS, 200, VERSION_3),
        (
            DOWNLOAD_URI_3,
            200,
            r#"{"artifact_uri":"mlflow-artifacts:/1/models/m-9/artifacts"}"#,
        ),
        (
            "GET http://t/api/2.0/mlflow-artifacts/artifacts?path=1%2Fmodels%2Fm-9%2Fartifacts",
            200,
            r#"{"files":[{"path":"MLmodel","is_dir":false},{"path":"model.onnx","is_dir":false,"file_size":3}]}"#,
        ),
        (
            "GET http://t/api/2.0/mlflow-artifacts/artifacts/1/models/m-9/artifacts/model.onnx",
            200,
            "abc",
        ),
    ]);
    let reg = client(&fake);
    let resolved = block_on(reg.resolve(&uri("models:/iris@champion"))).unwrap();
    assert_eq!(
        (resolved.name.as_str(), resolved.version.as_str()),
        ("iris", "3")
    );
    assert_eq!(
        block_on(reg.download_onnx(&resolved.artifact_uri, MAX_MODEL_BYTES)).unwrap(),
        b"abc"
    );
    // Larger than the caller's limit: an answer we cannot use.
    assert!(matches!(
        block_on(reg.download_onnx(&resolved.artifact_uri, 2)),
        Err(RegistryError::Invalid(m)) if m.contains("more than 2 bytes")
    ));
}

#[test]
fn stages_use_get_latest_versions_and_pick_the_highest() {
    let fake = Fake::new(&[
        (
            r#"POST http://t/api/2.0/mlflow/registered-models/get-latest-versions {"name":"iris","stages":["Production"]}"#,
            200,
            r#"{"model_versions":[{"name":"iris","version":"2"},{"name":"iris","version":"10"}]}"#,
        ),
        (
            "GET http://t/api/2.0/mlflow/model-versions/get-download-uri?name=iris&version=10",
            200,
            r#"{"artifact_uri":"mlflow-artifacts:/1/r/artifacts/model"}"#,
        ),
    ]);
    let r = block_on(client(&fake).resolve(&uri("models:/iris/Production"))).unwrap();
    assert_eq!(r.version, "10");
}

#[test]
fn older_servers_get_the_get_form_of_get_latest_versions() {
    let fake = Fake::new(&[
        (
            r#"POST http://t/api/2.0/mlflow/registered-models/get-latest-versions {"name":"iris","stages":[]}"#,
            404,
            "<html>no such route</html>",
        ),
        (
            "GET http://t/api/2.0/mlflow/registered-models/get-latest-versions?name=iris",
            200,
            r#"{"model_versions":[{"version":4}]}"#,
        ),
        (
            "GET http://t/api/2.0/mlflow/model-versions/get-download-uri?name=iris&version=4",
            200,
            r#"{"artifact_uri":"mlflow-artifacts:/1/r/artifacts/model"}"#,
        ),
    ]);
    let r = block_on(client(&fake).resolve(&uri("models:/iris/latest"))).unwrap();
    assert_eq!(r.version, "4");
    let none = Fake::new(&[(
        r#"POST http://t/api/2.0/mlflow/registered-models/get-latest-versions {"name":"iris","stages":[]}"#,
        200,
        "{}",
    )]);
    assert!(matches!(
        block_on(client(&none).resolve(&uri("models:/iris/latest"))),
        Err(RegistryError::NotFound(_))
    ));
}

#[test]
fn a_download_uri_naming_a_logged_model_is_followed() {
    let fake = Fake::new(&[
        (
            "GET http://t/api/2.0/mlflow/model-versions/get?name=iris&version=3",
            200,
            VERSION_3,
        ),
        (DOWNLOAD_URI_3, 200, r#"{"artifact_uri":"models:/m-ab"}"#),
        (
            "GET http://t/api/2.0/mlflow/logged-models/m-ab",
            200,
            r#"{"model":{"info":{"model_id":"m-ab","experiment_id":"1","artifact_uri":"mlflow-artifacts:/1/models/m-ab/artifacts"}}}"#,
        ),
    ]);
    let r = block_on(client(&fake).resolve(&uri("models:/iris/3"))).unwrap();
    assert_eq!(r.artifact_uri, "mlflow-artifacts:/1/models/m-ab/artifacts");
}

#[test]
fn logged_models_and_runs_resolve_to_their_artifacts() {
    let fake = Fake::new(&[
        (
            "GET http://t/api/2.0/mlflow/logged-models/m-ab",
            200,
            r#"{"model":{"info":{"model_id":"m-ab","experiment_id":"1","name":"clf","artifact_uri":"mlflow-artifacts:/1/models/m-ab/artifacts"}}}"#,
        ),
        (
            "GET http://t/api/2.0/mlflow/runs/get?run_id=r1",
            200,
            r#"{"run":{"info":{"run_id":"r1","run_uuid":"r1","run_name":"n","experiment_id":"1","status":"FINISHED","artifact_uri":"mlflow-artifacts:/1/r1/artifacts/","lifecycle_stage":"active"}}}"#,
        ),
    ]);
    let reg = client(&fake);
    let logged = block_on(reg.resolve(&uri("models:/m-ab"))).unwrap();
    assert_eq!(
        (logged.name.as_str(), logged.version.as_str()),
        ("clf", "m-ab")
    );
    let run = block_on(reg.resolve(&uri("runs:/r1/model"))).unwrap();
    assert_eq!(
        (
            run.name.as_str(),
            run.version.as_str(),
            run.artifact_uri.as_str()
        ),
        ("model", "r1", "mlflow-artifacts:/1/r1/artifacts/model")
    );
}

#[test]
fn errors_are_classified() {
    let fake = Fake::new(&[(
        ALIAS,
        400,
        r#"{"error_code":"INVALID_PARAMETER_VALUE","message":"Registered model alias champion not found."}"#,
    )]);
    let alias = uri("models:/iris@champion");
    assert!(matches!(
        block_on(client(&fake).resolve(&alias)),
        Err(RegistryError::NotFound(m)) if m.contains("champion not found")
    ));
    let down = Fake::new(&[]);
    assert!(matches!(
        block_on(client(&down).resolve(&alias)),
        Err(RegistryError::Unavailable(_))
    ));
    let failing = Fake::new(&[(ALIAS, 503, "overloaded")]);
    assert!(matches!(
        block_on(client(&failing).resolve(&alias)),
        Err(RegistryError::Unavailable(m)) if m.contains("overloaded")
    ));
    let garbled = Fake::new(&[(ALIAS, 200, "{not json")]);
    assert!(matches!(
        block_on(client(&garbled).resolve(&alias)),
        Err(RegistryError::Invalid(_))
    ));
    let no_version = Fake::new(&[(ALIAS, 200, r#"{"model_version":{"name":"iris"}}"#)]);
    assert!(matches!(
        block_on(client(&no_version).resolve(&alias)),
        Err(RegistryError::Invalid(m)) if m.contains("version is missing")
    ));
}

#[test]
fn several_onnx_files_are_an_error() {
    let fake = Fake::new(&[(
        "GET http://t/api/2.0/mlflow-artifacts/artifacts?path=1%2Fr",
        200,
        r#"{"files":[{"path":"1/r/a.onnx","is_dir":false},{"path":"1/r/b.onnx","is_dir":false}]}"#,
    )]);
    let err = block_on(client(&fake).download_onnx("mlflow-artifacts:/1/r", MAX_MODEL_BYTES));
    assert!(matches!(err, Err(RegistryError::Invalid(m)) if m.contains("several .onnx files")));
}

#[test]
fn foreign_or_climbing_artifact_locations_are_never_fetched() {
    let fake = Fake::new(&[]);
    let reg = client(&fake);
    for bad in [
        "mlflow-artifacts://elsewhere:5000/1/r/artifacts",
        "http://elsewhere/api/2.0/mlflow-artifacts/artifacts/1/r",
        "mlflow-artifacts:/1/../../secrets",
        "mlflow-artifacts:/1/%2E%2E/secrets/model.onnx",
        "s3://bucket/model",
    ] {
        assert!(
            matches!(
                block_on(reg.download_onnx(bad, MAX_MODEL_BYTES)),
                Err(RegistryError::Invalid(_))
            ),
            "{bad}"
        );
    }
    assert!(fake.calls.borrow().is_empty(), "{:?}", fake.calls.borrow());
}

#[test]
fn a_listed_name_that_climbs_is_refused() {
    let fake = Fake::new(&[(
        "GET http://t/api/2.0/mlflow-artifacts/artifacts?path=1%2Fr",
        200,
        r#"{"files":[{"path":"1/r/..%2F..%2Fx.onnx","is_dir":false}]}"#,
    )]);
    let err = block_on(client(&fake).download_onnx("mlflow-artifacts:/1/r", MAX_MODEL_BYTES));
    assert!(matches!(err, Err(RegistryError::Invalid(m)) if m.contains("refusing")));
    assert_eq!(fake.calls.borrow().len(), 1, "only the listing");
}
