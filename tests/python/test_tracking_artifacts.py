"""Run artifacts through the official client and the mlflow-artifacts proxy: upload,
list, download (files, directories, 100 MiB byte-exact), delete, path checks."""

import hashlib
import os

import mlflow
import pytest
import requests

from tracking_helpers import (  # noqa: F401
    MLFLOW_MAJOR,
    client,
    experiment_id,
    read_tree,
    tracking_uri,
    write_tree,
)

PROXY = "/api/2.0/mlflow-artifacts/artifacts"


def list_under(client, run, path):
    """Listing below a run's root. The 3.x client's `list_artifacts(run_id, path)` first asks
    logged-models/search (the model-lifecycle area); listing the artifact URI does not."""
    if MLFLOW_MAJOR < 3:
        return client.list_artifacts(run.info.run_id, path)
    return mlflow.artifacts.list_artifacts(artifact_uri=f"{run.info.artifact_uri}/{path}")


def test_log_list_and_download(client, experiment_id, tmp_path):
    src = tmp_path / "src"
    files = {
        "a.txt": b"alpha\n",
        "nested/b.bin": bytes(range(256)) * 40,
        "nested/deeper/c.csv": b"x,y\n1,2\n",
        "nested/empty": b"",
    }
    write_tree(src, files)
    single = tmp_path / "single.json"
    single.write_bytes(b'{"k": 1}')

    with mlflow.start_run() as run:
        mlflow.log_artifact(str(single))
        mlflow.log_artifact(str(single), artifact_path="copies")
        mlflow.log_artifacts(str(src), artifact_path="tree")
        mlflow.log_text("hello text", "notes/hello.txt")
        mlflow.log_dict({"a": [1, 2]}, "notes/config.json")
    rid = run.info.run_id

    root = {f.path: f for f in client.list_artifacts(rid)}
    assert set(root) == {"single.json", "copies", "tree", "notes"}
    assert root["copies"].is_dir and not root["single.json"].is_dir
    assert root["single.json"].file_size == 8

    # Listing below the root (the run's artifact URI, as the client resolves it).
    sub = list_under(client, run, "tree/nested")
    by_name = {os.path.basename(f.path): f for f in sub}
    assert set(by_name) == {"b.bin", "deeper", "empty"}
    assert by_name["deeper"].is_dir
    assert by_name["b.bin"].file_size == 10240 and by_name["empty"].file_size is None

    dest = tmp_path / "down"
    local = mlflow.artifacts.download_artifacts(run_id=rid, artifact_path="tree", dst_path=str(dest))
    assert read_tree(local) == files

    notes = mlflow.artifacts.download_artifacts(run_id=rid, artifact_path="notes", dst_path=str(tmp_path / "n"))
    assert open(os.path.join(notes, "hello.txt")).read() == "hello text"
    assert mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/notes/config.json") == {"a": [1, 2]}

    # The tracking-side listing (used by the UI) answers run-relative paths.
    listing = requests.get(
        f"{mlflow.get_tracking_uri()}/api/2.0/mlflow/artifacts/list",
        params={"run_id": rid, "path": "tree/nested"},
        timeout=30,
    ).json()
    assert listing["root_uri"] == run.info.artifact_uri
    assert {f["path"] for f in listing["files"]} == {"tree/nested/b.bin", "tree/nested/deeper", "tree/nested/empty"}


def test_proxy_delete_and_path_checks(client, experiment_id, tracking_uri):
    with mlflow.start_run() as run:
        mlflow.log_text("x", "gone/x.txt")
        mlflow.log_text("y", "kept.txt")
    base = f"{tracking_uri}{PROXY}/{experiment_id}/{run.info.run_id}/artifacts"
    assert requests.get(f"{base}/gone/x.txt", timeout=30).content == b"x"
    got = requests.get(f"{base}/kept.txt", timeout=30)
    assert got.headers["content-disposition"] == 'attachment; filename="kept.txt"'
    assert requests.delete(f"{base}/gone", timeout=30).status_code == 200
    assert requests.get(f"{base}/gone/x.txt", timeout=30).status_code == 404
    assert [f.path for f in client.list_artifacts(run.info.run_id)] == ["kept.txt"]

    # Listing a file answers {} (the client then treats the path as a file).
    listing = requests.get(f"{tracking_uri}{PROXY}", params={"path": f"{experiment_id}/{run.info.run_id}/artifacts/kept.txt"}, timeout=30)
    assert listing.json() == {}

    for bad in ["%2e%2e/%2e%2e/etc/passwd", "a/%2E%2E/%2E%2E/b", "C:%5Cwin", "a%5C..%5Cb"]:
        r = requests.put(f"{tracking_uri}{PROXY}/{bad}", data=b"evil", timeout=30)
        assert r.status_code == 400, bad
        assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    r = requests.get(f"{tracking_uri}{PROXY}", params={"path": "../../etc"}, timeout=30)
    assert r.status_code == 400


def test_100_mib_artifact_round_trip(client, experiment_id, tmp_path):
    size = 100 * 1024 * 1024
    big = tmp_path / "big.bin"
    digest = hashlib.sha256()
    block = os.urandom(1 << 20)
    with open(big, "wb") as fh:
        for i in range(size // len(block)):
            chunk = bytes([i % 256]) + block[1:]
            fh.write(chunk)
            digest.update(chunk)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(big), artifact_path="large")
    [info] = list_under(client, run, "large")
    assert info.file_size == size
    out = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="large/big.bin", dst_path=str(tmp_path / "dl"))
    got = hashlib.sha256()
    with open(out, "rb") as fh:
        while chunk := fh.read(1 << 20):
            got.update(chunk)
    assert os.path.getsize(out) == size
    assert got.hexdigest() == digest.hexdigest()
