"""The model registry and MLflow 3 logged models of our mlflow-server, driven by the
official mlflow 3.17.2 client: register_model from runs:/ and models:/m-... URIs,
versions, stages, aliases, tags, search, rename and delete, and loading a registered
version back with pyfunc."""

import uuid

import numpy as np
import pytest

from tracking_helpers import client, experiment_id, tracking_uri  # noqa: F401

mlflow = pytest.importorskip("mlflow")
ort = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

pytestmark = pytest.mark.skipif(int(mlflow.__version__.split(".")[0]) < 3, reason="MLflow 3 client")


@pytest.fixture(scope="module")
def iris_onnx():
    """A LogisticRegression as ONNX (probabilities as a plain tensor), and the Iris rows."""
    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    model = LogisticRegression(max_iter=500).fit(x, y)
    onx = skl2onnx.to_onnx(model, x[:1], options={id(model): {"zipmap": False}})
    return onx, x


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def log_onnx(iris_onnx, name="model"):
    """Logs the ONNX model in a new run; returns (run_id, ModelInfo)."""
    onx, x = iris_onnx
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {session.get_inputs()[0].name: x[:5]})
    signature = infer_signature(x[:5], {o.name: v for o, v in zip(session.get_outputs(), outputs)})
    with mlflow.start_run() as run:
        mlflow.log_param("max_iter", 500)
        mlflow.log_metric("accuracy", 0.97)
        info = mlflow.onnx.log_model(onx, name=name, signature=signature)
    return run.info.run_id, info


def test_register_from_runs_and_models_uris_and_load_back(client, experiment_id, iris_onnx, tmp_path):
    run_id, info = log_onnx(iris_onnx)
    assert info.model_uri.startswith("models:/m-")
    model_id = info.model_id

    # The logged model: READY, linked to its run, carrying the run's params and metrics.
    logged = client.get_logged_model(model_id)
    assert logged.source_run_id == run_id and logged.name == "model"
    assert logged.params["max_iter"] == "500"
    assert [m.key for m in logged.metrics] == ["accuracy"]
    assert client.get_run(run_id).outputs.model_outputs[0].model_id == model_id

    name = unique("reg")
    v1 = mlflow.register_model(f"runs:/{run_id}/model", name)
    v2 = mlflow.register_model(info.model_uri, name)
    assert (v1.version, v2.version) == ("1", "2")
    for v in (v1, v2):
        assert v.status == "READY"
        assert v.source == f"models:/{model_id}"
        assert v.run_id == run_id
    uri = client.get_model_version_download_uri(name, "1")
    assert uri == f"mlflow-artifacts:/{experiment_id}/models/{model_id}/artifacts"
    registrations = client.get_logged_model(model_id).tags["mlflow.modelVersions"]
    assert '"version": 1' in registrations and '"version": 2' in registrations

    # The registered version loads and predicts like onnxruntime on the raw model.
    onx, x = iris_onnx
    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}/1")
    labels = np.asarray(pyfunc.predict(x)["label"]).reshape(-1)
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: x})[0].reshape(-1)
    assert labels.shape == (150,) and np.array_equal(labels, expected)

    # runs:/ on a 3.x logged model resolves the model through logged-models/search.
    local = mlflow.artifacts.download_artifacts(f"runs:/{run_id}/model", dst_path=str(tmp_path))
    assert (tmp_path / "model" / "MLmodel").exists() or local


