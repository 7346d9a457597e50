"""iris-api end to end through `spinflow up`: every endpoint and protocol, API keys,
bad input, and exact Prometheus metrics under concurrent load."""

import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import free_port
from test_iris_registry import KEY, SETOSA

VIRGINICA = [6.7, 3.0, 5.2, 2.3]
AUTH = {"X-API-Key": KEY}


@pytest.fixture(scope="module")
def iris_app(tmp_path_factory, iris_manifest):
    """iris-api alone, with a tracking URI nobody listens on: the embedded model serves."""
    from conftest import SpinflowApp

    env = {
        "SPIN_VARIABLE_API_KEYS": f"{KEY},second-key",
        "SPIN_VARIABLE_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}",
        "SPIN_VARIABLE_MAX_BATCH_ROWS": "50",
        "SPIN_VARIABLE_MAX_BODY_BYTES": "20000",
    }
    app = SpinflowApp(tmp_path_factory.mktemp("iris") / ".spin", ["--component-id", "iris-api"], env,
                      manifest=iris_manifest).start()
    yield app
    app.stop()


def post(app, path, body=None, headers=AUTH, **kw):
    return requests.post(app.url + path, json=body, headers=headers, timeout=30, **kw)


def error_of(r):
    return r.json()["error"]


# --- endpoints and protocols ---------------------------------------------------------

def test_predict_forms(iris_app):
    one = post(iris_app, "/predict", SETOSA).json()
    assert one["predictions"][0]["class"] == "setosa"
    assert one["predictions"][0]["class_index"] == 0
    probs = one["predictions"][0]["probabilities"]
    assert set(probs) == {"setosa", "versicolor", "virginica"}
    assert abs(sum(probs.values()) - 1) < 1e-5
    assert one["model"]["source"] == "embedded" and one["model"]["name"] == "iris"

    batch = post(iris_app, "/predict", {"features": [list(SETOSA.values()), VIRGINICA]}).json()
    assert [p["class"] for p in batch["predictions"]] == ["setosa", "virginica"]
    inst = post(iris_app, "/predict", {"instances": [SETOSA, VIRGINICA]}).json()
    assert [p["class"] for p in inst["predictions"]] == ["setosa", "virginica"]


def test_mlflow_scoring_protocol(iris_app):
    assert requests.get(iris_app.url + "/ping", timeout=10).status_code == 200
    cols = list(SETOSA)
    forms = [
        {"dataframe_split": {"columns": cols, "data": [list(SETOSA.values()), VIRGINICA]}},
        {"dataframe_records": [SETOSA, dict(zip(cols, VIRGINICA))]},
        {"instances": [list(SETOSA.values()), VIRGINICA]},
        {"inputs": {c: [SETOSA[c], VIRGINICA[i]] for i, c in enumerate(cols)}},
    ]
    for form in forms:
        r = post(iris_app, "/invocations", form)
        assert r.status_code == 200, (form, r.text)
        assert r.json() == {"predictions": ["setosa", "virginica"]}
    csv = "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n"
    r = requests.post(iris_app.url + "/invocations", data=csv, headers={**AUTH, "Content-Type": "text/csv"}, timeout=10)
    assert r.json() == {"predictions": ["setosa"]}


def test_open_inference_protocol(iris_app):
    assert requests.get(iris_app.url + "/v2/health/live", timeout=10).json() == {"live": True}
    assert requests.get(iris_app.url + "/v2/health/ready", timeout=10).json() == {"ready": True}
    meta = requests.get(iris_app.url + "/v2/models/iris", headers=AUTH, timeout=10).json()
    assert meta["name"] == "iris" and meta["inputs"][0]["shape"] == [-1, 4]
    req = {"id": "r1", "inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP32",
                                   "data": list(SETOSA.values()) + VIRGINICA}]}
    out = post(iris_app, "/v2/models/iris/infer", req).json()
    assert out["id"] == "r1" and out["model_name"] == "iris"
    by_name = {o["name"]: o for o in out["outputs"]}
    assert by_name["label"]["data"] == ["setosa", "virginica"]
    assert by_name["class_index"]["data"] == [0, 2]
    assert by_name["probabilities"]["shape"] == [2, 3]
    assert post(iris_app, "/v2/models/other/infer", req).status_code == 404


