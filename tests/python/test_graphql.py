"""The MLflow web UI's GraphQL (`/graphql`) against mlflow-server in `spinflow up`: data
logged with the official MLflow client, read back with the four queries the UI sends
(as Apollo sends them), and compared with what the REST API answers for the same run,
experiment, metric history and model versions. Then errors and bounds over HTTP."""

import math
import time
import uuid
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import requests
from mlflow.entities import LoggedModelInput, LoggedModelOutput

from tracking_helpers import client, experiment_id, rest, tracking_uri  # noqa: F401

# The UI's built JavaScript (prepared by `make build`): the queries are read from it as
# the UI sends them, rather than kept here (their text is MLflow's).
UI_JS = Path(__file__).resolve().parents[2] / "target/mlflow-ui/site/static/js"


def apollo(query):
    """The query as the UI's Apollo client sends it: `__typename` in every nested
    selection set."""
    head, rest_ = query.split("{", 1)
    return head + "{" + rest_.replace("{", "{ __typename")


def balanced_braces(text):
    """The text up to the `}` that closes its first `{`."""
    depth = 0
    for i, c in enumerate(text):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[: i + 1]
    raise AssertionError(f"unbalanced query: {text[:200]}")


def ui_query(name):
    start = f"query {name}("
    for js in sorted(UI_JS.glob("*.js")):
        text = js.read_text(errors="replace")
        at = text.find(start)
        if at >= 0:
            return apollo(balanced_braces(text[at:]))
    raise AssertionError(f"no `{start}` in {UI_JS} (build the web UI first: make build)")


def graphql(url, query, variables=None, operation_name=None):
    """POSTs one GraphQL request as the UI does; MLflow answers every one with 200."""
    body = {"operationName": operation_name, "query": query, "variables": variables or {}}
    r = requests.post(f"{url}/graphql", json=body, timeout=60)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def ok(answer):
    assert answer["errors"] is None, answer
    return answer["data"]


def plain(v):
    """`v` without Apollo's `__typename` fields."""
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items() if k != "__typename"}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def long(v):
    """A REST int64 as GraphQL's LongString: a string, "0" when unset."""
    return str(int(v or 0))


def text(v):
    """A REST string as GraphQL answers it: "" when unset."""
    return v if v is not None else ""


def key_values(items):
    return [{"key": text(kv.get("key")), "value": text(kv.get("value"))} for kv in items or []]


def rest_json(url, method, endpoint, **kwargs):
    r = rest(url, method, endpoint, **kwargs)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def seeded(client, experiment_id, tracking_uri):
    """A finished run with params, tags, metrics (one NaN), a dataset input, logged
    model input/output and a registered version; and a second, bare run."""
    client.set_experiment_tag(experiment_id, "team", "ml")
    with mlflow.start_run(run_name="full") as run:
        mlflow.log_param("lr", 0.1)
        mlflow.set_tag("kind", "test")
        for step, value in [(0, 1.5), (1, 1.25), (2, float("nan"))]:
            mlflow.log_metric("loss", value, step=step, timestamp=1000 + step)
        mlflow.log_metric("acc", 0.75, step=1)
        df = pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]})
        mlflow.log_input(mlflow.data.from_pandas(df, name="train"), context="training")
    run_id = run.info.run_id
    model = client.create_logged_model(experiment_id, name="m")
    client.log_inputs(run_id, models=[LoggedModelInput(model.model_id)])
    client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=3)])
    name = f"gql-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    client.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=run_id)
    other = client.create_run(experiment_id, run_name="bare").info.run_id
    return {"url": tracking_uri, "experiment_id": experiment_id, "run_id": run_id,
            "other_run_id": other, "model_name": name}


