//! Registry service and endpoint tests over an in-memory database with every migration.

use crate::http::route::Ctx;
use crate::http::router::dispatch;
use crate::http::{ApiRequest, ApiResponse, Method};
use crate::services::logged_models::{self, NewLoggedModel};
use crate::services::{aliases, model_versions as versions, registered_models as models};
use crate::services::{experiments, runs};
use crate::store::database_artifacts::DatabaseArtifacts;
use crate::store::testing;
use crate::store::testing::TestDb;
use mlflow_wire::registry::CreateModelVersion;
use mlflow_wire::tracking::{CreateRun, KeyValue};
use serde_json::{json, Value};

struct Fixture {
    db: TestDb,
    experiment_id: String,
    run_id: String,
    run_artifacts: String,
}

fn fixture() -> Fixture {
    let db = testing::db();
    let experiment_id = experiments::create_experiment(&db, Some("iris"), None, &[]).unwrap();
    let run = runs::create_run(
        &db,
        &CreateRun {
            experiment_id: Some(experiment_id.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    Fixture {
        db,
        experiment_id,
        run_id: run.info.run_id,
        run_artifacts: run.info.artifact_uri,
    }
}

fn call(db: &TestDb, method: Method, path: &str, body: Value) -> (u16, Value) {
    let body = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let response: ApiResponse = dispatch(
        &Ctx {
            db,
            artifacts: &DatabaseArtifacts(db),
        },
        &ApiRequest::new(method, path, body),
    );
    let value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    (response.status, value)
}

fn version_from(f: &Fixture, name: &str, source: &str) -> mlflow_wire::registry::ModelVersion {
    versions::create(
        &f.db,
        &CreateModelVersion {
            name: Some(name.into()),
            source: Some(source.into()),
            run_id: Some(f.run_id.clone()),
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn versions_count_up_and_start_ready_in_stage_none() {
    let f = fixture();
    models::create(
        &f.db,
        "iris",
        &[KeyValue::new("team", "ml")],
        Some("flowers"),
    )
    .unwrap();
    let source = format!("{}/model", f.run_artifacts);
    let v1 = version_from(&f, "iris", &source);
    let v2 = version_from(&f, "iris", &source);
    assert_eq!((v1.version.as_str(), v2.version.as_str()), ("1", "2"));
    assert_eq!(v1.status.as_deref(), Some("READY"));
    assert_eq!(v1.current_stage.as_deref(), Some("None"));
    assert_eq!(v1.run_id.as_deref(), Some(f.run_id.as_str()));
    let model = models::get(&f.db, "iris").unwrap();
    assert_eq!(model.description.as_deref(), Some("flowers"));
    assert_eq!(model.tags, vec![KeyValue::new("team", "ml")]);
    // Only the newest version of stage None is "latest".
    let latest: Vec<_> = model
        .latest_versions
        .iter()
        .map(|v| v.version.as_str())
        .collect();
    assert_eq!(latest, ["2"]);
    // A deleted version's number is not reused.
    versions::delete(&f.db, "iris", 2).unwrap();
    assert_eq!(version_from(&f, "iris", &source).version, "3");
    assert_eq!(versions::get(&f.db, "iris", 2).unwrap_err().status(), 404);
}

#[test]
fn duplicate_models_and_missing_models_fail_like_mlflow() {
    let f = fixture();
    models::create(&f.db, "iris", &[], None).unwrap();
    let err = models::create(&f.db, "iris", &[], None).unwrap_err();
    assert_eq!(
        (err.code.name(), err.status()),
        ("RESOURCE_ALREADY_EXISTS", 400)
    );
    let err = models::get(&f.db, "nope").unwrap_err();
    assert_eq!(err.status(), 404);
    assert!(err
        .message
        .contains("Registered Model with name=nope not found"));
    let err = versions::create(
        &f.db,
        &CreateModelVersion {
            name: Some("nope".into()),
            source: Some("s3://bucket/model".into()),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(err.status(), 404);
}

#[test]
fn stages_and_archiving() {
    let f = fixture();
    models::create(&f.db, "iris", &[], None).unwrap();
    let source = format!("{}/model", f.run_artifacts);
    for _ in 0..3 {
        version_from(&f, "iris", &source);
    }
    versions::transition_stage(&f.db, "iris", 1, "Production", false).unwrap();
    versions::transition_stage(&f.db, "iris", 2, "Production", false).unwrap();
    let v3 = versions::transition_stage(&f.db, "iris", 3, "Production", true).unwrap();
    assert_eq!(v3.current_stage.as_deref(), Some("Production"));
    for old in [1, 2] {
        let v = versions::get(&f.db, "iris", old).unwrap();
        assert_eq!(
            v.current_stage.as_deref(),
            Some("Archived"),
            "version {old}"
        );
    }
    let production = models::latest_versions(&f.db, "iris", &["production".into()]).unwrap();
    assert_eq!(production.len(), 1);
    assert_eq!(production[0].version, "3");
    let err = versions::transition_stage(&f.db, "iris", 1, "Archived", true).unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(models::latest_versions(&f.db, "iris", &["Prod".into()]).is_err());
}

#[test]
fn aliases_move_and_vanish_with_their_version() {
    let f = fixture();
    models::create(&f.db, "iris", &[], None).unwrap();
    let source = format!("{}/model", f.run_artifacts);
    version_from(&f, "iris", &source);
    version_from(&f, "iris", &source);
    aliases::set_alias(&f.db, "iris", "champion", 1).unwrap();
    aliases::set_alias(&f.db, "iris", "champion", 2).unwrap();
    let v = aliases::version_by_alias(&f.db, "iris", "champion").unwrap();
    assert_eq!(v.version, "2");
    assert_eq!(v.aliases, ["champion"]);
    assert!(versions::get(&f.db, "iris", 1).unwrap().aliases.is_empty());
    assert_eq!(
        aliases::version_by_alias(&f.db, "iris", "latest")
            .unwrap()
            .version,
        "2"
    );
    versions::delete(&f.db, "iris", 2).unwrap();
    let err = aliases::version_by_alias(&f.db, "iris", "champion").unwrap_err();
    assert_eq!(
        (err.code.name(), err.status()),
        ("INVALID_PARAMETER_VALUE", 400)
    );
    assert_eq!(
        aliases::set_alias(&f.db, "iris", "x", 9)
            .unwrap_err()
            .status(),
        404
    );
}

#[test]
fn rename_carries_versions_tags_and_aliases() {
    let f = fixture();
    models::create(&f.db, "iris", &[], None).unwrap();
    models::create(&f.db, "taken", &[], None).unwrap();
    version_from(&f, "iris", &format!("{}/model", f.run_artifacts));
    aliases::set_alias(&f.db, "iris", "champion", 1).unwrap();
    versions::set_tag(&f.db, "iris", 1, "validated", "yes").unwrap();
    assert_eq!(
        models::rename(&f.db, "iris", "taken").unwrap_err().status(),
        400
    );
    let renamed = models::rename(&f.db, "iris", "flowers").unwrap();
    assert_eq!(renamed.aliases[0].alias, "champion");
    let v = aliases::version_by_alias(&f.db, "flowers", "champion").unwrap();
    assert_eq!(v.name, "flowers");
    assert_eq!(v.tags, vec![KeyValue::new("validated", "yes")]);
    assert_eq!(models::get(&f.db, "iris").unwrap_err().status(), 404);
    models::delete(&f.db, "flowers").unwrap();
    let (page, _) = versions::search(&f.db, Some("name = 'flowers'"), None, &[], None).unwrap();
    assert!(page.is_empty());
}

#[test]
fn search_filters_orders_and_pages() {
    let f = fixture();
    for name in ["a-model", "b-model", "c-other"] {
        models::create(&f.db, name, &[KeyValue::new("kind", name)], None).unwrap();
    }
    let (page, token) =
        models::search(&f.db, Some("name LIKE '%model'"), Some(1), &[], None).unwrap();
    assert_eq!(page[0].name, "a-model");
    let (page, token) = models::search(
        &f.db,
        Some("name LIKE '%model'"),
        Some(1),
        &[],
        token.as_deref(),
    )
    .unwrap();
    assert_eq!(page[0].name, "b-model");
    assert!(token.is_none(), "the last page has no token");
    let (page, _) = models::search(&f.db, None, None, &["name DESC".into()], None).unwrap();
    assert_eq!(page[0].name, "c-other");
    let (page, _) = models::search(&f.db, Some("tags.kind = 'c-other'"), None, &[], None).unwrap();
    assert_eq!(page.len(), 1);
    // Prompts are left out unless asked for, as the 3.x client's default filter expects.
    models::create(
        &f.db,
        "a-prompt",
        &[KeyValue::new("mlflow.prompt.is_prompt", "true")],
        None,
    )
    .unwrap();
    let plain = "tags.`mlflow.prompt.is_prompt` != 'true'";
    let (page, _) = models::search(&f.db, Some(plain), None, &[], None).unwrap();
    assert_eq!(page.len(), 3);
    let (page, _) = models::search(
        &f.db,
        Some("tag.`mlflow.prompt.is_prompt` = 'true'"),
        None,
        &[],
        None,
    )
    .unwrap();
    assert_eq!(page[0].name, "a-prompt");
    assert!(models::search(&f.db, Some("name = 'x' OR name = 'y'"), None, &[], None).is_err());
    assert!(models::search(&f.db, None, Some(1001), &[], None).is_err());

    let source = format!("{}/model", f.run_artifacts);
    for _ in 0..3 {
        version_from(&f, "a-model", &source);
    }
    let (page, _) = versions::search(
        &f.db,
        Some("name = 'a-model' AND version_number >= 2"),
        None,
        &["version_number ASC".into()],
        None,
    )
    .unwrap();
    let found: Vec<_> = page.iter().map(|v| v.version.as_str()).collect();
    assert_eq!(found, ["2", "3"]);
    let (page, _) = versions::search(
        &f.db,
        Some(&format!("run_id = '{}'", f.run_id)),
        None,
        &[],
        None,
    )
    .unwrap();
    assert_eq!(page.len(), 3);
}

#[test]
fn logged_models_resolve_as_version_sources() {
    let f = fixture();
    let model = logged_models::create(
        &f.db,
        &NewLoggedModel {
            experiment_id: &f.experiment_id,
            name: Some("model"),
            model_type: None,
            source_run_id: Some(&f.run_id),
            params: &[KeyValue::new("epochs", "10")],
            tags: &[],
        },
    )
    .unwrap();
    let id = model.info.model_id.clone();
    assert!(id.starts_with("m-") && id.len() == 34);
    assert_eq!(model.info.status.as_deref(), Some("LOGGED_MODEL_PENDING"));
    assert_eq!(
        model.info.artifact_uri,
        format!(
            "mlflow-artifacts:/{}/models/{id}/artifacts",
            f.experiment_id
        )
    );
    logged_models::finalize(&f.db, &id, "LOGGED_MODEL_READY").unwrap();
    assert!(logged_models::finalize(&f.db, &id, "DONE").is_err());

    models::create(&f.db, "iris", &[], None).unwrap();
    let source = format!("models:/{id}");
    // A models:/<id> source needs the matching model_id.
    let without_id = CreateModelVersion {
        name: Some("iris".into()),
        source: Some(source.clone()),
        ..Default::default()
    };
    assert_eq!(
        versions::create(&f.db, &without_id).unwrap_err().status(),
        400
    );
    let v = versions::create(
        &f.db,
        &CreateModelVersion {
            model_id: Some(id.clone()),
            ..without_id
        },
    )
    .unwrap();
    assert_eq!(v.source.as_deref(), Some(source.as_str()));
    assert_eq!(
        v.run_id.as_deref(),
        Some(f.run_id.as_str()),
        "taken from the logged model"
    );
    assert_eq!(
        versions::download_uri(&f.db, "iris", 1).unwrap(),
        model.info.artifact_uri
    );
    let tagged = logged_models::get(&f.db, &id, false).unwrap();
    assert_eq!(tagged.info.registrations.len(), 1);

    let (found, _) = logged_models::search(
        &f.db,
        std::slice::from_ref(&f.experiment_id),
        Some("name = 'model'"),
        &[],
        None,
        None,
    )
    .unwrap();
    assert_eq!(found.len(), 1);
    let (found, _) = logged_models::search(
        &f.db,
        std::slice::from_ref(&f.experiment_id),
        Some("params.epochs = '11'"),
        &[],
        None,
        None,
    )
    .unwrap();
    assert!(found.is_empty());
    logged_models::delete(&f.db, &id).unwrap();
    assert_eq!(
        logged_models::get(&f.db, &id, false).unwrap_err().status(),
        404
    );
    assert!(logged_models::get(&f.db, &id, true).is_ok());
}

#[test]
fn sources_outside_the_named_run_or_model_are_refused() {
    let f = fixture();
    models::create(&f.db, "iris", &[], None).unwrap();
    let create = |source: &str, run_id: Option<&str>| {
        versions::create(
            &f.db,
            &CreateModelVersion {
                name: Some("iris".into()),
                source: Some(source.into()),
                run_id: run_id.map(str::to_string),
                ..Default::default()
            },
        )
    };
    assert!(create(&format!("{}/model", f.run_artifacts), Some(&f.run_id)).is_ok());
    assert!(create(&format!("runs:/{}/model", f.run_id), Some(&f.run_id)).is_ok());
    for (source, run) in [
        (
            "mlflow-artifacts:/9/other/artifacts/model",
            Some(f.run_id.as_str()),
        ),
        ("mlflow-artifacts:/1/x/artifacts", None),
        ("runs:/someone-else/model", Some(f.run_id.as_str())),
        ("/etc/passwd", Some(f.run_id.as_str())),
        ("mlflow-artifacts:/1/../../secrets", Some(f.run_id.as_str())),
    ] {
        let err = create(source, run).unwrap_err();
        assert_eq!(err.status(), 400, "{source}");
    }
}

#[test]
fn endpoints_answer_mlflow_codes_and_statuses() {
    let f = fixture();
    let api = "/api/2.0/mlflow";
    let (status, body) = call(
        &f.db,
        Method::Post,
        &format!("{api}/registered-models/create"),
        json!({"name": "iris"}),
    );
    assert_eq!(
        (status, body["registered_model"]["name"].as_str()),
        (200, Some("iris"))
    );
    let (status, body) = call(
        &f.db,
        Method::Post,
        &format!("{api}/registered-models/create"),
        json!({"name": "iris"}),
    );
    assert_eq!(
        (status, body["error_code"].as_str()),
        (400, Some("RESOURCE_ALREADY_EXISTS"))
    );
    let (status, body) = call(
        &f.db,
        Method::Post,
        &format!("{api}/registered-models/create"),
        json!({}),
    );
    assert_eq!(
        (status, body["error_code"].as_str()),
        (400, Some("INVALID_PARAMETER_VALUE"))
    );

    let source = format!("{}/model", f.run_artifacts);
    let (status, body) = call(
        &f.db,
        Method::Post,
        &format!("{api}/model-versions/create"),
        json!({"name": "iris", "source": source, "run_id": f.run_id}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model_version"]["status"], "READY");
    let (status, _) = call(
        &f.db,
        Method::Post,
        &format!("{api}/registered-models/alias"),
        json!({"name": "iris", "alias": "champion", "version": "1"}),
    );
    assert_eq!(status, 200);
    let (status, body) = call(
        &f.db,
        Method::Get,
        &format!("{api}/registered-models/alias?name=iris&alias=champion"),
        Value::Null,
    );
    assert_eq!(
        (status, body["model_version"]["aliases"][0].as_str()),
        (200, Some("champion"))
    );
    let (status, body) = call(
        &f.db,
        Method::Get,
        &format!("{api}/registered-models/alias?name=iris&alias=nope"),
        Value::Null,
    );
    assert_eq!(
        (status, body["error_code"].as_str()),
        (400, Some("INVALID_PARAMETER_VALUE"))
    );
    let (status, body) = call(
        &f.db,
        Method::Post,
        &format!("{api}/registered-models/alias"),
        json!({"name": "iris", "alias": "latest", "version": "1"}),
    );
    assert_eq!(
        (status, body["error_code"].as_str()),
        (400, Some("INVALID_PARAMETER_VALUE"))
    );
    let (status, body) = call(
        &f.db,
        Method::Get,
        &format!("{api}/model-versions/get-download-uri?name=iris&version=1"),
        Value::Null,
    );
    assert_eq!(
        (status, body["artifact_uri"].as_str()),
        (200, Some(source.as_str()))
    );
    let (status, body) = call(
        &f.db,
        Method::Get,
        &format!("{api}/model-versions/get?name=iris&version=x"),
        Value::Null,
    );
    assert_eq!(
        (status, body["error_code"].as_str()),
        (400, Some("INVALID_PARAMETER_VALUE"))
    );
    let (status, _) = call(
        &f.db,
        Method::Delete,
        &format!("{api}/registered-models/alias"),
        json!({"name": "iris", "alias": "champion"}),
    );
    assert_eq!(status, 200);
    let (status, body) = call(
        &f.db,
        Method::Post,
        &format!("{api}/model-versions/transition-stage"),
        json!({"name": "iris", "version": "1", "stage": "staging", "archive_existing_versions": false}),
    );
    assert_eq!(
        (status, body["model_version"]["current_stage"].as_str()),
        (200, Some("Staging"))
    );
    let (status, body) = call(
        &f.db,
        Method::Post,
        &format!("{api}/registered-models/get-latest-versions"),
        json!({"name": "iris", "stages": ["Staging"]}),
    );
    assert_eq!(
        (status, body["model_versions"][0]["version"].as_str()),
        (200, Some("1"))
    );
    let (status, _) = call(
        &f.db,
        Method::Delete,
        &format!("{api}/registered-models/delete"),
        json!({"name": "iris"}),
    );
    assert_eq!(status, 200);
    let (status, _) = call(
        &f.db,
        Method::Get,
        &format!("{api}/registered-models/get?name=iris"),
        Value::Null,
    );
    assert_eq!(status, 404);
}

#[test]
fn logged_model_endpoints() {
    let f = fixture();
    let api = "/api/2.0/mlflow/logged-models";
    let (status, body) = call(
        &f.db,
        Method::Post,
        api,
        json!({"experiment_id": f.experiment_id, "name": "model", "source_run_id": f.run_id,
               "params": [{"key": "lr", "value": "0.5"}], "tags": [{"key": "t", "value": "1"}]}),
    );
    assert_eq!(status, 200, "{body}");
    let id = body["model"]["info"]["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = call(
        &f.db,
        Method::Patch,
        &format!("{api}/{id}"),
        json!({"model_id": id, "status": "LOGGED_MODEL_READY"}),
    );
    assert_eq!(
        (status, body["model"]["info"]["status"].as_str()),
        (200, Some("LOGGED_MODEL_READY"))
    );
    // A point logged with the model's id belongs to the model, even when the same point
    // was logged to the run before (MLflow 3 clients re-log the run's metrics that way).
    for model_id in [Value::Null, json!(id)] {
        let point =
            json!({"key": "acc", "value": 0.9, "timestamp": 5, "step": 0, "model_id": model_id});
        let batch = json!({"run_id": f.run_id, "metrics": [point]});
        let (status, body) = call(&f.db, Method::Post, "/api/2.0/mlflow/runs/log-batch", batch);
        assert_eq!(status, 200, "{body}");
    }
    let (status, _) = call(
        &f.db,
        Method::Patch,
        &format!("{api}/{id}/tags"),
        json!({"tags": [{"key": "k", "value": "v"}]}),
    );
    assert_eq!(status, 200);
    let (status, body) = call(&f.db, Method::Get, &format!("{api}/{id}"), Value::Null);
    assert_eq!(status, 200);
    assert_eq!(body["model"]["data"]["params"][0]["value"], "0.5");
    assert_eq!(body["model"]["data"]["metrics"][0]["key"], "acc");
    assert_eq!(
        body["model"]["data"]["metrics"].as_array().unwrap().len(),
        1
    );
    assert_eq!(body["model"]["info"]["tags"].as_array().unwrap().len(), 2);
    let (status, _) = call(
        &f.db,
        Method::Delete,
        &format!("{api}/{id}/tags/missing"),
        Value::Null,
    );
    assert_eq!(status, 404);
    let (status, body) = call(
        &f.db,
        Method::Post,
        &format!("{api}/search"),
        json!({"experiment_ids": [f.experiment_id], "filter": "name = 'model'"}),
    );
    assert_eq!(
        (status, body["models"].as_array().map(Vec::len)),
        (200, Some(1))
    );
    let (status, body) = call(&f.db, Method::Post, api, json!({"experiment_id": "999"}));
    assert_eq!(
        (status, body["error_code"].as_str()),
        (404, Some("RESOURCE_DOES_NOT_EXIST"))
    );
    let (status, _) = call(&f.db, Method::Get, &format!("{api}/m-unknown"), Value::Null);
    assert_eq!(status, 404);
}