def test_versions_stages_aliases_tags(client, experiment_id, iris_onnx):
    _, info = log_onnx(iris_onnx)
    name = unique("stages")
    client.create_registered_model(name, tags={"team": "ml"}, description="flowers")
    with pytest.raises(MlflowException) as dup:
        client.create_registered_model(name)
    assert dup.value.error_code == "RESOURCE_ALREADY_EXISTS"
    for _ in range(3):
        client.create_model_version(name, info.model_uri, model_id=info.model_id)

    client.transition_model_version_stage(name, "1", "Staging")
    client.transition_model_version_stage(name, "2", "staging", archive_existing_versions=True)
    assert client.get_model_version(name, "1").current_stage == "Archived"
    assert [v.version for v in client.get_latest_versions(name, ["Staging"])] == ["2"]
    assert {v.current_stage for v in client.get_registered_model(name).latest_versions} == {
        "Archived", "Staging", "None"}
    with pytest.raises(MlflowException) as bad_stage:
        client.transition_model_version_stage(name, "1", "Prod")
    assert bad_stage.value.error_code == "INVALID_PARAMETER_VALUE"

    client.set_registered_model_alias(name, "champion", "1")
    client.set_registered_model_alias(name, "champion", "3")  # moves
    client.set_registered_model_alias(name, "challenger", "2")
    assert client.get_model_version_by_alias(name, "champion").version == "3"
    assert client.get_registered_model(name).aliases == {"champion": "3", "challenger": "2"}
    assert client.get_model_version(name, "3").aliases == ["champion"]
    with pytest.raises(MlflowException) as reserved:
        client.set_registered_model_alias(name, "latest", "1")
    assert reserved.value.error_code == "INVALID_PARAMETER_VALUE"
    client.delete_registered_model_alias(name, "challenger")
    with pytest.raises(MlflowException) as missing:
        client.get_model_version_by_alias(name, "challenger")
    assert missing.value.error_code == "INVALID_PARAMETER_VALUE"  # 400, as MLflow

    client.set_model_version_tag(name, "1", "validated", "yes")
    client.set_registered_model_tag(name, "owner", "iris-team")
    client.delete_registered_model_tag(name, "team")
    client.update_model_version(name, "1", description="first")
    client.update_registered_model(name, description="iris flowers")
    version = client.get_model_version(name, "1")
    assert (version.tags, version.description) == ({"validated": "yes"}, "first")
    model = client.get_registered_model(name)
    assert (model.tags, model.description) == ({"owner": "iris-team"}, "iris flowers")
    client.delete_model_version_tag(name, "1", "validated")
    assert client.get_model_version(name, "1").tags == {}

    # Deleting a version drops its aliases; its number is not reused.
    client.delete_model_version(name, "3")
    with pytest.raises(MlflowException) as gone:
        client.get_model_version_by_alias(name, "champion")
    assert gone.value.error_code == "INVALID_PARAMETER_VALUE"
    assert client.create_model_version(name, info.model_uri, model_id=info.model_id).version == "4"


def test_search_rename_and_delete(client, experiment_id, iris_onnx):
    _, info = log_onnx(iris_onnx)
    prefix = unique("search")
    for suffix in ["a", "b", "c"]:
        client.create_registered_model(f"{prefix}-{suffix}", tags={"kind": suffix})
        client.create_model_version(f"{prefix}-{suffix}", info.model_uri, model_id=info.model_id)
    client.create_model_version(f"{prefix}-a", info.model_uri, model_id=info.model_id)

    found = client.search_registered_models(filter_string=f"name LIKE '{prefix}-%'")
    assert [m.name for m in found] == [f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"]
    page = client.search_registered_models(f"name LIKE '{prefix}-%'", max_results=2, order_by=["name DESC"])
    assert [m.name for m in page] == [f"{prefix}-c", f"{prefix}-b"] and page.token
    rest = client.search_registered_models(f"name LIKE '{prefix}-%'", max_results=2,
                                           order_by=["name DESC"], page_token=page.token)
    assert [m.name for m in rest] == [f"{prefix}-a"] and not rest.token
    assert [m.name for m in client.search_registered_models(f"tags.kind = 'b' AND name LIKE '{prefix}%'")] == [
        f"{prefix}-b"]

    versions = client.search_model_versions(f"name = '{prefix}-a'", order_by=["version_number ASC"])
    assert [v.version for v in versions] == ["1", "2"]
    assert [v.version for v in client.search_model_versions(f"name = '{prefix}-a' AND version_number > 1")] == ["2"]
    with pytest.raises(MlflowException) as bad:
        client.search_model_versions(f"name = '{prefix}-a' OR name = 'x'")
    assert bad.value.error_code == "INVALID_PARAMETER_VALUE"

    client.rename_registered_model(f"{prefix}-a", f"{prefix}-z")
    assert client.get_registered_model(f"{prefix}-z").tags == {"kind": "a"}
    assert client.get_model_version(f"{prefix}-z", "2").name == f"{prefix}-z"
    client.delete_registered_model(f"{prefix}-z")
    with pytest.raises(MlflowException) as deleted:
        client.get_registered_model(f"{prefix}-z")
    assert deleted.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_logged_model_search_and_finalize(client, experiment_id, iris_onnx):
    run_id, info = log_onnx(iris_onnx, name="searched")
    found = mlflow.search_logged_models(experiment_ids=[experiment_id], filter_string="name = 'searched'",
                                        output_format="list")
    assert [m.model_id for m in found] == [info.model_id]
    assert found[0].status.to_proto() == mlflow.entities.LoggedModelStatus.READY.to_proto()
    by_metric = mlflow.search_logged_models(experiment_ids=[experiment_id],
                                            filter_string="metrics.accuracy > 0.9", output_format="list")
    assert info.model_id in [m.model_id for m in by_metric]
    client.delete_logged_model(info.model_id)
    with pytest.raises(MlflowException) as gone:
        client.get_logged_model(info.model_id)
    assert gone.value.error_code == "RESOURCE_DOES_NOT_EXIST"