def assert_run_matches_rest(url, run, rest_run):
    run = plain(run)
    info, want = run["info"], rest_run["info"]
    for gql_name, rest_name in [("runName", "run_name"), ("status", "status"),
                                ("runUuid", "run_uuid"), ("experimentId", "experiment_id"),
                                ("artifactUri", "artifact_uri"),
                                ("lifecycleStage", "lifecycle_stage"), ("userId", "user_id")]:
        assert info[gql_name] == text(want.get(rest_name)), gql_name
    assert info["startTime"] == long(want.get("start_time"))
    assert info["endTime"] == long(want.get("end_time"))

    data, rest_data = run["data"], rest_run.get("data", {})
    rest_metrics = rest_data.get("metrics", [])
    assert [m["key"] for m in data["metrics"]] == [m["key"] for m in rest_metrics]
    for m, r in zip(data["metrics"], rest_metrics):
        assert (m["step"], m["timestamp"]) == (long(r.get("step")), long(r.get("timestamp")))
        value = float(r["value"])  # REST sends NaN as "NaN"
        assert m["value"] is None if math.isnan(value) else m["value"] == value
    assert data["params"] == key_values(rest_data.get("params"))
    assert data["tags"] == key_values(rest_data.get("tags"))

    rest_inputs = rest_run.get("inputs", {})
    gql_inputs = run["inputs"]["datasetInputs"]
    assert len(gql_inputs) == len(rest_inputs.get("dataset_inputs", []))
    for i, r in zip(gql_inputs, rest_inputs.get("dataset_inputs", [])):
        for gql_name, rest_name in [("digest", "digest"), ("name", "name"), ("profile", "profile"),
                                    ("schema", "schema"), ("source", "source"),
                                    ("sourceType", "source_type")]:
            assert i["dataset"][gql_name] == text(r["dataset"].get(rest_name)), gql_name
        assert i["tags"] == key_values(r.get("tags"))
    assert [m["modelId"] for m in run["inputs"]["modelInputs"]] == \
        [m["model_id"] for m in rest_inputs.get("model_inputs", [])]
    assert run["outputs"]["modelOutputs"] == [
        {"modelId": o["model_id"], "step": long(o.get("step"))}
        for o in rest_run.get("outputs", {}).get("model_outputs", [])]

    e = rest_json(url, "GET", "experiments/get", params={"experiment_id": want["experiment_id"]})["experiment"]
    assert run["experiment"]["experimentId"] == e["experiment_id"]
    assert run["experiment"]["name"] == e["name"]
    assert run["experiment"]["artifactLocation"] == e["artifact_location"]
    assert run["experiment"]["lifecycleStage"] == e["lifecycle_stage"]
    assert run["experiment"]["lastUpdateTime"] == long(e.get("last_update_time"))
    assert run["experiment"]["tags"] == key_values(e.get("tags"))

    versions = rest_json(url, "GET", "model-versions/search",
                         params={"filter": f"run_id='{want['run_id']}'"}).get("model_versions", [])
    assert len(run["modelVersions"]) == len(versions)
    for v, r in zip(run["modelVersions"], versions):
        assert (v["name"], v["version"], v["source"], v["status"]) == \
            (r["name"], r["version"], r["source"], r["status"])
        if "creationTimestamp" in v:
            assert v["creationTimestamp"] == long(r.get("creation_timestamp"))


