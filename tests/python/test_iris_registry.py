"""iris-api takes its model from an MLflow registry: resolution, switching to a new
version without restart, cache and embedded fallbacks, refusing a model tract cannot run.

The registry here is a small fake speaking the documented MLflow REST calls that
iris-api makes (alias lookup, download URI, artifact list and download), so these
tests do not depend on the mlflow-server component; `FakeRegistry` is also used by
test_predict_sklearn.py.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from conftest import bake, free_port

REPO = Path(__file__).resolve().parents[2]
DEFAULT_ONNX = (REPO / "crates" / "iris-model" / "model" / "iris.onnx").read_bytes()
KEY = "test-key"
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


class FakeRegistry:
    """Registered model `iris` whose alias `champion` points at one of `versions`."""

    def __init__(self):
        self.versions = {}  # version (int) -> ONNX bytes
        self.champion = None
        self.requests = 0
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send(self, status, body, ctype="application/json"):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                registry.requests += 1
                url = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/api/2.0/mlflow/registered-models/alias":
                    if q.get("name") == "iris" and q.get("alias") == "champion" and registry.champion:
                        return self.send(200, {"model_version": {"name": "iris", "version": str(registry.champion)}})
                    return self.send(400, {"error_code": "INVALID_PARAMETER_VALUE",
                                           "message": "Registered model alias champion not found."})
                if url.path == "/api/2.0/mlflow/model-versions/get":
                    if q.get("name") == "iris" and int(q.get("version", 0)) in registry.versions:
                        return self.send(200, {"model_version": {"name": "iris", "version": q["version"]}})
                    return self.send(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such version"})
                if url.path == "/api/2.0/mlflow/model-versions/get-download-uri":
                    return self.send(200, {"artifact_uri": f"mlflow-artifacts:/1/models/m-{q['version']}/artifacts"})
                if url.path == "/api/2.0/mlflow-artifacts/artifacts":
                    return self.send(200, {"files": [{"path": "MLmodel", "is_dir": False, "file_size": 10},
                                                     {"path": "model.onnx", "is_dir": False, "file_size": 1}]})
                prefix = "/api/2.0/mlflow-artifacts/artifacts/1/models/m-"
                if url.path.startswith(prefix) and url.path.endswith("/artifacts/model.onnx"):
                    version = int(url.path[len(prefix):].split("/")[0])
                    return self.send(200, registry.versions[version], "application/octet-stream")
                self.send(404, b"not found", "text/plain")

            def read_body(self):
                if "content-length" in self.headers:
                    return self.rfile.read(int(self.headers["content-length"]))
                data = b""  # chunked transfer encoding
                while (size := int(self.rfile.readline().strip() or b"0", 16)) > 0:
                    data += self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()
                return data

            def do_POST(self):
                registry.requests += 1
                body = json.loads(self.read_body() or b"{}")
                if self.path == "/api/2.0/mlflow/registered-models/get-latest-versions" and body.get("name") == "iris":
                    latest = [{"name": "iris", "version": str(max(registry.versions)), "current_stage": "None"}]
                    return self.send(200, {"model_versions": latest} if registry.versions else {})
                self.send(404, b"not found", "text/plain")

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def register(self, onnx_bytes, alias=True):
        version = len(self.versions) + 1
        self.versions[version] = onnx_bytes
        if alias:
            self.champion = version
        return version

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def registry():
    reg = FakeRegistry()
    yield reg
    reg.stop()


def start_iris(start_app, manifest, tracking_uri, refresh="1", **variables):
    env = {
        "SPIN_VARIABLE_API_KEYS": KEY,
        "SPIN_VARIABLE_MLFLOW_TRACKING_URI": tracking_uri,
        "SPIN_VARIABLE_MODEL_REFRESH_SECONDS": refresh,
    }
    env.update({f"SPIN_VARIABLE_{k.upper()}": v for k, v in variables.items()})
    return start_app(args=["--component-id", "iris-api"], env=env, manifest=manifest)


def health(app):
    return requests.get(app.url + "/health", timeout=10).json()["model"]


def predict(app, body=SETOSA):
    r = requests.post(app.url + "/predict", json=body, headers={"X-API-Key": KEY}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def wait_for(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def with_unknown_operator(onnx_bytes):
    """The default model with its Softmax replaced by an operator nobody implements."""
    import onnx

    model = onnx.load_from_string(onnx_bytes)
    for node in model.graph.node:
        if node.op_type == "Softmax":
            node.op_type = "SoftmaxButFancy"
    return model.SerializeToString()


def with_doc_string(onnx_bytes, text):
    """The same model with another doc string: same predictions, other bytes."""
    import onnx

    model = onnx.load_from_string(onnx_bytes)
    model.doc_string = text
    return model.SerializeToString()


def test_nothing_registered_serves_the_embedded_default(start_app, iris_manifest, registry):
    app = start_iris(start_app, iris_manifest, registry.url)
    model = health(app)
    assert model["source"] == "embedded"
    assert "alias champion not found" in model["last_error"]
    assert predict(app)["predictions"][0]["class"] == "setosa"


def test_switches_to_a_new_version_without_restart_and_caches_it(start_app, iris_manifest, registry):
    registry.register(DEFAULT_ONNX)
    app = start_iris(start_app, iris_manifest, registry.url)
    first = predict(app)["model"]
    assert (first["name"], first["version"], first["source"]) == ("iris", "1", "registry")

    # Steady state: within the refresh interval, requests do not touch the registry.
    app2 = start_iris(start_app, iris_manifest, registry.url, refresh="3600")
    predict(app2)
    before = registry.requests
    for _ in range(5):
        predict(app2)
    assert registry.requests == before

    registry.register(DEFAULT_ONNX)
    switched = wait_for(lambda: (m := predict(app)["model"])["version"] == "2" and m)
    assert switched["source"] == "registry"
    assert health(app)["version"] == "2"


def test_a_baked_model_serves_the_registry_version_with_its_bytes(start_app, iris_manifest, registry, tmp_path):
    """`spinflow preinit --model FILE` bakes a model into the component: the registry
    version whose bytes are that model's is served from the baked plans, from the
    first request on; another version is loaded (and predicts the same here)."""
    model = tmp_path / "model.onnx"
    model.write_bytes(DEFAULT_ONNX)
    manifest = bake(tmp_path, iris_manifest, model)
    registry.register(DEFAULT_ONNX)
    app = start_iris(start_app, manifest, registry.url)

    def predict_how():
        r = requests.post(app.url + "/predict", json=SETOSA, headers={"X-API-Key": KEY}, timeout=30)
        assert r.status_code == 200, r.text
        load = next(p for p in r.headers["server-timing"].split(",") if p.strip().startswith("load;"))
        body = r.json()
        return body["model"]["version"], body["predictions"][0], load.split("desc=")[1].split(";")[0]

    version, first, how = predict_how()
    assert (version, how) == ("1", "baked")
    assert predict_how() == ("1", first, "baked")
    assert requests.get(app.url + "/health", timeout=10).json()["baked_model_digest"]

    registry.register(with_doc_string(DEFAULT_ONNX, "the same weights, other bytes"))
    wait_for(lambda: health(app)["version"] == "2")
    version, second, how = predict_how()
    assert version == "2" and how in {"loaded", "kept"}
    assert second == first


def test_registry_down_keeps_serving_the_cached_version(start_app, iris_manifest, registry):
    registry.register(DEFAULT_ONNX)
    app = start_iris(start_app, iris_manifest, registry.url)
    assert predict(app)["model"]["version"] == "1"
    registry.stop()
    model = wait_for(lambda: (m := health(app))["source"] == "cache" and m)
    assert model["version"] == "1"
    assert "unavailable" in model["last_error"]
    out = predict(app)
    assert out["model"]["version"] == "1"
    assert out["predictions"][0]["class"] == "setosa"


def test_unreachable_tracking_server_falls_back_to_the_embedded_model(start_app, iris_manifest):
    app = start_iris(start_app, iris_manifest, f"http://127.0.0.1:{free_port()}")
    out = predict(app)
    assert out["model"]["source"] == "embedded"
    assert out["predictions"][0]["class"] == "setosa"
    assert "unavailable" in health(app)["last_error"]


def test_a_model_tract_cannot_run_is_refused_and_the_previous_keeps_serving(start_app, iris_manifest, registry):
    registry.register(DEFAULT_ONNX)
    app = start_iris(start_app, iris_manifest, registry.url)
    assert predict(app)["model"]["version"] == "1"
    registry.register(with_unknown_operator(DEFAULT_ONNX))
    model = wait_for(lambda: (m := health(app)).get("last_error") and m)
    assert "SoftmaxButFancy" in model["last_error"]
    assert "version 2 refused" in model["last_error"]
    assert model["version"] == "1"
    assert predict(app)["model"]["version"] == "1"


@pytest.mark.parametrize("uri,version", [("models:/iris/1", "1"), ("models:/iris/latest", "2")])
def test_version_and_latest_uris(start_app, iris_manifest, registry, uri, version):
    registry.register(DEFAULT_ONNX)
    registry.register(DEFAULT_ONNX, alias=False)
    app = start_iris(start_app, iris_manifest, registry.url, model_uri=uri)
    model = predict(app)["model"]
    assert (model["version"], model["source"], model["uri"]) == (version, "registry", uri)
