"""Reliability of mlflow-server (issue 21) against the real .wasm in `spinflow up`, with
instances limited to 48 MiB as in the battery that found the problems: oversized
filters, wrong-shaped bodies and out-of-range numbers are 400 INVALID_PARAMETER_VALUE
(never a 5xx the client would retry for minutes, never SQL text), and a 300,000-point
metric history is answered page by page, so the official clients still read all of it.
"""

import json
import os
import subprocess
import textwrap
import time
import uuid

import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from conftest import REPO, SpinflowApp

HISTORY_POINTS = 300_000
PAGE = 25_000  # the page size both official clients ask for
VENV29_PYTHON = REPO / ".venv-mlflow29" / "bin" / "python"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    state = tmp_path_factory.mktemp("reliability-tracking") / ".spin"
    app = SpinflowApp(state, args=["--max-instance-memory", "48M"]).start()
    yield app
    app.stop()


def call(app, method, endpoint, **kwargs):
    return requests.request(method, f"{app.url}/api/2.0/mlflow/{endpoint}", timeout=60, **kwargs)


def assert_invalid(response, *needles):
    """A 400 INVALID_PARAMETER_VALUE whose message names the problem and holds no SQL."""
    assert response.status_code == 400, (response.status_code, response.text[:300])
    body = response.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE", body
    message = body["message"]
    for leak in ("SELECT", "sqlite", "database error", "run_uuid"):
        assert leak not in message, message[:300]
    for needle in needles:
        assert needle in message, message[:300]
    return message


def new_experiment(app):
    r = call(app, "POST", "experiments/create", json={"name": f"rel-{uuid.uuid4().hex[:10]}"})
    assert r.status_code == 200, r.text
    return r.json()["experiment_id"]


def new_run(app, experiment_id):
    r = call(app, "POST", "runs/create", json={"experiment_id": experiment_id, "start_time": 1})
    assert r.status_code == 200, r.text
    return r.json()["run"]["info"]["run_id"]


AND_988 = " AND ".join(["tags.t = 'x'"] * 988)
IN_32766 = "attributes.run_id IN (" + ",".join(f"'{i:032x}'" for i in range(32_766)) + ")"


@pytest.mark.parametrize("filter_string, needle", [(AND_988, "clauses"), (IN_32766, "exceeds the limit")],
                         ids=["988-and-clauses", "in-list-of-32766"])
def test_oversized_run_filters_are_a_400(app, filter_string, needle):
    experiment_id = new_experiment(app)
    r = call(app, "POST", "runs/search", json={"experiment_ids": [experiment_id], "filter": filter_string})
    assert_invalid(r, needle)


def test_the_client_gives_up_at_once_instead_of_retrying(app, monkeypatch):
    # Default retries (a 5xx would be retried for minutes): a 400 ends the call at once.
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    experiment_id = new_experiment(app)
    started = time.monotonic()
    with pytest.raises(MlflowException) as caught:
        MlflowClient(app.url).search_runs([experiment_id], filter_string=AND_988)
    assert time.monotonic() - started < 10
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "SELECT" not in caught.value.message


def test_oversized_filters_are_a_400_on_every_search(app):
    clauses = " AND ".join(["name = 'x'"] * 101)
    values = "name IN (" + ",".join(["'m'"] * 10_001) + ")"
    for filter_string, needle in [(clauses, "clauses"), (values, "values")]:
        assert_invalid(call(app, "POST", "experiments/search", json={"filter": filter_string}), needle)
        for endpoint in ("registered-models/search", "model-versions/search"):
            r = call(app, "GET", endpoint, params={"filter": filter_string})
            if needle == "values":
                # Query strings are GET-only and the host refuses URIs this long itself.
                assert r.status_code == 414, r.status_code
            else:
                assert_invalid(r, needle)
        r = call(app, "POST", "logged-models/search", json={"experiment_ids": ["0"], "filter": filter_string})
        assert_invalid(r, needle)
    # At the limits, searches answer.
    at_limit = " AND ".join(["name != 'x'"] * 100)
    assert call(app, "POST", "experiments/search", json={"filter": at_limit}).status_code == 200
    assert call(app, "GET", "registered-models/search", params={"filter": at_limit}).status_code == 200