def test_get_run_as_the_ui_sends_it(seeded):
    url, run_id = seeded["url"], seeded["run_id"]
    answer = ok(graphql(url, ui_query("GetRun"), {"data": {"runId": run_id}}, "GetRun"))
    response = answer["mlflowGetRun"]
    assert response["__typename"] == "MlflowGetRunResponse"
    assert response["apiError"] is None
    run = response["run"]
    assert run["__typename"] == "MlflowRunExtension"
    rest_run = rest_json(url, "GET", "runs/get", params={"run_id": run_id})["run"]
    assert_run_matches_rest(url, run, rest_run)
    # What the comparison covers, spelled out.
    run = plain(run)
    assert run["info"]["status"] == "FINISHED" and run["info"]["runName"] == "full"
    loss = next(m for m in run["data"]["metrics"] if m["key"] == "loss")
    assert (loss["value"], loss["step"], loss["timestamp"]) == (None, "2", "1002")
    assert run["data"]["params"] == [{"key": "lr", "value": "0.1"}]
    assert run["inputs"]["datasetInputs"][0]["dataset"]["name"] == "train"
    assert {"key": "mlflow.data.context", "value": "training"} in run["inputs"]["datasetInputs"][0]["tags"]
    assert run["outputs"]["modelOutputs"][0]["step"] == "3"
    assert run["experiment"]["tags"] == [{"key": "team", "value": "ml"}]
    assert [(v["name"], v["version"], v["status"]) for v in run["modelVersions"]] == \
        [(seeded["model_name"], "1", "READY")]
    # The same data as the official client reads it.
    client_run = mlflow.MlflowClient(url).get_run(run_id)
    assert {m["key"]: m["value"] for m in run["data"]["metrics"] if m["value"] is not None} == \
        {k: v for k, v in client_run.data.metrics.items() if not math.isnan(v)}

    # A running run: endTime unset is "0", as MLflow's GraphQL answers it.
    other = ok(graphql(url, ui_query("GetRun"), {"data": {"runId": seeded["other_run_id"]}}))
    other_run = other["mlflowGetRun"]["run"]
    assert_run_matches_rest(url, other_run, rest_json(url, "GET", "runs/get",
                                                      params={"run_id": seeded["other_run_id"]})["run"])
    assert (other_run["info"]["status"], other_run["info"]["endTime"]) == ("RUNNING", "0")
    assert other_run["modelVersions"] == []


def test_get_experiment_as_the_ui_sends_it(seeded):
    url, eid = seeded["url"], seeded["experiment_id"]
    answer = ok(graphql(url, ui_query("MlflowGetExperimentQuery"), {"input": {"experimentId": eid}},
                        "MlflowGetExperimentQuery"))
    e = plain(answer["mlflowGetExperiment"]["experiment"])
    want = rest_json(url, "GET", "experiments/get", params={"experiment_id": eid})["experiment"]
    assert e == {
        "artifactLocation": want["artifact_location"],
        "creationTime": long(want.get("creation_time")),
        "effectiveTraceArchivalRetention": "",
        "experimentId": want["experiment_id"],
        "lastUpdateTime": long(want.get("last_update_time")),
        "lifecycleStage": want["lifecycle_stage"],
        "name": want["name"],
        "tags": key_values(want.get("tags")),
    }
    assert answer["mlflowGetExperiment"]["apiError"] is None


def test_search_runs_as_the_ui_sends_it(seeded):
    url, eid = seeded["url"], seeded["experiment_id"]
    answer = ok(graphql(url, ui_query("SearchRuns"),
                        {"data": {"filter": None, "experimentIds": [eid]}}, "SearchRuns"))
    runs = answer["mlflowSearchRuns"]["runs"]
    rest_runs = rest_json(url, "POST", "runs/search", json={"experiment_ids": [eid]})["runs"]
    assert [r["info"]["runUuid"] for r in runs] == [r["info"]["run_id"] for r in rest_runs]
    assert len(runs) == 2
    for run, rest_run in zip(runs, rest_runs):
        assert_run_matches_rest(url, run, rest_run)
    # A filter narrows as it does over REST.
    answer = ok(graphql(url, ui_query("SearchRuns"),
                        {"data": {"filter": "params.lr = '0.1'", "experimentIds": [eid]}}))
    assert [r["info"]["runUuid"] for r in answer["mlflowSearchRuns"]["runs"]] == [seeded["run_id"]]


def test_bulk_interval_as_the_ui_sends_it(seeded):
    url, run_ids = seeded["url"], [seeded["run_id"], seeded["other_run_id"]]
    variables = {"data": {"runIds": run_ids, "metricKey": "loss", "startStep": None,
                          "endStep": None, "maxResults": 320}}
    answer = ok(graphql(url, ui_query("GetMetricHistoryBulkInterval"), variables,
                        "GetMetricHistoryBulkInterval"))
    response = answer["mlflowGetMetricHistoryBulkInterval"]
    assert response["__typename"] == "MlflowGetMetricHistoryBulkIntervalResponse"
    assert response["apiError"] is None
    points = plain(response["metrics"])
    want = rest_json(url, "GET", "metrics/get-history-bulk-interval",
                     params={"run_ids": run_ids, "metric_key": "loss", "max_results": 320})["metrics"]
    assert len(points) == len(want) == 3
    for p, r in zip(points, want):
        assert (p["key"], p["runId"], p["step"], p["timestamp"]) == \
            (r["key"], r["run_id"], long(r.get("step")), long(r.get("timestamp")))
        value = float(r["value"])
        assert p["value"] is None if math.isnan(value) else p["value"] == value
    assert [p["value"] for p in points] == [1.5, 1.25, None]
    # A step window, as the UI asks when zoomed.
    variables["data"].update(startStep=1, endStep=1)
    points = ok(graphql(url, ui_query("GetMetricHistoryBulkInterval"), variables))
    assert [p["step"] for p in points["mlflowGetMetricHistoryBulkInterval"]["metrics"]] == ["1"]


