//! `/graphql` through the router over an in-memory database: the four queries the
//! MLflow UI sends, checked field by field against the REST answers for the same
//! data, and GraphQL's own behaviour (variables, aliases, fragments, errors, bounds).

use crate::http::route::Ctx;
use crate::http::router::dispatch;
use crate::http::{ApiRequest, Method};
use crate::store::database_artifacts::DatabaseArtifacts;
use crate::store::db::DbExt;
use crate::store::testing;
use crate::store::testing::TestDb;
use serde_json::{json, Value};

/// The queries as the MLflow web UI sends them, read from its built JavaScript (the
/// mlflow-ui site that `make build` prepares under target/): the UI is the client whose
/// queries must work, and its text is MLflow's, so it is not kept in this repository.
fn ui_query(name: &str) -> &'static str {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static FOUND: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let mut found = FOUND.get_or_init(Default::default).lock().unwrap();
    found
        .entry(name.to_string())
        .or_insert_with(|| Box::leak(find_ui_query(name).into_boxed_str()))
}

fn find_ui_query(name: &str) -> String {
    let js = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/mlflow-ui/site/static/js");
    let entries = std::fs::read_dir(&js)
        .unwrap_or_else(|e| panic!("{}: {e}; build the web UI first (make build)", js.display()));
    let start = format!("query {name}(");
    for entry in entries {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        if let Some(at) = text.find(&start) {
            return balanced_braces(&text[at..]).to_string();
        }
    }
    panic!("no `{start}` in the UI's JavaScript under {}", js.display())
}

/// The text up to the `}` that closes its first `{`.
fn balanced_braces(text: &str) -> &str {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 1 => return &text[..=i],
            '}' => depth -= 1,
            _ => {}
        }
    }
    panic!("unbalanced query: {}", &text[..text.len().min(200)])
}

/// The query as Apollo sends it: `__typename` added to every nested selection set.
fn apollo(query: &str) -> String {
    match query.split_once('{') {
        Some((head, rest)) => format!("{head}{{{}", rest.replace('{', "{ __typename")),
        None => query.to_string(),
    }
}

fn call(db: &TestDb, method: Method, path: &str, body: &str) -> (u16, Value) {
    let response = dispatch(
        &Ctx {
            db,
            artifacts: &DatabaseArtifacts(db),
        },
        &ApiRequest::new(method, path, body),
    );
    let value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    (response.status, value)
}

fn rest(db: &TestDb, method: Method, path: &str, body: Value) -> Value {
    let body = if method == Method::Get {
        String::new()
    } else {
        body.to_string()
    };
    let (status, answer) = call(db, method, &format!("/api/2.0/mlflow/{path}"), &body);
    assert_eq!(status, 200, "{path}: {answer}");
    answer
}

/// POSTs a GraphQL request; it must answer 200.
fn gql(db: &TestDb, query: &str, variables: Value) -> Value {
    let body = json!({"query": query, "variables": variables});
    let (status, answer) = call(db, Method::Post, "/graphql", &body.to_string());
    assert_eq!(status, 200, "{answer}");
    answer
}

/// The answer's data, which must come without errors.
fn data(answer: Value) -> Value {
    assert_eq!(answer["errors"], Value::Null, "{answer}");
    answer["data"].clone()
}

/// The one error message of an answer.
fn error(answer: &Value) -> String {
    let errors = answer["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{answer}");
    errors[0]
        .as_str()
        .expect("a plain string, as MLflow sends")
        .to_string()
}

struct Fixture {
    db: TestDb,
    experiment_id: String,
    /// Finished, with metrics (one NaN), params, tags, inputs, outputs and a version.
    run_id: String,
    /// Running, nothing logged.
    other_run_id: String,
}

