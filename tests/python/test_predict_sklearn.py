"""scikit-learn models exported with skl2onnx (default options, i.e. with a ZipMap)
served by iris-api through the registry: predictions on all 150 Iris rows must match
onnxruntime's (same classes, probabilities within 1e-5), from a plan loaded for the
request (WASIp2: every request, in its fresh instance) or kept by the instance (WASIp3),
and from the model baked into the component at build time (`spinflow preinit --model`,
`Server-Timing: load;desc=baked`)."""

import numpy as np
import onnxruntime as ort
import pytest
import requests
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.tree import DecisionTreeClassifier

from conftest import MANIFEST, bake
from test_iris_registry import KEY, FakeRegistry, start_iris

MODELS = {
    "logistic_regression": lambda: LogisticRegression(max_iter=500),
    "decision_tree": lambda: DecisionTreeClassifier(random_state=0),
    "random_forest": lambda: RandomForestClassifier(n_estimators=20, random_state=0),
    "gradient_boosting": lambda: GradientBoostingClassifier(n_estimators=20, random_state=0),
    "mlp": lambda: MLPClassifier(hidden_layer_sizes=(16,), max_iter=2000, random_state=0),
}


@pytest.fixture(scope="module")
def iris():
    data = load_iris()
    return data.data.astype(np.float32), data.target_names[data.target]


def onnxruntime_predictions(onnx_bytes, x):
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    labels, probabilities = session.run(None, {session.get_inputs()[0].name: x})
    classes = list(probabilities[0].keys())  # ZipMap output: one dict per row
    return list(labels), np.array([[row[c] for c in classes] for row in probabilities]), classes


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_skl2onnx_model_matches_onnxruntime(start_app, iris_manifest, iris, kind):
    x, y = iris
    onnx_bytes = to_onnx(MODELS[kind]().fit(x, y), x[:1]).SerializeToString()
    expected_labels, expected_probs, classes = onnxruntime_predictions(onnx_bytes, x)

    registry = FakeRegistry()
    try:
        registry.register(onnx_bytes)
        app = start_iris(start_app, iris_manifest, registry.url, refresh="3600")
        batch = [predict(app, {"features": x.tolist()}) for _ in range(2)]
        # One-row requests have their own plan: the first loads it.
        one_row = [predict(app, {"features": [row]}) for row in x[:12].tolist()]
    finally:
        registry.stop()

    for body, _ in batch:
        assert body["model"]["source"] == "registry", body["model"]
        assert_matches(body["predictions"], expected_labels, expected_probs, classes)
    rows = [body["predictions"][0] for body, _ in one_row]
    assert_matches(rows, expected_labels[:12], expected_probs[:12], classes)

    origins = [plan_origin(timing) for _, timing in batch + one_row]
    assert origins[0] == "loaded" and origins[2] == "loaded", origins
    if iris_manifest.name == "spin.toml":
        # WASIp2: a fresh instance per request, which loads the plan.
        assert set(origins) == {"loaded"}, origins
    else:
        # WASIp3: the reused instance keeps its plan.
        assert set(origins[1:2] + origins[3:]) <= {"kept", "loaded"}, origins


def test_a_baked_skl2onnx_model_serves_from_its_baked_plans(start_app, iris, tmp_path):
    """A scikit-learn model baked into iris-api's WASIp2 build at build time serves the
    registry version with the same bytes from the baked plans, with onnxruntime's
    predictions."""
    x, y = iris
    onnx_bytes = to_onnx(MODELS["random_forest"]().fit(x, y), x[:1]).SerializeToString()
    expected_labels, expected_probs, classes = onnxruntime_predictions(onnx_bytes, x)
    model = tmp_path / "forest.onnx"
    model.write_bytes(onnx_bytes)
    manifest = bake(tmp_path, MANIFEST, model)

    registry = FakeRegistry()
    try:
        registry.register(onnx_bytes)
        app = start_iris(start_app, manifest, registry.url, refresh="3600")
        batch, batch_timing = predict(app, {"features": x.tolist()})
        one, one_timing = predict(app, {"features": x[:1].tolist()})
    finally:
        registry.stop()

    assert batch["model"]["source"] == "registry", batch["model"]
    assert [plan_origin(batch_timing), plan_origin(one_timing)] == ["baked", "baked"]
    assert_matches(batch["predictions"], expected_labels, expected_probs, classes)
    assert_matches(one["predictions"], expected_labels[:1], expected_probs[:1], classes)


def predict(app, body):
    r = requests.post(app.url + "/predict", json=body, headers={"X-API-Key": KEY}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json(), r.headers["server-timing"]


def plan_origin(server_timing):
    """`image` from `..., load;desc=image;dur=0.004, ...`."""
    load = next(part for part in server_timing.split(",") if part.strip().startswith("load;"))
    return next(p.split("=", 1)[1] for p in load.split(";") if p.strip().startswith("desc="))


def assert_matches(rows, expected_labels, expected_probs, classes):
    assert len(rows) == len(expected_labels)
    assert [row["class"] for row in rows] == [str(label) for label in expected_labels]
    got = np.array([[row["probabilities"][c] for c in classes] for row in rows])
    np.testing.assert_allclose(got, expected_probs, atol=1e-5, rtol=0)