def test_graphql_errors_over_http(seeded, spinflow_app):
    url = seeded["url"]
    # A missing run: the field is null and MLflow's message is in `errors`.
    answer = graphql(url, ui_query("GetRun"), {"data": {"runId": "f" * 32}})
    assert answer == {"data": {"mlflowGetRun": None}, "errors": [f"Run with id={'f' * 32} not found"]}
    # Unknown fields and bad variables fail validation: data null.
    answer = graphql(url, "{ mlflowGetRun(input: {runId: \"x\"}) { bogus } }")
    assert answer["data"] is None and "bogus" in answer["errors"][0]
    answer = graphql(url, "query($d: MlflowGetRunInput!) { mlflowGetRun(input: $d) { run { info { runId } } } }",
                     {"d": {"runId": 5}})
    assert answer["data"] is None and len(answer["errors"]) == 1
    # Aliases and fragments.
    answer = ok(graphql(url, """query Q($id: String) {
        a: mlflowGetRun(input: {runId: $id}) { run { ...R } }
        b: test(inputString: "hi") { said: output } }
      fragment R on MlflowRunExtension { info { name: runName } }""", {"id": seeded["run_id"]}))
    assert answer == {"a": {"run": {"info": {"name": "full"}}}, "b": {"said": "hi"}}
    # GET with the query string works too.
    r = requests.get(f"{url}/graphql", params={"query": "{ test(inputString: \"g\") { output } }"}, timeout=30)
    assert r.status_code == 200 and r.json() == {"data": {"test": {"output": "g"}}, "errors": None}
    # Not a GraphQL request: 400 in MLflow's error shape.
    for body in [b"{oops", b'[{"query": "{ __typename }"}]', b"{}"]:
        r = requests.post(f"{url}/graphql", data=body, headers={"content-type": "application/json"}, timeout=30)
        assert r.status_code == 400, body
        assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_abusive_queries_are_refused_fast(seeded, spinflow_app):
    url = seeded["url"]
    fields = " ".join(f"a{i}: mlflowGetRun(input: {{runId: \"{seeded['run_id']}\"}}) {{ run {{ info {{ runId }} }} }}"
                      for i in range(11))
    abusive = [
        ("root fields", "{ " + fields + " }"),
        ("aliases", "{ test(inputString: \"x\") { " + " ".join(f"o{i}: output" for i in range(11)) + " } }"),
        ("fields", "{ __schema { types { ...G } queryType { ...G } mutationType { ...G } "
                   "subscriptionType { ...G } } } fragment G on __Type { " + "name " * 300 + "}"),
        ("nests brackets", "{ a" * 5000 + "}" * 5000),
        ("bytes", "{ " + "__typename " * 10000 + "}"),
    ]
    for why, query in abusive:
        start = time.monotonic()
        answer = graphql(url, query)
        assert time.monotonic() - start < 5, why
        assert answer["data"] is None and why in answer["errors"][0], (why, answer)
    # The server is still there, and answers the UI.
    rest_json(url, "GET", "experiments/get", params={"experiment_id": seeded["experiment_id"]})
    answer = ok(graphql(url, ui_query("GetRun"), {"data": {"runId": seeded["run_id"]}}))
    assert answer["mlflowGetRun"]["run"]["info"]["runUuid"] == seeded["run_id"]
