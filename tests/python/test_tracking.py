"""The official MLflow client against mlflow-server in `spinflow up`: experiments, runs,
params, metrics, tags, log-batch limits, search and lifecycle (reference flows §6)."""

import math
import time
import uuid

import mlflow
import pytest
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from tracking_helpers import MLFLOW_MAJOR, client, experiment_id, rest, tracking_uri  # noqa: F401


def error_code(exc):
    return getattr(exc, "error_code", None)


def test_set_experiment_runs_and_status(client, experiment_id):
    with mlflow.start_run(run_name="ok") as run:
        pass
    finished = client.get_run(run.info.run_id)
    assert finished.info.status == "FINISHED"
    assert finished.info.end_time >= finished.info.start_time
    assert finished.info.run_name == "ok"
    assert finished.info.experiment_id == experiment_id
    assert finished.info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{run.info.run_id}/artifacts"

    with pytest.raises(ZeroDivisionError):
        with mlflow.start_run() as failed:
            1 / 0
    info = client.get_run(failed.info.run_id).info
    assert info.status == "FAILED"
    assert info.run_name  # generated when none is given

    # set_experiment on an existing name reuses it.
    name = client.get_experiment(experiment_id).name
    assert mlflow.set_experiment(name).experiment_id == experiment_id


def test_nested_runs(client, experiment_id):
    with mlflow.start_run(run_name="parent") as parent:
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_param("depth", 1)
    child_run = client.get_run(child.info.run_id)
    assert child_run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    children = client.search_runs(
        [experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert [r.info.run_id for r in children] == [child.info.run_id]


def test_params_metrics_tags(client, experiment_id):
    with mlflow.start_run() as run:
        mlflow.log_param("lr", 0.1)
        mlflow.log_params({"depth": 3, "kind": "tree"})
        mlflow.log_param("lr", 0.1)  # same value again is fine
        with pytest.raises(MlflowException) as exc:
            mlflow.log_param("lr", 0.2)
        assert error_code(exc.value) == "INVALID_PARAMETER_VALUE"

        for step, value in [(2, 0.5), (0, 0.9), (1, 0.7)]:
            mlflow.log_metric("loss", value, step=step, timestamp=1000 + step)
        mlflow.log_metrics({"acc": 0.8, "f1": 0.75}, step=4)
        mlflow.log_metric("weird", float("nan"), step=0)
        mlflow.log_metric("weird", float("inf"), step=1)

        mlflow.set_tag("team", "a")
        mlflow.set_tags({"x": "1", "y": "2"})
        client.delete_tag(run.info.run_id, "y")
        with pytest.raises(MlflowException) as exc:
            client.delete_tag(run.info.run_id, "never-set")
        assert error_code(exc.value) == "RESOURCE_DOES_NOT_EXIST"

    data = client.get_run(run.info.run_id).data
    assert data.params == {"lr": "0.1", "depth": "3", "kind": "tree"}
    assert data.metrics["loss"] == 0.5  # highest step wins
    assert data.metrics["acc"] == 0.8
    assert data.metrics["weird"] > 1e308  # +inf is clamped as MLflow's SQL store does
    assert data.tags["team"] == "a" and data.tags["x"] == "1" and "y" not in data.tags

    history = client.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value, m.timestamp) for m in history] == [
        (0, 0.9, 1000),
        (1, 0.7, 1001),
        (2, 0.5, 1002),
    ]
    weird = client.get_metric_history(run.info.run_id, "weird")
    assert math.isnan(weird[0].value)


def test_log_batch_at_and_past_limits(client, experiment_id, tracking_uri):
    from mlflow.entities import Metric, Param, RunTag

    run = client.create_run(experiment_id)
    rid = run.info.run_id
    now = int(time.time() * 1000)
    client.log_batch(
        rid,
        metrics=[Metric("m", float(i), now, i) for i in range(800)],
        params=[Param(f"p{i}", str(i)) for i in range(100)],
        tags=[RunTag(f"t{i}", "v") for i in range(100)],
    )
    assert len(client.get_metric_history(rid, "m")) == 800
    assert len(client.get_run(rid).data.params) == 100

    def batch(n_metrics=0, n_params=0, n_tags=0):
        return {
            "run_id": rid,
            "metrics": [{"key": "over", "value": i, "timestamp": now, "step": i} for i in range(n_metrics)],
            "params": [{"key": f"q{i}", "value": "v"} for i in range(n_params)],
            "tags": [{"key": f"u{i}", "value": "v"} for i in range(n_tags)],
        }

    at_limit = rest(tracking_uri, "POST", "runs/log-batch", json=batch(1000))
    assert at_limit.status_code == 200, at_limit.text
    for over in [batch(1001), batch(0, 101), batch(0, 0, 101), batch(900, 100, 1)]:
        r = rest(tracking_uri, "POST", "runs/log-batch", json=over)
        assert r.status_code == 400, r.text
        assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "at most" in r.json()["message"]
    # Rejected batches wrote nothing.
    assert len(client.get_metric_history(rid, "over")) == 1000
    assert not any(k.startswith("q") for k in client.get_run(rid).data.params)

    # The client splits a large batch itself; every point arrives.
    client.log_batch(rid, metrics=[Metric("big", float(i), now, i) for i in range(2500)])
    assert len(client.get_metric_history(rid, "big")) == 2500