def test_max_results_out_of_bounds_is_a_400(app):
    run_id = new_run(app, new_experiment(app))
    assert_invalid(call(app, "POST", "runs/search", json={"experiment_ids": ["0"], "max_results": 50_001}))
    assert_invalid(call(app, "POST", "experiments/search", json={"max_results": 0}))
    assert_invalid(call(app, "GET", "registered-models/search", params={"max_results": 1001}))
    history = {"run_id": run_id, "metric_key": "m"}
    assert_invalid(call(app, "GET", "metrics/get-history", params={**history, "max_results": 0}))
    bulk = {"run_ids": run_id, "metric_key": "m", "max_results": 2501}
    assert_invalid(call(app, "GET", "metrics/get-history-bulk-interval", params=bulk))


@pytest.mark.parametrize("body", ["[1,2]", '["0","me"]', "[]", "7"])
def test_a_body_that_is_not_an_object_creates_nothing(app, body):
    experiment_id = new_experiment(app)
    r = call(app, "POST", "runs/create", data=body, headers={"Content-Type": "application/json"})
    assert_invalid(r)
    # The battery's `[1,2]` made a run in experiment "1" for user "2": nowhere now.
    found = call(app, "POST", "runs/search", json={
        "experiment_ids": ["0", "1", experiment_id], "filter": "attributes.user_id = '2'"})
    assert found.status_code == 200 and found.json().get("runs") is None, found.text


def test_nested_messages_written_as_arrays_are_refused(app):
    run_id = new_run(app, new_experiment(app))
    for batch in ({"metrics": [["m", 1.0, 1, 0]]}, {"params": [["p", "v"]]}, {"tags": [["t", "v"]]}):
        assert_invalid(call(app, "POST", "runs/log-batch", json={"run_id": run_id, **batch}))
    run = call(app, "GET", "runs/get", params={"run_id": run_id}).json()["run"]
    assert "metrics" not in run["data"] and "params" not in run["data"]


@pytest.mark.parametrize("endpoint, field, value", [
    ("runs/create", "start_time", "1e300"),
    ("runs/log-metric", "step", str(2**63)),
    ("runs/log-metric", "timestamp", str(2**64 - 1)),
    ("runs/log-metric", "step", "-9223372036854775809"),
])
def test_out_of_range_integers_are_refused_not_clamped(app, endpoint, field, value):
    experiment_id = new_experiment(app)
    run_id = new_run(app, experiment_id)
    base = {"experiment_id": experiment_id} if endpoint == "runs/create" else {
        "run_id": run_id, "key": "m", "value": 1.0, "timestamp": 5, "step": 0}
    # Raw JSON numbers, exactly as the battery sent them (Python would send 2**63 as is).
    body = json.dumps({k: v for k, v in base.items() if k != field})[:-1] + f', "{field}": {value}}}'
    r = call(app, "POST", endpoint, data=body, headers={"Content-Type": "application/json"})
    assert_invalid(r, "out of range")
    runs = call(app, "POST", "runs/search", json={"experiment_ids": [experiment_id]}).json()["runs"]
    assert [x["info"]["run_id"] for x in runs] == [run_id]  # no second run
    assert "metrics" not in runs[0]["data"]  # and no clamped point


