"""The model lifecycle loop in one running app (`spinflow up`, both components):
`spinflow train` logs and registers the Iris model in our mlflow-server, iris-api picks
the new version up after its refresh interval and says so in /health, and the official
client loads the same model (`models:/iris@champion`) and predicts the same classes as
our /predict on all 150 rows. Then scikit-learn models logged with `mlflow.onnx.log_model`
and registered through our server are served by iris-api."""

import json
import subprocess
import time

import numpy as np
import pytest
import requests

from conftest import SPINFLOW, bake

mlflow = pytest.importorskip("mlflow")
skl2onnx = pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

pytestmark = pytest.mark.skipif(int(mlflow.__version__.split(".")[0]) < 3, reason="MLflow 3 client")

KEY = "loop-key"
CLASSES = ["setosa", "versicolor", "virginica"]


@pytest.fixture(scope="module")
def app(tmp_path_factory, iris_manifest):
    from conftest import SpinflowApp

    env = {"SPIN_VARIABLE_API_KEYS": KEY, "SPIN_VARIABLE_MODEL_REFRESH_SECONDS": "1"}
    app = SpinflowApp(tmp_path_factory.mktemp("loop") / ".spin", env=env,
                      manifest=iris_manifest).start(timeout=300)
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(app.url)
    yield app
    mlflow.set_tracking_uri(previous)
    app.stop()


@pytest.fixture(autouse=True)
def no_client_retries(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")


def iris():
    data = load_iris()
    return data.data.astype(np.float32), data.target


def health_model(app):
    return requests.get(app.url + "/health", timeout=30).json()["model"]


def predict_all(app, x):
    r = requests.post(app.url + "/predict", json={"features": x.tolist()},
                      headers={"X-API-Key": KEY}, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


def wait_for_version(app, version, timeout=120):
    deadline = time.monotonic() + timeout
    model = None
    while time.monotonic() < deadline:
        model = health_model(app)
        if model.get("version") == version and model.get("source") == "registry":
            return model
        time.sleep(0.5)
    raise AssertionError(f"iris-api did not switch to version {version}: {model}")


def train(app, *args):
    done = subprocess.run([str(SPINFLOW), "train", "--tracking-uri", app.url, "--json", *args],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_train_then_iris_api_serves_the_new_version(app):
    assert health_model(app)["source"] == "embedded"  # nothing registered yet

    first = train(app)
    assert first["version"] == "1" and first["model_uri"].startswith("models:/m-")
    model = wait_for_version(app, "1")
    assert model["name"] == "iris"

    # The official client loads what iris-api serves and agrees on every row.
    x, truth = iris()
    pyfunc = mlflow.pyfunc.load_model("models:/iris@champion")
    labels = np.asarray(pyfunc.predict(x)["label"]).reshape(-1)
    served = predict_all(app, x)
    assert served["model"]["version"] == "1"
    assert [row["class"] for row in served["predictions"]] == [CLASSES[i] for i in labels]
    assert (labels == truth).mean() >= 0.9

    # Retraining registers version 2, moves the alias, and iris-api follows.
    second = train(app, "--seed", "7", "--epochs", "500")
    assert second["version"] == "2"
    wait_for_version(app, "2")
    assert predict_all(app, x[:1])["model"]["version"] == "2"


@pytest.mark.parametrize("kind", ["logistic_regression", "random_forest"])
def test_sklearn_models_logged_with_the_official_client_are_served(app, kind):
    x, target = iris()
    names = load_iris().target_names[target]
    estimator = {
        "logistic_regression": lambda: LogisticRegression(max_iter=500),
        "random_forest": lambda: RandomForestClassifier(n_estimators=20, random_state=0),
    }[kind]().fit(x, names)
    onx = skl2onnx.to_onnx(estimator, x[:1])
    mlflow.set_experiment(f"sklearn-{kind}")
    with mlflow.start_run():
        info = mlflow.onnx.log_model(onx, name="model", registered_model_name="iris")
    version = str(info.registered_model_version)
    mlflow.MlflowClient().set_registered_model_alias("iris", "champion", version)

    wait_for_version(app, version)
    served = predict_all(app, x)
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: x})[0]
    assert [row["class"] for row in served["predictions"]] == [str(c) for c in expected]


def test_the_champion_baked_at_build_time_serves_from_its_plans(app, iris_manifest, tmp_path, start_app):
    """`spinflow preinit --model models:/iris@champion` fetches the champion from our
    registry and bakes it into iris-api; an iris-api started from that build serves the
    champion from the baked plans (no load per request), with the same predictions."""
    if health_model(app)["source"] != "registry":
        train(app)
        wait_for_version(app, "1")
    champion = health_model(app)["version"]
    manifest = bake(tmp_path, iris_manifest, "models:/iris@champion", tracking_uri=app.url)
    env = {"SPIN_VARIABLE_API_KEYS": KEY, "SPIN_VARIABLE_MLFLOW_TRACKING_URI": app.url}
    baked = start_app(args=["--component-id", "iris-api"], env=env, manifest=manifest)

    x, _ = iris()
    for rows in (x[:1], x):
        r = requests.post(baked.url + "/predict", json={"features": rows.tolist()},
                          headers={"X-API-Key": KEY}, timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["model"]["version"] == champion
        assert "load;desc=baked" in r.headers["server-timing"], r.headers["server-timing"]
        assert r.json()["predictions"] == predict_all(app, rows)["predictions"]
