"""The MLflow 2.9 client of the reference deployment against our registry: a model
directory logged as run artifacts, `register_model("runs:/<run>/model")`, aliases and the
download URI (`make py-test-mlflow29` runs this with mlflow-skinny 2.9.2; with the 3.x
client the same calls are covered by test_registry_client.py)."""

import uuid
from pathlib import Path

import mlflow
import pytest
from mlflow.exceptions import MlflowException

from tracking_helpers import MLFLOW_MAJOR, client, experiment_id, tracking_uri  # noqa: F401

pytestmark = pytest.mark.skipif(MLFLOW_MAJOR != 2, reason="the 2.x client's run-artifact model path")


def test_register_a_run_artifact_model_with_the_2_9_client(client, experiment_id, tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "MLmodel").write_text("artifact_path: model\nflavors: {}\n")
    (model_dir / "model.onnx").write_bytes(b"\x08\x07onnx-bytes")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(model_dir), "model")
    run_id = run.info.run_id

    name = f"iris29-{uuid.uuid4().hex[:8]}"
    version = mlflow.register_model(f"runs:/{run_id}/model", name)
    assert version.version == "1" and version.status == "READY"
    assert version.run_id == run_id
    expected = f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts/model"
    assert client.get_model_version_download_uri(name, "1") == expected

    client.set_registered_model_alias(name, "champion", "1")
    assert client.get_model_version_by_alias(name, "champion").version == "1"
    with pytest.raises(MlflowException) as missing:
        client.get_model_version_by_alias(name, "nope")
    assert missing.value.error_code == "INVALID_PARAMETER_VALUE"
    client.transition_model_version_stage(name, "1", "Production")
    assert [v.version for v in client.get_latest_versions(name, ["Production"])] == ["1"]

    local = mlflow.artifacts.download_artifacts(f"models:/{name}@champion", dst_path=str(tmp_path / "dl"))
    # (the client adds its own `registered_model_meta` file locally)
    assert {"MLmodel", "model.onnx"} <= {p.name for p in Path(local).iterdir()}