def test_key_and_value_validation(client, experiment_id, tracking_uri):
    run = client.create_run(experiment_id)
    with pytest.raises(MlflowException) as exc:
        client.log_param(run.info.run_id, "k" * 251, "v")
    assert error_code(exc.value) == "INVALID_PARAMETER_VALUE"
    r = rest(tracking_uri, "POST", "runs/log-metric", json={"run_id": run.info.run_id, "key": "m", "value": 1})
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE"  # no timestamp
    r = rest(tracking_uri, "POST", "runs/log-parameter", json={"run_id": "nope", "key": "a", "value": "b"})
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    r = rest(tracking_uri, "POST", "runs/log-batch", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400


def test_delete_and_restore_run(client, experiment_id):
    run = client.create_run(experiment_id)
    rid = run.info.run_id
    client.delete_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "deleted"
    assert rid not in [r.info.run_id for r in client.search_runs([experiment_id])]
    deleted = client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [rid]
    with pytest.raises(MlflowException) as exc:
        client.log_metric(rid, "m", 1.0)
    assert error_code(exc.value) == "INVALID_PARAMETER_VALUE"
    client.restore_run(rid)
    client.log_metric(rid, "m", 1.0)
    assert client.get_run(rid).info.lifecycle_stage == "active"
    assert len(client.search_runs([experiment_id], run_view_type=ViewType.ALL)) == 1


def test_search_runs_filters_order_and_paging(client, experiment_id):
    ids = {}
    for i in range(25):
        with mlflow.start_run(run_name=f"run-{i:02d}") as run:
            mlflow.log_param("parity", "even" if i % 2 == 0 else "odd")
            if i < 20:
                mlflow.log_metric("acc", i / 100)
            mlflow.set_tag("group", "A" if i < 10 else "B")
        ids[i] = run.info.run_id

    def names(runs):
        return [r.info.run_name for r in runs]

    best = client.search_runs([experiment_id], "metrics.acc >= 0.15", order_by=["metrics.acc DESC"])
    assert names(best) == ["run-19", "run-18", "run-17", "run-16", "run-15"]
    assert len(client.search_runs([experiment_id], "params.parity = 'even' AND tags.group = 'B'")) == 8
    assert names(client.search_runs([experiment_id], "attributes.run_name LIKE 'run-2%'", order_by=["attributes.run_name"])) == [
        "run-20", "run-21", "run-22", "run-23", "run-24"]
    assert len(client.search_runs([experiment_id], "run_name ILIKE 'RUN-0%'")) == 10
    assert len(client.search_runs([experiment_id], "run_name LIKE 'RUN-0%'")) == 0
    picked = client.search_runs([experiment_id], f"attributes.run_id IN ('{ids[3]}', '{ids[4]}')")
    assert sorted(names(picked)) == ["run-03", "run-04"]
    assert len(client.search_runs([experiment_id], "status = 'FINISHED'")) == 25
    assert len(client.search_runs([experiment_id], "status != 'FINISHED'")) == 0
    assert len(client.search_runs([experiment_id], "tags.`mlflow.runName` = 'run-07'")) == 1
    # Runs without the metric sort last in both directions.
    no_metric = {"run-20", "run-21", "run-22", "run-23", "run-24"}
    for direction in ("ASC", "DESC"):
        ordered = names(client.search_runs([experiment_id], order_by=[f"metrics.acc {direction}"]))
        assert set(ordered[-5:]) == no_metric, direction
    assert names(client.search_runs([experiment_id], order_by=["metrics.acc ASC"]))[:2] == ["run-00", "run-01"]

    seen, token, pages = [], None, 0
    while True:
        page = client.search_runs([experiment_id], order_by=["attributes.run_name ASC"], max_results=10, page_token=token)
        seen += names(page)
        pages += 1
        token = page.token
        if not token:
            break
    assert pages == 3
    assert seen == [f"run-{i:02d}" for i in range(25)]

    for bad in ["metrics.acc >", "acc > 1 OR acc < 0", "params.parity > 1", "nonsense.key = 'x'", "status = 'unterminated"]:
        with pytest.raises(MlflowException) as exc:
            client.search_runs([experiment_id], bad)
        assert error_code(exc.value) == "INVALID_PARAMETER_VALUE", bad


def test_fluent_search_runs_dataframe(experiment_id):
    pd = pytest.importorskip("pandas")
    for i in range(3):
        with mlflow.start_run():
            mlflow.log_metric("score", i)
    df = mlflow.search_runs(filter_string="metrics.score > 0", order_by=["metrics.score DESC"])
    assert isinstance(df, pd.DataFrame)
    assert list(df["metrics.score"]) == [2.0, 1.0]


def test_experiments_search_rename_delete(client, tracking_uri):
    tag = uuid.uuid4().hex[:8]
    ids = [client.create_experiment(f"search-{tag}-{i}", tags={"suite": tag}) for i in range(3)]
    with pytest.raises(MlflowException) as exc:
        client.create_experiment(f"search-{tag}-0")
    assert error_code(exc.value) == "RESOURCE_ALREADY_EXISTS"

    found = client.search_experiments(filter_string=f"tags.suite = '{tag}'", order_by=["name DESC"])
    assert [e.name for e in found] == [f"search-{tag}-{i}" for i in (2, 1, 0)]
    assert len(client.search_experiments(filter_string=f"name LIKE 'search-{tag}-%'")) == 3

    client.rename_experiment(ids[0], f"renamed-{tag}")
    assert client.get_experiment(ids[0]).name == f"renamed-{tag}"
    assert client.get_experiment_by_name(f"search-{tag}-0") is None

    client.set_experiment_tag(ids[1], "note", "hello")
    assert client.get_experiment(ids[1]).tags["note"] == "hello"

    run = client.create_run(ids[1])
    client.delete_experiment(ids[1])
    assert client.get_experiment(ids[1]).lifecycle_stage == "deleted"
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    active = client.search_experiments(filter_string=f"tags.suite = '{tag}'")
    assert ids[1] not in [e.experiment_id for e in active]
    deleted = client.search_experiments(view_type=ViewType.DELETED_ONLY, filter_string=f"tags.suite = '{tag}'")
    assert [e.experiment_id for e in deleted] == [ids[1]]
    with pytest.raises(MlflowException):
        client.create_run(ids[1])
    client.restore_experiment(ids[1])
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "active"

    default = client.get_experiment("0")
    assert default.name == "Default" and default.artifact_location == "mlflow-artifacts:/0"
    with pytest.raises(MlflowException) as exc:
        client.get_experiment("987654")
    assert error_code(exc.value) == "RESOURCE_DOES_NOT_EXIST"


def test_unknown_endpoints_are_plain_404(tracking_uri):
    r = rest(tracking_uri, "GET", "no-such-endpoint")
    assert r.status_code == 404
    assert not r.headers["content-type"].startswith("application/json")
    assert rest(tracking_uri, "POST", "experiments/get").status_code == 404  # wrong method
    ajax = __import__("requests").get(f"{tracking_uri}/ajax-api/2.0/mlflow/experiments/get?experiment_id=0", timeout=30)
    assert ajax.status_code == 200 and ajax.json()["experiment"]["name"] == "Default"


def test_health_version_server_info(tracking_uri):
    import requests

    assert requests.get(f"{tracking_uri}/version", timeout=30).text.count(".") == 2
    info = requests.get(f"{tracking_uri}/api/3.0/mlflow/server-info", timeout=30).json()
    assert info["store_type"] == "SqlStore" and info["multipart_uploads_enabled"] is False


def test_log_input_and_dataset_filters(client, experiment_id):
    pd = pytest.importorskip("pandas")
    dataset = mlflow.data.from_pandas(pd.DataFrame({"a": [1, 2], "b": [3, 4]}), name="iris-train")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
    with mlflow.start_run():
        pass
    inputs = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert [i.dataset.name for i in inputs] == ["iris-train"]
    assert inputs[0].dataset.digest == dataset.digest
    assert {t.key: t.value for t in inputs[0].tags}["mlflow.data.context"] == "training"
    for flt, expected in [
        ("datasets.name = 'iris-train'", 1),
        ("datasets.context = 'training'", 1),
        (f"datasets.digest IN ('{dataset.digest}', 'zzz')", 1),
        ("datasets.name = 'other'", 0),
    ]:
        assert len(client.search_runs([experiment_id], flt)) == expected, flt