@pytest.fixture(scope="module")
def long_history(app):
    """A run with HISTORY_POINTS points of "loss", all at step 0 (log_metric's default),
    written with log-batch in chunks of 1,000."""
    run_id = new_run(app, new_experiment(app))
    with requests.Session() as s:
        for start in range(0, HISTORY_POINTS, 1000):
            metrics = [{"key": "loss", "value": i * 0.5, "timestamp": i, "step": 0}
                       for i in range(start, start + 1000)]
            r = s.post(f"{app.url}/api/2.0/mlflow/runs/log-batch",
                       json={"run_id": run_id, "metrics": metrics}, timeout=60)
            assert r.status_code == 200, r.text
    return run_id


def test_a_long_history_is_answered_in_bounded_pages(app, long_history):
    params = {"run_id": long_history, "metric_key": "loss"}
    r = call(app, "GET", "metrics/get-history", params=params)
    assert r.status_code == 200, r.text[:300]
    page = r.json()
    assert len(page["metrics"]) == PAGE
    assert page["next_page_token"]
    # A larger page asked for is still a bounded one, and the token leads on.
    r = call(app, "GET", "metrics/get-history",
             params={**params, "max_results": 10**9, "page_token": page["next_page_token"]})
    assert r.status_code == 200, r.text[:300]
    assert [m["timestamp"] for m in r.json()["metrics"]] == list(range(PAGE, 2 * PAGE))


def test_the_official_client_reads_the_whole_long_history(app, long_history, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    history = MlflowClient(app.url).get_metric_history(long_history, "loss")
    assert len(history) == HISTORY_POINTS
    assert [m.timestamp for m in history] == list(range(HISTORY_POINTS))


@pytest.mark.skipif(not VENV29_PYTHON.exists(), reason="make py-test-mlflow29 creates .venv-mlflow29")
def test_the_mlflow_29_client_reads_the_whole_long_history(app, long_history):
    script = textwrap.dedent(f"""
        import mlflow
        from mlflow import MlflowClient
        assert mlflow.__version__.startswith("2.9"), mlflow.__version__
        history = MlflowClient({app.url!r}).get_metric_history({long_history!r}, "loss")
        assert [m.timestamp for m in history] == list(range({HISTORY_POINTS})), len(history)
        print(len(history))
    """)
    done = subprocess.run([str(VENV29_PYTHON), "-c", script], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(HISTORY_POINTS)


def test_bulk_interval_of_a_long_history_is_sampled(app, long_history):
    # Every point shares step 0: sampling by step alone would fetch all of them.
    r = call(app, "GET", "metrics/get-history-bulk-interval",
             params={"run_ids": long_history, "metric_key": "loss"})
    assert r.status_code == 200, r.text[:300]
    points = r.json()["metrics"]
    assert len(points) == 2500
    assert points[0]["timestamp"] == 0 and points[-1]["timestamp"] == HISTORY_POINTS - 1


def test_bulk_interval_over_100_runs_stays_bounded(app):
    # MLflow's maxima (100 runs x 2,500 points) would be 250,000 points in one answer:
    # with that many runs each run's sample is smaller, first and last points kept.
    experiment_id = new_experiment(app)
    run_ids = []
    with requests.Session() as s:
        for _ in range(100):
            run_id = new_run(app, experiment_id)
            run_ids.append(run_id)
            for start in (0, 1000, 2000):
                metrics = [{"key": "val/loss", "value": i / 3, "timestamp": i, "step": i}
                           for i in range(start, min(start + 1000, 2500))]
                r = s.post(f"{app.url}/api/2.0/mlflow/runs/log-batch",
                           json={"run_id": run_id, "metrics": metrics}, timeout=60)
                assert r.status_code == 200, r.text
    r = call(app, "GET", "metrics/get-history-bulk-interval",
             params={"run_ids": run_ids, "metric_key": "val/loss", "max_results": 2500})
    assert r.status_code == 200, (r.status_code, r.text[:300])
    points = r.json()["metrics"]
    assert len(points) == 25_000
    first_run = [p["step"] for p in points if p["run_id"] == run_ids[0]]
    assert len(first_run) == 250 and first_run[0] == 0 and first_run[-1] == 2499