def test_health(iris_app):
    body = requests.get(iris_app.url + "/health", timeout=10).json()
    assert body["status"] == "ok"
    assert body["model"]["source"] == "embedded"
    assert body["model"]["uri"] == "models:/iris@champion"
    # The build pre-initialises iris-api (spin.toml): each instance, this request's
    # included, starts with the embedded model loaded.
    assert body["embedded_model_preloaded"] is True


# --- API keys --------------------------------------------------------------------------

@pytest.mark.parametrize("headers,status", [
    ({}, 401),
    ({"X-API-Key": "wrong"}, 401),
    ({"Authorization": "Bearer wrong"}, 401),
    ({"Authorization": "Basic dGVzdDp0ZXN0"}, 401),
    ({"X-API-Key": KEY}, 200),
    ({"X-API-Key": "second-key"}, 200),
    ({"Authorization": f"Bearer {KEY}"}, 200),
])
def test_api_keys(iris_app, headers, status):
    r = post(iris_app, "/predict", SETOSA, headers=headers)
    assert r.status_code == status, r.text
    if status == 401:
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        assert error_of(r)["code"] == "UNAUTHENTICATED"


def test_open_routes_are_configurable(start_app, iris_manifest):
    app = start_app(args=["--component-id", "iris-api"], manifest=iris_manifest, env={
        "SPIN_VARIABLE_API_KEYS": KEY,
        "SPIN_VARIABLE_OPEN_ROUTES": "/predict",
        "SPIN_VARIABLE_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}",
    })
    assert post(app, "/predict", SETOSA, headers={}).status_code == 200
    assert requests.get(app.url + "/metrics", timeout=10).status_code == 401


# --- bad input -------------------------------------------------------------------------

BAD = [
    ({"features": [[1, 2, 3]]}, 400, "has 3 values"),
    ({"features": [[1, 2, "x", 4]]}, 400, "must be a number"),
    ({"features": []}, 400, "empty"),
    ({"features": [[1, 2, 3, 4]] * 51}, 400, "at most 50"),
    ({"sepal_length": 1, "sepal_width": 2, "petal_length": 3, "petal_width": 4, "colour": 1}, 400, "unknown field"),
    ({"sepal_length": 1, "sepal_width": 2, "petal_length": 3}, 400, "missing the feature"),
]