fn fixture() -> Fixture {
    let db = testing::db();
    let created = rest(
        &db,
        Method::Post,
        "experiments/create",
        json!({"name": "iris", "tags": [{"key": "team", "value": "ml"}]}),
    );
    let experiment_id = created["experiment_id"].as_str().unwrap().to_string();
    let new_run = |name: &str| {
        let answer = rest(
            &db,
            Method::Post,
            "runs/create",
            json!({"experiment_id": experiment_id, "run_name": name, "start_time": 1000,
                   "user_id": "alice", "tags": [{"key": "k", "value": "v"}]}),
        );
        answer["run"]["info"]["run_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let run_id = new_run("first");
    let other_run_id = new_run("second");
    rest(
        &db,
        Method::Post,
        "runs/log-batch",
        json!({"run_id": run_id,
               "metrics": [
                   {"key": "acc", "value": 0.5, "timestamp": 10, "step": 0},
                   {"key": "acc", "value": 0.75, "timestamp": 20, "step": 1},
                   {"key": "loss", "value": 1.5, "timestamp": 10, "step": 0},
                   {"key": "loss", "value": "NaN", "timestamp": 30, "step": 2}],
               "params": [{"key": "lr", "value": "0.1"}]}),
    );
    rest(
        &db,
        Method::Post,
        "runs/log-inputs",
        json!({"run_id": run_id,
               "datasets": [{"tags": [{"key": "mlflow.data.context", "value": "training"}],
                             "dataset": {"name": "train", "digest": "d1", "source_type": "local",
                                         "source": "{\"uri\": \"/data\"}", "schema": "{}"}}],
               "models": [{"model_id": "m-in"}]}),
    );
    rest(
        &db,
        Method::Post,
        "runs/outputs",
        json!({"run_id": run_id, "models": [{"model_id": "m-out", "step": 3}]}),
    );
    rest(
        &db,
        Method::Post,
        "runs/update",
        json!({"run_id": run_id, "status": "FINISHED", "end_time": 5000}),
    );
    rest(
        &db,
        Method::Post,
        "registered-models/create",
        json!({"name": "iris-model"}),
    );
    let run = rest(
        &db,
        Method::Get,
        &format!("runs/get?run_id={run_id}"),
        json!({}),
    );
    let source = format!(
        "{}/model",
        run["run"]["info"]["artifact_uri"].as_str().unwrap()
    );
    rest(
        &db,
        Method::Post,
        "model-versions/create",
        json!({"name": "iris-model", "source": source, "run_id": run_id}),
    );
    Fixture {
        db,
        experiment_id,
        run_id,
        other_run_id,
    }
}

/// `field` of a REST message as GraphQL answers it: a 64-bit number as a string, an
/// unset field as its default.
fn long(rest: &Value) -> Value {
    Value::String(rest.as_i64().unwrap_or(0).to_string())
}

fn string(rest: &Value) -> Value {
    Value::String(rest.as_str().unwrap_or("").to_string())
}

fn key_values(rest: &Value) -> Value {
    let items = rest.as_array().cloned().unwrap_or_default();
    Value::Array(
        items
            .iter()
            .map(|kv| json!({"key": string(&kv["key"]), "value": string(&kv["value"])}))
            .collect(),
    )
}

/// `v` without the `__typename` fields Apollo adds.
fn plain(v: &Value) -> Value {
    match v {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .filter(|(k, _)| *k != "__typename")
                .map(|(k, v)| (k.clone(), plain(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(plain).collect()),
        other => other.clone(),
    }
}

/// Checks a run as the UI's GetRun and SearchRuns select it against runs/get.
fn assert_run_matches_rest(f: &Fixture, run: &Value, rest_run: &Value) {
    let run = &plain(run);
    let (info, want) = (&run["info"], &rest_run["info"]);
    for (gql_name, rest_name) in [
        ("runName", "run_name"),
        ("status", "status"),
        ("runUuid", "run_uuid"),
        ("experimentId", "experiment_id"),
        ("artifactUri", "artifact_uri"),
        ("lifecycleStage", "lifecycle_stage"),
        ("userId", "user_id"),
    ] {
        assert_eq!(info[gql_name], want[rest_name], "{gql_name}");
    }
    assert_eq!(info["startTime"], long(&want["start_time"]));
    assert_eq!(info["endTime"], long(&want["end_time"]));

    let data = &run["data"];
    let rest_metrics = want_array(&rest_run["data"]["metrics"]);
    assert_eq!(
        data["metrics"].as_array().unwrap().len(),
        rest_metrics.len()
    );
    for (m, r) in data["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&rest_metrics)
    {
        assert_eq!(m["key"], r["key"]);
        assert_eq!(m["step"], long(&r["step"]));
        assert_eq!(m["timestamp"], long(&r["timestamp"]));
        // REST sends NaN as the string "NaN"; GraphQL's Float cannot: null.
        match r["value"].as_f64() {
            Some(v) => assert_eq!(m["value"].as_f64(), Some(v)),
            None => assert_eq!(m["value"], Value::Null, "{m}"),
        }
    }
    assert_eq!(data["params"], key_values(&rest_run["data"]["params"]));
    assert_eq!(data["tags"], key_values(&rest_run["data"]["tags"]));

    let inputs = &run["inputs"];
    let rest_inputs = want_array(&rest_run["inputs"]["dataset_inputs"]);
    let gql_inputs = inputs["datasetInputs"].as_array().unwrap();
    assert_eq!(gql_inputs.len(), rest_inputs.len());
    for (i, r) in gql_inputs.iter().zip(&rest_inputs) {
        for (gql_name, rest_name) in [
            ("digest", "digest"),
            ("name", "name"),
            ("profile", "profile"),
            ("schema", "schema"),
            ("source", "source"),
            ("sourceType", "source_type"),
        ] {
            assert_eq!(i["dataset"][gql_name], string(&r["dataset"][rest_name]));
        }
        assert_eq!(i["tags"], key_values(&r["tags"]));
    }
    let model_ids = |v: &Value, field: &str| -> Vec<Value> {
        want_array(v).iter().map(|m| string(&m[field])).collect()
    };
    assert_eq!(
        model_ids(&inputs["modelInputs"], "modelId"),
        model_ids(&rest_run["inputs"]["model_inputs"], "model_id")
    );
    let outputs = want_array(&rest_run["outputs"]["model_outputs"]);
    let expected: Vec<Value> = outputs
        .iter()
        .map(|o| json!({"modelId": string(&o["model_id"]), "step": long(&o["step"])}))
        .collect();
    assert_eq!(run["outputs"]["modelOutputs"], Value::Array(expected));

    // The experiment, as experiments/get answers it.
    let experiment = rest(
        &f.db,
        Method::Get,
        &format!(
            "experiments/get?experiment_id={}",
            want["experiment_id"].as_str().unwrap()
        ),
        json!({}),
    );
    let e = &experiment["experiment"];
    assert_eq!(run["experiment"]["experimentId"], e["experiment_id"]);
    assert_eq!(run["experiment"]["name"], e["name"]);
    assert_eq!(
        run["experiment"]["artifactLocation"],
        e["artifact_location"]
    );
    assert_eq!(run["experiment"]["lifecycleStage"], e["lifecycle_stage"]);
    assert_eq!(
        run["experiment"]["lastUpdateTime"],
        long(&e["last_update_time"])
    );
    assert_eq!(run["experiment"]["tags"], key_values(&e["tags"]));

    // The versions, as model-versions/search by run_id answers them.
    let versions = rest(
        &f.db,
        Method::Get,
        &format!(
            "model-versions/search?filter=run_id%3D%27{}%27",
            want["run_id"].as_str().unwrap()
        ),
        json!({}),
    );
    let rest_versions = want_array(&versions["model_versions"]);
    let gql_versions = run["modelVersions"].as_array().unwrap();
    assert_eq!(gql_versions.len(), rest_versions.len());
    for (v, r) in gql_versions.iter().zip(&rest_versions) {
        assert_eq!(v["name"], r["name"]);
        assert_eq!(v["version"], r["version"]);
        assert_eq!(v["source"], r["source"]);
        assert_eq!(v["status"], r["status"]);
        if let Some(created) = v.get("creationTimestamp") {
            assert_eq!(*created, long(&r["creation_timestamp"]));
        }
    }
}

fn want_array(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

fn rest_run(f: &Fixture, run_id: &str) -> Value {
    rest(
        &f.db,
        Method::Get,
        &format!("runs/get?run_id={run_id}"),
        json!({}),
    )["run"]
        .clone()
}

#[test]
fn get_run_as_the_ui_sends_it() {
    let f = fixture();
    for query in [ui_query("GetRun").to_string(), apollo(ui_query("GetRun"))] {
        let answer = data(gql(&f.db, &query, json!({"data": {"runId": f.run_id}})));
        let response = &answer["mlflowGetRun"];
        assert_eq!(response["apiError"], Value::Null);
        let run = &response["run"];
        assert_run_matches_rest(&f, run, &rest_run(&f, &f.run_id));
        // Spot checks of what the comparison covers.
        assert_eq!(run["info"]["status"], "FINISHED");
        assert_eq!(run["info"]["endTime"], "5000");
        assert_eq!(run["info"]["startTime"], "1000");
        assert_eq!(run["experiment"]["name"], "iris");
        assert_eq!(
            plain(&run["experiment"]["tags"]),
            json!([{"key": "team", "value": "ml"}])
        );
        let version = &run["modelVersions"][0];
        assert_eq!(run["modelVersions"].as_array().unwrap().len(), 1);
        assert_eq!(
            (&version["status"], &version["version"], &version["name"]),
            (&json!("READY"), &json!("1"), &json!("iris-model"))
        );
        let artifacts = run["info"]["artifactUri"].as_str().unwrap();
        assert_eq!(version["source"], format!("{artifacts}/model"));
        let metrics = run["data"]["metrics"].as_array().unwrap();
        let loss = metrics.iter().find(|m| m["key"] == "loss").unwrap();
        assert_eq!(loss["value"], Value::Null, "NaN is null");
        assert_eq!(loss["step"], "2");
        let acc = metrics.iter().find(|m| m["key"] == "acc").unwrap();
        assert_eq!(acc["value"], 0.75);
        assert_eq!(
            run["inputs"]["datasetInputs"][0]["dataset"]["profile"], "",
            "unset is the default, as MLflow answers"
        );
        assert_eq!(run["outputs"]["modelOutputs"][0]["step"], "3");
        if query.contains("__typename") {
            assert_eq!(response["__typename"], "MlflowGetRunResponse");
            assert_eq!(run["__typename"], "MlflowRunExtension");
            assert_eq!(run["info"]["__typename"], "MlflowRunInfo");
            assert_eq!(
                run["data"]["metrics"][0]["__typename"],
                "MlflowMetricExtension"
            );
            assert_eq!(run["data"]["params"][0]["__typename"], "MlflowParam");
            assert_eq!(run["data"]["tags"][0]["__typename"], "MlflowRunTag");
            assert_eq!(run["experiment"]["__typename"], "MlflowExperiment");
            assert_eq!(
                run["experiment"]["tags"][0]["__typename"],
                "MlflowExperimentTag"
            );
            assert_eq!(run["inputs"]["__typename"], "MlflowRunInputs");
            let input = &run["inputs"]["datasetInputs"][0];
            assert_eq!(input["__typename"], "MlflowDatasetInput");
            assert_eq!(input["dataset"]["__typename"], "MlflowDataset");
            assert_eq!(input["tags"][0]["__typename"], "MlflowInputTag");
            assert_eq!(
                run["inputs"]["modelInputs"][0]["__typename"],
                "MlflowModelInput"
            );
            assert_eq!(run["outputs"]["__typename"], "MlflowRunOutputs");
            assert_eq!(
                run["outputs"]["modelOutputs"][0]["__typename"],
                "MlflowModelOutput"
            );
        }
    }
    // A running run: endTime unset is "0", as MLflow's GraphQL answers.
    let answer = data(gql(
        &f.db,
        ui_query("GetRun"),
        json!({"data": {"runUuid": f.other_run_id}}),
    ));
    let run = &answer["mlflowGetRun"]["run"];
    assert_run_matches_rest(&f, run, &rest_run(&f, &f.other_run_id));
    assert_eq!(run["info"]["status"], "RUNNING");
    assert_eq!(run["info"]["endTime"], "0");
    assert_eq!(run["modelVersions"], json!([]));
    assert_eq!(run["data"]["metrics"], json!([]));
}

#[test]
fn a_missing_run_is_null_with_the_message_in_errors() {
    let f = fixture();
    let answer = gql(
        &f.db,
        ui_query("GetRun"),
        json!({"data": {"runId": "nope"}}),
    );
    assert_eq!(answer["data"], json!({"mlflowGetRun": null}));
    assert_eq!(error(&answer), "Run with id=nope not found");
    let answer = gql(&f.db, ui_query("GetRun"), json!({"data": {}}));
    assert_eq!(
        error(&answer),
        "Missing value for required parameter 'run_id'."
    );
}

#[test]
fn get_experiment_as_the_ui_sends_it() {
    let f = fixture();
    let rest_e = rest(
        &f.db,
        Method::Get,
        &format!("experiments/get?experiment_id={}", f.experiment_id),
        json!({}),
    )["experiment"]
        .clone();
    for query in [
        ui_query("MlflowGetExperimentQuery").to_string(),
        apollo(ui_query("MlflowGetExperimentQuery")),
    ] {
        let answer = data(gql(
            &f.db,
            &query,
            json!({"input": {"experimentId": f.experiment_id}}),
        ));
        let response = &answer["mlflowGetExperiment"];
        assert_eq!(response["apiError"], Value::Null);
        let e = &response["experiment"];
        assert_eq!(e["experimentId"], rest_e["experiment_id"]);
        assert_eq!(e["name"], "iris");
        assert_eq!(e["artifactLocation"], rest_e["artifact_location"]);
        assert_eq!(e["lifecycleStage"], "active");
        assert_eq!(e["creationTime"], long(&rest_e["creation_time"]));
        assert_eq!(e["lastUpdateTime"], long(&rest_e["last_update_time"]));
        assert_eq!(e["effectiveTraceArchivalRetention"], "");
        assert_eq!(e["tags"][0]["key"], "team");
        assert_eq!(e["tags"][0]["value"], "ml");
    }
    let answer = gql(
        &f.db,
        ui_query("MlflowGetExperimentQuery"),
        json!({"input": {"experimentId": "99"}}),
    );
    assert_eq!(answer["data"], json!({"mlflowGetExperiment": null}));
    assert_eq!(error(&answer), "No Experiment with id=99 exists");
}

#[test]
fn search_runs_as_the_ui_sends_it() {
    let f = fixture();
    let rest_search = rest(
        &f.db,
        Method::Post,
        "runs/search",
        json!({"experiment_ids": [f.experiment_id]}),
    );
    for query in [
        ui_query("SearchRuns").to_string(),
        apollo(ui_query("SearchRuns")),
    ] {
        let answer = data(gql(
            &f.db,
            &query,
            json!({"data": {"experimentIds": [f.experiment_id], "filter": null}}),
        ));
        let runs = answer["mlflowSearchRuns"]["runs"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(answer["mlflowSearchRuns"]["apiError"], Value::Null);
        let rest_runs = want_array(&rest_search["runs"]);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs.len(), rest_runs.len());
        for (run, rest_run) in runs.iter().zip(&rest_runs) {
            assert_run_matches_rest(&f, run, rest_run);
        }
        let first = runs
            .iter()
            .find(|r| r["info"]["runUuid"] == f.run_id)
            .unwrap();
        assert_eq!(first["modelVersions"][0]["version"], "1");
        assert!(
            first["modelVersions"][0]["creationTimestamp"]
                .as_str()
                .unwrap()
                .parse::<i64>()
                .unwrap()
                > 0
        );
    }
    // The filter narrows as REST's does.
    let answer = data(gql(
        &f.db,
        ui_query("SearchRuns"),
        json!({"data": {"experimentIds": [f.experiment_id], "filter": "params.lr = '0.1'"}}),
    ));
    let runs = answer["mlflowSearchRuns"]["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["info"]["runUuid"], f.run_id.as_str());
    // A bad filter is the search's own error.
    let answer = gql(
        &f.db,
        ui_query("SearchRuns"),
        json!({"data": {"experimentIds": [f.experiment_id], "filter": "params.lr =="}}),
    );
    assert_eq!(answer["data"], json!({"mlflowSearchRuns": null}));
    assert!(error(&answer).starts_with("Invalid"), "{answer}");
}

#[test]
fn search_runs_pages_and_view_types() {
    let f = fixture();
    rest(
        &f.db,
        Method::Post,
        "runs/delete",
        json!({"run_id": f.other_run_id}),
    );
    let q = "query($d: MlflowSearchRunsInput) { mlflowSearchRuns(input: $d) { runs { info { runId lifecycleStage } } nextPageToken } }";
    let page = |input: Value| data(gql(&f.db, q, json!({"d": input})))["mlflowSearchRuns"].clone();
    let active = page(json!({"experimentIds": [f.experiment_id]}));
    assert_eq!(active["runs"].as_array().unwrap().len(), 1);
    assert_eq!(
        active["nextPageToken"], "",
        "no next page is the default, \"\""
    );
    let all = page(
        json!({"experimentIds": [f.experiment_id], "runViewType": "ALL", "maxResults": 1, "orderBy": ["attributes.run_name DESC"]}),
    );
    assert_eq!(all["runs"][0]["info"]["runId"], f.other_run_id.as_str());
    let token = all["nextPageToken"].as_str().unwrap().to_string();
    assert!(!token.is_empty());
    let next = page(
        json!({"experimentIds": [f.experiment_id], "runViewType": "ALL", "maxResults": 1, "orderBy": ["attributes.run_name DESC"], "pageToken": token}),
    );
    assert_eq!(next["runs"][0]["info"]["runId"], f.run_id.as_str());
    let deleted = page(json!({"experimentIds": [f.experiment_id], "runViewType": "DELETED_ONLY"}));
    assert_eq!(deleted["runs"][0]["info"]["lifecycleStage"], "deleted");
    // The same search as a mutation, as MLflow declares it too.
    let answer = data(gql(
        &f.db,
        "mutation($d: MlflowSearchRunsInput) { mlflowSearchRuns(input: $d) { runs { info { runId } } } }",
        json!({"d": {"experimentIds": [f.experiment_id]}}),
    ));
    assert_eq!(
        answer["mlflowSearchRuns"]["runs"][0]["info"]["runId"],
        f.run_id.as_str()
    );
}

#[test]
fn bulk_interval_as_the_ui_sends_it() {
    let f = fixture();
    let rest_answer = rest(
        &f.db,
        Method::Get,
        &format!(
            "metrics/get-history-bulk-interval?run_ids={}&run_ids={}&metric_key=loss&max_results=320",
            f.run_id, f.other_run_id
        ),
        json!({}),
    );
    for query in [
        ui_query("GetMetricHistoryBulkInterval").to_string(),
        apollo(ui_query("GetMetricHistoryBulkInterval")),
    ] {
        let answer = data(gql(
            &f.db,
            &query,
            json!({"data": {"runIds": [f.run_id, f.other_run_id], "metricKey": "loss",
                            "startStep": null, "endStep": null, "maxResults": 320}}),
        ));
        let response = &answer["mlflowGetMetricHistoryBulkInterval"];
        assert_eq!(
            response["__typename"],
            "MlflowGetMetricHistoryBulkIntervalResponse"
        );
        assert_eq!(response["apiError"], Value::Null);
        let points = response["metrics"].as_array().unwrap();
        let rest_points = want_array(&rest_answer["metrics"]);
        assert_eq!(points.len(), 2);
        assert_eq!(points.len(), rest_points.len());
        for (p, r) in points.iter().zip(&rest_points) {
            assert_eq!(p["key"], r["key"]);
            assert_eq!(p["runId"], r["run_id"]);
            assert_eq!(p["step"], long(&r["step"]));
            assert_eq!(p["timestamp"], long(&r["timestamp"]));
        }
        assert_eq!(points[0]["value"], 1.5);
        assert_eq!(points[1]["value"], Value::Null, "NaN is null");
        assert_eq!(points[1]["step"], "2");
        assert_eq!(points[1]["timestamp"], "30");
        assert_eq!(points[1]["runId"], f.run_id.as_str());
    }
    // A step range and a sample size.
    let answer = data(gql(
        &f.db,
        ui_query("GetMetricHistoryBulkInterval"),
        json!({"data": {"runIds": [f.run_id], "metricKey": "acc", "startStep": 1, "endStep": 5, "maxResults": 10}}),
    ));
    let points = answer["mlflowGetMetricHistoryBulkInterval"]["metrics"]
        .as_array()
        .unwrap();
    assert_eq!(points.len(), 1);
    assert_eq!(points[0]["value"], 0.75);
    let answer = gql(
        &f.db,
        ui_query("GetMetricHistoryBulkInterval"),
        json!({"data": {"runIds": ["nope"], "metricKey": "acc"}}),
    );
    assert_eq!(error(&answer), "Run with id=nope not found");
    // GraphQL's Int is 32 bits, as in MLflow's schema.
    let answer = gql(
        &f.db,
        ui_query("GetMetricHistoryBulkInterval"),
        json!({"data": {"runIds": [f.run_id], "metricKey": "acc", "endStep": 4_000_000_000i64}}),
    );
    assert_eq!(answer["data"], Value::Null);
    assert!(error(&answer).contains("Int"), "{answer}");
}

#[test]
fn search_model_versions_matches_rest() {
    let f = fixture();
    let q = r#"{ mlflowSearchModelVersions(input: {filter: "name='iris-model'", maxResults: "5"}) {
        modelVersions { name version creationTimestamp lastUpdatedTimestamp userId currentStage
                        description source runId status statusMessage tags { key value } runLink aliases modelId }
        nextPageToken apiError { code } } }"#;
    let answer = data(gql(&f.db, q, json!({})));
    let response = &answer["mlflowSearchModelVersions"];
    let rest_answer = rest(
        &f.db,
        Method::Get,
        "model-versions/search?filter=name%3D%27iris-model%27&max_results=5",
        json!({}),
    );
    let r = &rest_answer["model_versions"][0];
    let v = &response["modelVersions"][0];
    assert_eq!(v["name"], r["name"]);
    assert_eq!(v["version"], r["version"]);
    assert_eq!(v["creationTimestamp"], long(&r["creation_timestamp"]));
    assert_eq!(
        v["lastUpdatedTimestamp"],
        long(&r["last_updated_timestamp"])
    );
    assert_eq!(v["currentStage"], r["current_stage"]);
    assert_eq!(v["source"], r["source"]);
    assert_eq!(v["runId"], f.run_id.as_str());
    assert_eq!(v["status"], "READY");
    assert_eq!(v["description"], string(&r["description"]));
    assert_eq!(v["tags"], json!([]));
    assert_eq!(v["aliases"], json!([]));
    assert_eq!(response["nextPageToken"], "");
    assert_eq!(response["apiError"], Value::Null);
    // maxResults is a LongString: a number works too; a word does not.
    let n = data(gql(
        &f.db,
        "{ mlflowSearchModelVersions(input: {maxResults: 1}) { modelVersions { version } } }",
        json!({}),
    ));
    assert_eq!(
        n["mlflowSearchModelVersions"]["modelVersions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let bad = gql(
        &f.db,
        "{ mlflowSearchModelVersions(input: {maxResults: \"many\"}) { nextPageToken } }",
        json!({}),
    );
    assert_eq!(bad["data"], Value::Null);
}

#[test]
fn variables_aliases_and_fragments_behave_as_graphql() {
    let f = fixture();
    let q = r#"
        query Two($a: MlflowGetRunInput!, $b: MlflowGetRunInput!, $e: String) {
          first: mlflowGetRun(input: $a) { run { ...Ids data { m: metrics { k: key } } } }
          second: mlflowGetRun(input: $b) { run { ... on MlflowRunExtension { info { name: runName } } } }
          exp: mlflowGetExperiment(input: {experimentId: $e}) { experiment { name } }
          echo: test(inputString: "hi") { output }
          __typename
        }
        fragment Ids on MlflowRunExtension { info { runId } experiment { experimentId } }"#;
    let answer = data(gql(
        &f.db,
        q,
        json!({"a": {"runId": f.run_id}, "b": {"runId": f.other_run_id}, "e": f.experiment_id}),
    ));
    assert_eq!(
        answer,
        json!({
            "first": {"run": {"info": {"runId": f.run_id},
                              "experiment": {"experimentId": f.experiment_id},
                              "data": {"m": [{"k": "acc"}, {"k": "loss"}]}}},
            "second": {"run": {"info": {"name": "second"}}},
            "exp": {"experiment": {"name": "iris"}},
            "echo": {"output": "hi"},
            "__typename": "Query"
        })
    );
    // Keys come in selection order, as GraphQL answers.
    let (_, raw) = {
        let body = json!({"query": "{ b: test(inputString: \"2\") { output } a: test(inputString: \"1\") { output } }"});
        let response = dispatch(
            &Ctx {
                db: &f.db,
                artifacts: &DatabaseArtifacts(&f.db),
            },
            &ApiRequest::new(Method::Post, "/graphql", body.to_string()),
        );
        (response.status, String::from_utf8(response.body).unwrap())
    };
    assert!(
        raw.find("\"b\"").unwrap() < raw.find("\"a\"").unwrap(),
        "{raw}"
    );
    // operationName picks one of several operations; without it, several are an error.
    let two = "query A { test(inputString: \"a\") { output } } query B { test(inputString: \"b\") { output } }";
    let body = json!({"query": two, "operationName": "B"});
    let (_, answer) = call(&f.db, Method::Post, "/graphql", &body.to_string());
    assert_eq!(data(answer), json!({"test": {"output": "b"}}));
    let answer = gql(&f.db, two, json!({}));
    assert_eq!(answer["data"], Value::Null);
    assert_eq!(answer["errors"].as_array().unwrap().len(), 1);
    let answer = data(gql(
        &f.db,
        "mutation { testMutation(inputString: \"q\") { output } }",
        json!({}),
    ));
    assert_eq!(answer, json!({"testMutation": {"output": "q"}}));
}

#[test]
fn errors_are_graphql_errors_with_null_data() {
    let f = fixture();
    let unknown = gql(
        &f.db,
        "{ mlflowGetRun(input: {runId: \"x\"}) { bogus } }",
        json!({}),
    );
    assert_eq!(unknown["data"], Value::Null);
    let message = error(&unknown);
    assert!(
        message.contains("bogus") && message.contains("MlflowGetRunResponse"),
        "{message}"
    );

    let typed =
        "query($d: MlflowGetRunInput!) { mlflowGetRun(input: $d) { run { info { runId } } } }";
    let wrong = gql(&f.db, typed, json!({"d": {"runId": 5}}));
    assert_eq!(wrong["data"], Value::Null);
    assert!(
        error(&wrong).contains("runId") || error(&wrong).contains("$d"),
        "{wrong}"
    );
    let missing = gql(&f.db, typed, json!({}));
    assert_eq!(missing["data"], Value::Null);
    assert!(error(&missing).contains('d'), "{missing}");

    let syntax = gql(&f.db, "{ mlflowGetRun( ", json!({}));
    assert_eq!(syntax["data"], Value::Null);
    assert!(error(&syntax).starts_with("Syntax error"), "{syntax}");

    // @component belongs on operations, with a name.
    let on_field = gql(
        &f.db,
        "{ test(inputString: \"a\") @component(name: \"x\") { output } }",
        json!({}),
    );
    assert_eq!(on_field["data"], Value::Null);
    let unnamed = gql(
        &f.db,
        "query Q @component { test(inputString: \"a\") { output } }",
        json!({}),
    );
    assert_eq!(unnamed["data"], Value::Null);
    let unknown_directive = gql(
        &f.db,
        "query Q @other { test(inputString: \"a\") { output } }",
        json!({}),
    );
    assert_eq!(unknown_directive["data"], Value::Null);
    let fine = gql(
        &f.db,
        "mutation M @component(name: \"x\") { testMutation(inputString: \"a\") { output } }",
        json!({}),
    );
    assert_eq!(data(fine), json!({"testMutation": {"output": "a"}}));

    // A run whose experiment cannot be read: that field is null with its error, the
    // rest of the run is answered.
    if crate::store::db::Db::dialect(&f.db) == crate::store::db::Dialect::Sqlite {
        f.db.exec("PRAGMA foreign_keys = OFF", &[]).unwrap();
    }
    f.db.exec(
        "UPDATE runs SET experiment_id = 999 WHERE run_uuid = ?",
        &crate::params![f.other_run_id.as_str()],
    )
    .unwrap();
    let answer = gql(
        &f.db,
        "query($d: MlflowGetRunInput!) { mlflowGetRun(input: $d) { run { info { runName } experiment { name } } } }",
        json!({"d": {"runId": f.other_run_id}}),
    );
    assert_eq!(
        answer["data"],
        json!({"mlflowGetRun": {"run": {"info": {"runName": "second"}, "experiment": null}}})
    );
    assert_eq!(error(&answer), "No Experiment with id=999 exists");
}

#[test]
fn requests_that_are_not_graphql_are_400() {
    let db = testing::db();
    for body in [
        "{oops",
        "[{\"query\": \"{ test(inputString: \\\"a\\\") { output } }\"}]",
        "5",
        "{}",
        "{\"query\": 5}",
        "{\"query\": \"\"}",
        "{\"query\": \"{ __typename }\", \"variables\": [1]}",
        "{\"query\": \"{ __typename }\", \"variables\": \"[1]\"}",
        "{\"query\": \"{ __typename }\", \"operationName\": 1}",
    ] {
        let (status, answer) = call(&db, Method::Post, "/graphql", body);
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error_code"], "INVALID_PARAMETER_VALUE", "{body}");
    }
    let (_, batch) = call(&db, Method::Post, "/graphql", "[]");
    assert!(batch["message"].as_str().unwrap().contains("Batched"));
    let (status, _) = call(&db, Method::Get, "/graphql", "");
    assert_eq!(status, 400);
}

#[test]
fn get_reads_query_and_variables_from_the_query_string() {
    let f = fixture();
    let url = |q: &str, v: &Value| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        s.append_pair("query", q);
        s.append_pair("variables", &v.to_string());
        format!("/graphql?{}", s.finish())
    };
    let q =
        "query($d: MlflowGetRunInput!) { mlflowGetRun(input: $d) { run { info { runName } } } }";
    let (status, answer) = call(
        &f.db,
        Method::Get,
        &url(q, &json!({"d": {"runId": f.run_id}})),
        "",
    );
    assert_eq!(status, 200);
    assert_eq!(
        data(answer)["mlflowGetRun"]["run"]["info"]["runName"],
        "first"
    );
    // A POST without a body reads the query string too; a body is taken as it is.
    let (status, answer) = call(
        &f.db,
        Method::Post,
        &url("{ __typename }", &Value::Null),
        "",
    );
    assert_eq!(
        (status, data(answer)),
        (200, json!({"__typename": "Query"}))
    );
    let body = json!({"query": "{ test(inputString: \"x\") { output } }", "variables": null, "operationName": null});
    let (status, answer) = call(&f.db, Method::Post, "/graphql/", &body.to_string());
    assert_eq!(
        (status, data(answer)),
        (200, json!({"test": {"output": "x"}}))
    );
}

/// `n` copies of `item`, space separated.
fn many(item: &str, n: usize) -> String {
    vec![item; n].join(" ")
}

#[test]
fn bounds_refuse_work_before_it_is_done() {
    let db = testing::db();
    let refused = |query: &str, why: &str| {
        let answer = gql(&db, query, json!({}));
        assert_eq!(answer["data"], Value::Null, "{why}");
        let message = error(&answer);
        assert!(message.contains(why), "{why}: {message}");
    };
    let ok = |query: &str| {
        let answer = gql(&db, query, json!({}));
        assert!(answer["data"].is_object(), "{answer}");
    };
    // Root fields: 10 pass, 11 do not (aliased or repeated).
    let field = |i: usize| format!("a{i}: test(inputString: \"x\") {{ output }}");
    ok(&format!(
        "{{ {} }}",
        (0..10).map(field).collect::<Vec<_>>().join(" ")
    ));
    refused(
        &format!("{{ {} }}", (0..11).map(field).collect::<Vec<_>>().join(" ")),
        "root fields",
    );
    refused(
        &format!("{{ {} }}", many("test(inputString: \"x\") { output }", 11)),
        "root fields",
    );
    // Aliases in one selection set, counted over its fragments too.
    let aliases = |n: usize| {
        (0..n)
            .map(|i| format!("o{i}: output"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    ok(&format!(
        "{{ test(inputString: \"x\") {{ {} }} }}",
        aliases(10)
    ));
    refused(
        &format!("{{ test(inputString: \"x\") {{ {} }} }}", aliases(11)),
        "aliases",
    );
    refused(
        &format!(
            "{{ test(inputString: \"x\") {{ ...A ...B }} }} fragment A on Test {{ {} }} fragment B on Test {{ p: output }}",
            aliases(10)
        ),
        "aliases",
    );
    // Depth: 10 levels of selection sets pass, 11 do not.
    let nested = |sets: usize| {
        format!(
            "{{ __type(name: \"Query\") {{ {}name{} }} }}",
            "ofType { ".repeat(sets - 2),
            " }".repeat(sets - 2)
        )
    };
    ok(&nested(10));
    refused(&nested(11), "levels deep");
    // Selections, a fragment counted at each spread: 3 x 300 pass, 4 x 300 do not.
    let spreads = |sets: &[&str]| {
        let body: Vec<String> = sets.iter().map(|s| format!("{s} {{ ...G }}")).collect();
        format!(
            "{{ __schema {{ {} }} }} fragment G on __Type {{ {} }}",
            body.join(" "),
            many("name", 300)
        )
    };
    ok(&spreads(&["types", "queryType", "mutationType"]));
    refused(
        &spreads(&["types", "queryType", "mutationType", "subscriptionType"]),
        "fields",
    );
    // Brackets nested past what the parser may recurse into, and a huge query: refused
    // without parsing (no stack overflow, no time spent).
    refused(
        &format!("{}{}", "{a".repeat(100_000), "}".repeat(100_000)),
        "bytes",
    );
    refused(
        &format!("{}{}", "{ a".repeat(33), "}".repeat(33)),
        "nests brackets",
    );
    refused(
        &format!("{{ test(inputString: {}) {{ output }} }}", "[".repeat(40)),
        "nests brackets",
    );
    // ...but not inside strings or comments.
    ok(&format!(
        "# {}\n{{ test(inputString: \"{}\") {{ output }} a: test(inputString: \"\"\"{}\\\"\"\" \"\"\") {{ output }} }}",
        "{".repeat(100),
        "{".repeat(100),
        "[".repeat(100)
    ));
    // A fragment cycle is a validation error, not a loop.
    let answer = gql(
        &db,
        "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
        json!({}),
    );
    assert_eq!(answer["data"], Value::Null);
    // Selections written but never used (validation reads them) are bounded too.
    refused(
        &format!(
            "{{ __typename }} fragment U on Query {{ {} }}",
            many("__typename", 2001)
        ),
        "selections",
    );
}

#[test]
fn many_runs_read_their_experiments_and_versions_in_bulk() {
    let f = fixture();
    let mut ids = vec![f.run_id.clone(), f.other_run_id.clone()];
    for i in 0..40 {
        let answer = rest(
            &f.db,
            Method::Post,
            "runs/create",
            json!({"experiment_id": f.experiment_id, "run_name": format!("r{i}")}),
        );
        let id = answer["run"]["info"]["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        if i % 3 == 0 {
            let source = format!(
                "{}/model",
                answer["run"]["info"]["artifact_uri"].as_str().unwrap()
            );
            rest(
                &f.db,
                Method::Post,
                "model-versions/create",
                json!({"name": "iris-model", "source": source, "run_id": id}),
            );
        }
        ids.push(id);
    }
    let answer = data(gql(
        &f.db,
        &apollo(ui_query("SearchRuns")),
        json!({"data": {"experimentIds": [f.experiment_id]}}),
    ));
    let runs = answer["mlflowSearchRuns"]["runs"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(runs.len(), ids.len());
    let rest_search = rest(
        &f.db,
        Method::Post,
        "runs/search",
        json!({"experiment_ids": [f.experiment_id]}),
    );
    for (run, rest_run) in runs.iter().zip(want_array(&rest_search["runs"]).iter()) {
        assert_run_matches_rest(&f, run, rest_run);
    }
    let with_versions = runs
        .iter()
        .filter(|r| !r["modelVersions"].as_array().unwrap().is_empty())
        .count();
    assert_eq!(with_versions, 1 + 14);
}

#[test]
fn introspection_names_mlflow_types() {
    let db = testing::db();
    let answer = data(gql(
        &db,
        r#"{ run: __type(name: "MlflowRunExtension") { fields { name } }
             input: __type(name: "MlflowGetMetricHistoryBulkIntervalInput") { inputFields { name type { name } } }
             long: __type(name: "LongString") { kind }
             __schema { directives { name locations args { name } } mutationType { name } } }"#,
        json!({}),
    ));
    let names: Vec<&str> = answer["run"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "info",
            "data",
            "inputs",
            "outputs",
            "experiment",
            "modelVersions"
        ]
    );
    assert_eq!(
        answer["input"]["inputFields"],
        json!([{"name": "runIds", "type": {"name": null}}, {"name": "metricKey", "type": {"name": "String"}},
               {"name": "startStep", "type": {"name": "Int"}}, {"name": "endStep", "type": {"name": "Int"}},
               {"name": "maxResults", "type": {"name": "Int"}}])
    );
    assert_eq!(answer["long"]["kind"], "SCALAR");
    assert_eq!(answer["__schema"]["mutationType"]["name"], "Mutation");
    let component = answer["__schema"]["directives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "component")
        .cloned()
        .unwrap();
    assert_eq!(component["locations"], json!(["QUERY", "MUTATION"]));
    assert_eq!(component["args"], json!([{"name": "name"}]));
}

mod properties {
    //! Any query text or request body is answered (a GraphQL answer or a 400), never a
    //! panic. `PROPTEST_CASES=100000` searches longer.
    use super::*;
    use proptest::prelude::*;

    /// Pieces of GraphQL, so random queries get past the lexer and into the parser,
    /// the bounds, validation and execution.
    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "{",
            "}",
            "(",
            ")",
            "[",
            "]",
            ":",
            "$",
            "@",
            "!",
            "...",
            "#",
            "\n",
            " ",
            ",",
            "\"",
            "\"\"\"",
            "\\",
            "=",
            "query",
            "mutation",
            "fragment",
            "on",
            "Q",
            "F",
            "a",
            "input",
            "test",
            "inputString",
            "output",
            "mlflowGetRun",
            "runId",
            "run",
            "info",
            "runName",
            "experiment",
            "modelVersions",
            "mlflowSearchRuns",
            "experimentIds",
            "maxResults",
            "mlflowGetMetricHistoryBulkInterval",
            "metrics",
            "value",
            "__typename",
            "__schema",
            "types",
            "name",
            "MlflowGetRunInput",
            "MlflowRunExtension",
            "Query",
            "String",
            "Int",
            "component",
            "include",
            "if",
            "true",
            "null",
            "1",
            "-5",
            "1e400",
            "2147483648",
            "\"x\"",
            "\"0\"",
            "$d",
            "d",
        ])
    }

    fn answered(db: &TestDb, body: &str) {
        let (status, answer) = call(db, Method::Post, "/graphql", body);
        match status {
            200 => {
                assert!(answer.get("data").is_some(), "{body:?}: {answer}");
                let errors = &answer["errors"];
                assert!(errors.is_null() || errors.as_array().is_some_and(|e| !e.is_empty()));
            }
            400 => assert_eq!(answer["error_code"], "INVALID_PARAMETER_VALUE", "{body:?}"),
            other => panic!("{body:?}: status {other}: {answer}"),
        }
    }

    proptest! {
        #[test]
        fn any_query_is_answered(pieces in prop::collection::vec(piece(), 0..80),
                                 variables in prop::option::of(prop::sample::select(vec![
                                     json!({}), json!({"d": {"runId": "x"}}), json!({"d": 5}),
                                     json!({"d": {"experimentIds": [null, "0"], "maxResults": 1}}),
                                 ]))) {
            let db = testing::db();
            let query = pieces.join(" ");
            let body = json!({"query": query, "variables": variables});
            answered(&db, &body.to_string());
        }

        #[test]
        fn any_body_is_answered(body in ".{0,300}") {
            let db = testing::db();
            answered(&db, &body);
        }
    }
}
