"""Helpers shared by the tracking suites (test_tracking*.py): point the official MLflow
client at the session's `spinflow up` and give each test its own experiment."""

import os
import uuid
from pathlib import Path

import mlflow
import pytest
import requests
from mlflow import MlflowClient

MLFLOW_MAJOR = int(mlflow.__version__.split(".")[0])


@pytest.fixture
def tracking_uri(spinflow_app, monkeypatch):
    # Fail fast instead of retrying for minutes if the server misbehaves.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    mlflow.set_tracking_uri(spinflow_app.url)
    yield spinflow_app.url
    while mlflow.active_run():
        mlflow.end_run()


@pytest.fixture
def client(tracking_uri):
    return MlflowClient(tracking_uri)


@pytest.fixture
def experiment_id(tracking_uri):
    """A fresh experiment, set as the active one."""
    exp = mlflow.set_experiment(f"exp-{uuid.uuid4().hex[:12]}")
    return exp.experiment_id


def rest(base, method, endpoint, **kwargs):
    """A raw REST call (for limits the client would split or check on its own)."""
    return requests.request(method, f"{base}/api/2.0/mlflow/{endpoint}", timeout=60, **kwargs)


def write_tree(root, files):
    """Writes `files` ({relative path: bytes}) below `root`, creating directories."""
    for rel, data in files.items():
        path = Path(root) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def read_tree(root):
    """Every file below `root` as {relative path: bytes}: what a download brought back."""
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            full = os.path.join(dirpath, name)
            out[os.path.relpath(full, root)] = Path(full).read_bytes()
    return out