@pytest.mark.parametrize("body,status,message", BAD)
def test_bad_input_is_explained(iris_app, body, status, message):
    r = post(iris_app, "/predict", body)
    assert r.status_code == status, r.text
    assert message in error_of(r)["message"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(iris_app, literal):
    data = '{"features": [[%s, 1, 2, 3]]}' % literal
    r = requests.post(iris_app.url + "/predict", data=data, headers={**AUTH, "Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 400
    assert "NaN" in error_of(r)["message"]


def test_body_over_the_limit_is_413(iris_app):
    big = {"features": [[1.123456789, 2.123456789, 3.123456789, 4.123456789]] * 400}
    r = post(iris_app, "/predict", big)
    assert r.status_code == 413
    assert "20000" in error_of(r)["message"]


def test_largest_request_at_the_default_limits(start_app, iris_manifest):
    """1,000 rows in a body of just under 1 MiB: more than the WASIp2 build's 1 MiB
    request arena holds, so its allocations overflow to dlmalloc mid-request."""
    app = start_app(args=["--component-id", "iris-api"], manifest=iris_manifest, env={
        "SPIN_VARIABLE_API_KEYS": KEY,
        "SPIN_VARIABLE_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}",
    })
    rows = [list(SETOSA.values()), VIRGINICA] * 500
    body = json.dumps({"features": rows})
    limit = 1 << 20
    padded = body[:-1] + " " * (limit - len(body)) + "}"
    assert len(padded.encode()) == limit
    headers = {**AUTH, "Content-Type": "application/json"}
    for _ in range(3):  # and again in fresh instances
        r = requests.post(app.url + "/predict", data=padded, headers=headers, timeout=30)
        assert r.status_code == 200, r.text
        classes = [p["class"] for p in r.json()["predictions"]]
        assert classes == ["setosa", "virginica"] * 500
    small = requests.post(app.url + "/predict", json=SETOSA, headers=AUTH, timeout=10)
    assert small.json()["predictions"][0]["class"] == "setosa"
    over = requests.post(app.url + "/predict", data=padded + " ", headers=headers, timeout=30)
    assert over.status_code == 413


def test_wrong_content_type_is_415(iris_app):
    r = requests.post(iris_app.url + "/predict", data=json.dumps(SETOSA), headers={**AUTH, "Content-Type": "text/plain"}, timeout=10)
    assert r.status_code == 415


def test_invalid_json_wrong_method_unknown_route(iris_app):
    r = requests.post(iris_app.url + "/predict", data="{", headers=AUTH, timeout=10)
    assert r.status_code == 400 and "not valid JSON" in error_of(r)["message"]
    assert requests.get(iris_app.url + "/predict", headers=AUTH, timeout=10).status_code == 405
    r = post(iris_app, "/invocations", {"instances": [[1, 2, 3, 4]], "inputs": [[1, 2, 3, 4]]})
    assert r.status_code == 400 and "only one" in error_of(r)["message"]


# --- metrics ---------------------------------------------------------------------------

def scrape(app):
    r = requests.get(app.url + "/metrics", timeout=10)
    assert r.status_code == 200
    return r.text


def sample(text, line_prefix):
    for line in text.splitlines():
        if line.startswith(line_prefix + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_are_exact_under_concurrency(start_app, iris_manifest):
    app = start_app(args=["--component-id", "iris-api"], manifest=iris_manifest, env={
        "SPIN_VARIABLE_API_KEYS": KEY,
        "SPIN_VARIABLE_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}",
    })
    n_ok, n_bad = 60, 15

    def one(i):
        if i < n_ok:
            return post(app, "/predict", {"features": [list(SETOSA.values()), VIRGINICA]}).status_code
        return post(app, "/predict", {"features": [[1, 2]]}).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(one, range(n_ok + n_bad)))
    assert statuses.count(200) == n_ok and statuses.count(400) == n_bad

    text = scrape(app)
    assert sample(text, 'iris_api_requests_total{route="/predict",method="POST",status="200"}') == n_ok
    assert sample(text, 'iris_api_requests_total{route="/predict",method="POST",status="400"}') == n_bad
    assert sample(text, 'iris_api_predictions_total{class="setosa"}') == n_ok
    assert sample(text, 'iris_api_predictions_total{class="virginica"}') == n_ok
    assert sample(text, 'iris_api_errors_total{route="/predict",code="BAD_REQUEST"}') == n_bad
    assert sample(text, 'iris_api_request_duration_seconds_count{route="/predict"}') == n_ok + n_bad
    assert sample(text, 'iris_api_request_duration_seconds_bucket{route="/predict",le="+Inf"}') == n_ok + n_bad
    assert 'iris_api_model_info{name="iris",version="' in text
    # The scrape itself is counted once it is answered.
    assert sample(scrape(app), 'iris_api_requests_total{route="/metrics",method="GET",status="200"}') == 1


def test_metrics_pass_promtool(iris_app):
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: scripts/install-test-deps.sh installs it (Debian package prometheus)"
    post(iris_app, "/predict", SETOSA)
    post(iris_app, "/predict", {"features": []})
    result = subprocess.run([promtool, "check", "metrics"], input=scrape(iris_app), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
