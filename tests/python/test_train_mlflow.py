"""`spinflow train` against a stock `mlflow server` (the official 3.17.2 package).

The trainer only speaks the public REST API, so the real MLflow server is the judge: the
run, its params and metrics, the logged model, the registered version and its alias must
all be what the official client reads back, and `mlflow.pyfunc.load_model` must predict
with the model on the 150 Iris rows exactly as onnxruntime does on the raw ONNX file.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from conftest import SPINFLOW, free_port

mlflow = pytest.importorskip("mlflow")
ort = pytest.importorskip("onnxruntime")
datasets = pytest.importorskip("sklearn.datasets")

MLFLOW_BIN = Path(sys.executable).parent / "mlflow"


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real `mlflow server` with a SQLite store and proxied artifacts on a free port."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(root / "server.log", "wb")
    proc = subprocess.Popen(
        [
            str(MLFLOW_BIN), "server",
            "--host", "127.0.0.1", "--port", str(port),
            "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination", str(root / "artifacts"),
            "--serve-artifacts",
            "--workers", "1",
        ],
        stdout=log, stderr=subprocess.STDOUT, cwd=root,
    )
    deadline = time.monotonic() + 180
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError((root / "server.log").read_text(errors="replace"))
            try:
                if requests.get(url + "/health", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass  # not listening yet, or still busy starting
            if time.monotonic() > deadline:
                raise RuntimeError("mlflow server did not start:\n"
                                   + (root / "server.log").read_text(errors="replace"))
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(autouse=True)
def use_server(mlflow_server):
    """The official client's fluent API (load_model, download_artifacts) talks to it too."""
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(mlflow_server)
    yield
    mlflow.set_tracking_uri(previous)


def spinflow_train(tracking_uri, *args):
    """Runs `spinflow train --json` and returns its outcome."""
    done = subprocess.run(
        [str(SPINFLOW), "train", "--tracking-uri", tracking_uri, "--json", *args],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def iris_features():
    return datasets.load_iris().data.astype(np.float32)


def test_train_logs_registers_and_the_official_client_loads_it(mlflow_server, tmp_path):
    outcome, progress = spinflow_train(mlflow_server, "--run-name", "first")
    assert "[1/6]" in progress and "[6/6]" in progress, progress

    client = mlflow.MlflowClient(mlflow_server)
    run = client.get_run(outcome["run_id"])
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "first"
    assert client.get_experiment(run.info.experiment_id).name == "iris"
    assert run.data.params["epochs"] == "2000"
    for key in ["accuracy", "precision_setosa", "recall_versicolor", "f1_virginica"]:
        assert key in run.data.metrics, key
        assert 0.0 <= run.data.metrics[key] <= 1.0
    assert run.data.metrics["accuracy"] == pytest.approx(outcome["metrics"]["accuracy"])
    assert run.data.metrics["accuracy"] >= 0.9

    # An MLflow 3 logged model, linked to the run and finalized.
    model = client.get_logged_model(outcome["model_id"])
    assert model.status.to_proto() == mlflow.entities.LoggedModelStatus.READY.to_proto()
    assert model.source_run_id == outcome["run_id"]
    assert [o.model_id for o in run.outputs.model_outputs] == [outcome["model_id"]]
    assert model.params["learning_rate"] == "0.5"

    # Registered as version 1 with alias champion, sourced from the logged model.
    version = client.get_model_version_by_alias("iris", "champion")
    assert version.version == outcome["version"] == "1"
    assert version.source == f"models:/{outcome['model_id']}"
    assert version.run_id == outcome["run_id"]
    model = client.get_logged_model(outcome["model_id"])
    registrations = json.loads(model.tags["mlflow.modelVersions"])
    assert [(r["name"], str(r["version"])) for r in registrations] == [("iris", "1")]

    # The official client loads it by alias and predicts like the raw ONNX file.
    pyfunc = mlflow.pyfunc.load_model("models:/iris@champion")
    features = iris_features()
    predicted = pyfunc.predict(features)
    labels = np.asarray(predicted["label"]).reshape(-1)
    assert labels.shape == (150,)

    local = mlflow.artifacts.download_artifacts("models:/iris@champion", dst_path=str(tmp_path))
    files = sorted(os.listdir(local))
    assert {"MLmodel", "model.onnx", "requirements.txt", "conda.yaml", "python_env.yaml"} <= set(files)
    session = ort.InferenceSession(str(Path(local) / "model.onnx"), providers=["CPUExecutionProvider"])
    raw_labels, raw_probabilities = session.run(["label", "probabilities"], {"input": features})
    assert np.array_equal(labels, raw_labels.reshape(-1))
    np.testing.assert_allclose(np.asarray(predicted["probabilities"]), raw_probabilities, rtol=1e-6)
    truth = datasets.load_iris().target
    assert (labels == truth).mean() >= 0.9

    # The signature lets pyfunc accept a plain 4-column DataFrame too.
    import pandas as pd
    frame = pd.DataFrame(features, columns=["sl", "sw", "pl", "pw"])
    from_frame = pyfunc.predict(frame)
    assert np.array_equal(np.asarray(from_frame["label"]).reshape(-1), labels)


def test_retraining_adds_a_version_and_moves_the_alias(mlflow_server):
    first, _ = spinflow_train(mlflow_server, "--model-name", "iris-moves")
    second, _ = spinflow_train(mlflow_server, "--model-name", "iris-moves", "--seed", "7")
    assert (first["version"], second["version"]) == ("1", "2")
    client = mlflow.MlflowClient(mlflow_server)
    assert client.get_model_version_by_alias("iris-moves", "champion").version == "2"
    assert client.get_experiment_by_name("iris").experiment_id == second["experiment_id"]


def test_no_register_and_custom_alias(mlflow_server):
    outcome, progress = spinflow_train(
        mlflow_server, "--no-register", "--experiment", "iris-unregistered")
    assert "version" not in outcome and "[4/4]" in progress
    # The logged model is still loadable by its own URI.
    pyfunc = mlflow.pyfunc.load_model(outcome["model_uri"])
    assert np.asarray(pyfunc.predict(iris_features()[:3])["label"]).shape[0] == 3

    outcome, _ = spinflow_train(mlflow_server, "--model-name", "iris-alias", "--alias", "staging")
    client = mlflow.MlflowClient(mlflow_server)
    assert client.get_model_version_by_alias("iris-alias", "staging").version == outcome["version"]


def test_bad_input_fails_with_a_clear_message(mlflow_server):
    done = subprocess.run(
        [str(SPINFLOW), "train", "--tracking-uri", mlflow_server,
         "--model-name", "iris-bad-alias", "--alias", "latest"],
        capture_output=True, text=True, timeout=300,
    )
    # MLflow reserves the alias `latest`: refused before anything is logged or registered.
    assert done.returncode != 0
    assert "latest" in done.stderr and "reserved" in done.stderr
    client = mlflow.MlflowClient(mlflow_server)
    assert client.search_registered_models("name = 'iris-bad-alias'") == []
    done = subprocess.run(
        [str(SPINFLOW), "train", "--tracking-uri", "file:///tmp/mlruns"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode != 0 and "http" in done.stderr
