"""mlflow-server with its artifacts in S3 (`artifacts_destination = s3://...`), against a
real S3 server: `target/release/test-s3` (s3s-fs: the S3 API over a directory, SigV4
checked), started by these tests on a free loopback port.

The official client logs, lists and downloads files, directories and a model through the
unchanged artifact proxy; the objects are looked up in the server's directory under the
keys MLflow's own server gives them. A 100 MiB artifact goes up and down while the host's
peak RSS stays far below the file's size; S3 going down answers 503 (and the service
recovers when S3 returns); a missing bucket is a 500 that names it."""

import hashlib
import os
import subprocess
import uuid
from pathlib import Path

import mlflow
import numpy as np
import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression

from conftest import REPO, SpinflowApp
from tracking_helpers import read_tree, write_tree

TEST_S3 = REPO / "target" / "release" / "test-s3"
ACCESS_KEY = "spinflow-test-key"
SECRET_KEY = "spinflow-test-secret"
BUCKET = "artifacts"
PREFIX = "mlruns"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"


class S3Server:
    """One `test-s3` process; `stop` and `start` keep its port and its objects."""

    def __init__(self, root, port=0):
        self.root = Path(root)
        self.port = port
        self.proc = None
        self.url = None

    def start(self):
        self.proc = subprocess.Popen(
            [str(TEST_S3), "--root", str(self.root), "--bucket", BUCKET,
             "--port", str(self.port), "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline().strip()
        assert line.startswith("http://127.0.0.1:"), f"test-s3 printed {line!r}"
        self.url = line
        self.port = int(line.rsplit(":", 1)[1])
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def object_path(self, key):
        return self.root / BUCKET / key


def s3_env(server, bucket=BUCKET):
    return {
        "SPIN_VARIABLE_ARTIFACTS_DESTINATION": f"s3://{bucket}/{PREFIX}",
        "SPIN_VARIABLE_S3_ENDPOINT_URL": server.url,
        "SPIN_VARIABLE_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "SPIN_VARIABLE_S3_SECRET_ACCESS_KEY": SECRET_KEY,
    }


@pytest.fixture
def s3(tmp_path):
    server = S3Server(tmp_path / "s3").start()
    yield server
    server.stop()


@pytest.fixture
def s3_app(s3, tmp_path, monkeypatch):
    """`spinflow up` with its artifacts in the test's bucket, the client pointed at it."""
    app = SpinflowApp(tmp_path / "state", env=s3_env(s3)).start()
    # Fail fast instead of retrying for minutes if the server misbehaves.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "120")
    mlflow.set_tracking_uri(app.url)
    mlflow.set_experiment(f"s3-{uuid.uuid4().hex[:12]}")
    yield app
    while mlflow.active_run():
        mlflow.end_run()
    app.stop()


def run_key(run, rel=""):
    """The object key of a run's artifact, as MLflow's server names it."""
    exp, rid = run.info.experiment_id, run.info.run_id
    return f"{PREFIX}/{exp}/{rid}/artifacts" + (f"/{rel}" if rel else "")


def test_files_and_directories_round_trip_through_the_bucket(s3, s3_app, tmp_path):
    src = tmp_path / "src"
    files = {
        "a.txt": b"alpha\n",
        "nested/b c+d.bin": bytes(range(256)) * 40,
        "nested/deeper/c.csv": b"x,y\n1,2\n",
        "nested/empty": b"",
    }
    write_tree(src, files)
    single = tmp_path / "single.json"
    single.write_bytes(b'{"k": 1}')

    with mlflow.start_run() as run:
        mlflow.log_artifact(str(single))
        mlflow.log_artifacts(str(src), artifact_path="tree")
        mlflow.log_text("hello text", "notes/hello.txt")

    # The bytes are objects of the bucket, under MLflow's keys.
    for rel, data in files.items():
        assert s3.object_path(run_key(run, f"tree/{rel}")).read_bytes() == data
    assert s3.object_path(run_key(run, "single.json")).read_bytes() == b'{"k": 1}'

    client = MlflowClient(s3_app.url)
    root = {f.path: f for f in client.list_artifacts(run.info.run_id)}
    assert set(root) == {"single.json", "tree", "notes"}
    assert root["tree"].is_dir and root["single.json"].file_size == 8
    sub = {os.path.basename(f.path): f for f in
           mlflow.artifacts.list_artifacts(artifact_uri=f"{run.info.artifact_uri}/tree/nested")}
    assert set(sub) == {"b c+d.bin", "deeper", "empty"}
    assert sub["deeper"].is_dir and sub["b c+d.bin"].file_size == 10240
    assert sub["empty"].file_size is None

    local = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="tree",
                                                dst_path=str(tmp_path / "down"))
    assert read_tree(local) == files
    one = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="notes/hello.txt",
                                              dst_path=str(tmp_path / "one"))
    assert Path(one).read_text() == "hello text"

    # The web UI's listing and file preview read the bucket too.
    listing = requests.get(f"{s3_app.url}/api/2.0/mlflow/artifacts/list",
                           params={"run_id": run.info.run_id, "path": "tree/nested"}, timeout=30).json()
    assert {f["path"] for f in listing["files"]} == {"tree/nested/b c+d.bin", "tree/nested/deeper", "tree/nested/empty"}
    preview = requests.get(f"{s3_app.url}/get-artifact",
                           params={"run_uuid": run.info.run_id, "path": "notes/hello.txt"}, timeout=30)
    assert preview.status_code == 200 and preview.content == b"hello text"
    assert preview.headers["content-type"] == "text/plain"

    # An object written beside ours by another writer (MLflow itself, a copy job) is
    # listed too: the bucket is the listing.
    other = s3.object_path(run_key(run, "tree/written-elsewhere.txt"))
    other.write_bytes(b"from elsewhere")
    assert "tree/written-elsewhere.txt" in {f.path for f in client.list_artifacts(run.info.run_id, "tree")}

    # Deleting a directory through the proxy removes its objects.
    base = f"{s3_app.url}{PROXY}/{run_key(run).removeprefix(PREFIX + '/')}"
    assert requests.delete(f"{base}/tree/nested", timeout=30).status_code == 200
    assert not s3.object_path(run_key(run, "tree/nested/deeper/c.csv")).exists()
    assert s3.object_path(run_key(run, "tree/a.txt")).exists()
    missing = requests.get(f"{base}/tree/nested/empty", timeout=30)
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_a_model_is_logged_to_the_bucket_and_loads_back(s3, s3_app):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(60, 4))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    model = LogisticRegression().fit(x, y)
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, name="model", input_example=x[:2])
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    assert (loaded.predict(x) == model.predict(x)).all()
    # The model's files are objects of the bucket, where MLflow's server puts a logged
    # model: <experiment>/models/<model id>/artifacts.
    root = s3.object_path(f"{PREFIX}/{run.info.experiment_id}/models/{info.model_id}/artifacts")
    stored = {p.name for p in root.iterdir()}
    assert "MLmodel" in stored and stored & {"model.pkl", "model.skops"}, stored


def peak_rss_bytes(app):
    """The host process's peak resident memory (VmHWM)."""
    for line in Path(f"/proc/{app.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_a_100_mib_artifact_streams_with_bounded_memory(s3, s3_app, tmp_path):
    size = 100 * 1024 * 1024
    big = tmp_path / "big.bin"
    digest = hashlib.sha256()
    block = os.urandom(1 << 20)
    with open(big, "wb") as fh:
        for i in range(size // len(block)):
            chunk = bytes([i % 256]) + block[1:]
            fh.write(chunk)
            digest.update(chunk)
    # A small round trip first, so that the peak measured below is the large file's.
    with mlflow.start_run() as warm:
        mlflow.log_text("warm", "warm.txt")
    mlflow.artifacts.download_artifacts(run_id=warm.info.run_id, artifact_path="warm.txt",
                                        dst_path=str(tmp_path / "warm"))
    before = peak_rss_bytes(s3_app)

    with mlflow.start_run() as run:
        mlflow.log_artifact(str(big), artifact_path="large")
    stored = s3.object_path(run_key(run, "large/big.bin"))
    assert stored.stat().st_size == size
    out = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="large/big.bin",
                                              dst_path=str(tmp_path / "dl"))
    got = hashlib.sha256()
    with open(out, "rb") as fh:
        while chunk := fh.read(1 << 20):
            got.update(chunk)
    assert got.hexdigest() == digest.hexdigest()

    # One upload part (8 MiB) and the host's buffers, never the file.
    grown = peak_rss_bytes(s3_app) - before
    assert grown < 40 << 20, f"peak RSS grew by {grown >> 20} MiB for a 100 MiB file"


def test_s3_down_answers_503_and_the_service_recovers(s3, s3_app, tmp_path):
    with mlflow.start_run() as run:
        mlflow.log_text("kept", "kept.txt")
    base = f"{s3_app.url}{PROXY}/{run_key(run).removeprefix(PREFIX + '/')}"
    s3.stop()
    for method, url, data in [("GET", f"{base}/kept.txt", None),
                              ("PUT", f"{base}/new.txt", b"new"),
                              ("GET", f"{s3_app.url}{PROXY}?path={run_key(run).removeprefix(PREFIX + '/')}", None)]:
        r = requests.request(method, url, data=data, timeout=60)
        assert r.status_code == 503, (method, url, r.text)
        assert r.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
    # Tracking does not depend on the bucket.
    assert MlflowClient(s3_app.url).get_run(run.info.run_id).info.run_id == run.info.run_id

    s3.start()  # same port, same objects
    assert requests.get(f"{base}/kept.txt", timeout=30).content == b"kept"
    mlflow.log_text("after", "after.txt", run_id=run.info.run_id)
    assert s3.object_path(run_key(run, "after.txt")).read_bytes() == b"after"


def test_a_missing_bucket_is_a_clear_error(s3, tmp_path, monkeypatch):
    app = SpinflowApp(tmp_path / "state", env=s3_env(s3, bucket="no-such-bucket")).start()
    try:
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        client = MlflowClient(app.url)
        exp = client.create_experiment("missing-bucket")
        run = client.create_run(exp)
        r = requests.get(f"{app.url}/api/2.0/mlflow/artifacts/list",
                         params={"run_id": run.info.run_id}, timeout=30)
        assert r.status_code == 500
        body = r.json()
        assert body["error_code"] == "INTERNAL_ERROR"
        assert "NoSuchBucket" in body["message"] and "'no-such-bucket'" in body["message"]
        # The client gives up on the 500 at once (no retries set above).
        with pytest.raises(MlflowException, match="500"):
            client.list_artifacts(run.info.run_id)
    finally:
        app.stop()


def test_a_misconfigured_destination_fails_only_artifact_requests(tmp_path):
    app = SpinflowApp(tmp_path / "state", env={"SPIN_VARIABLE_ARTIFACTS_DESTINATION": "gs://elsewhere"}).start()
    try:
        r = requests.put(f"{app.url}{PROXY}/0/r/artifacts/a.txt", data=b"a", timeout=30)
        assert r.status_code == 500
        assert "artifacts_destination 'gs://elsewhere'" in r.json()["message"]
        created = requests.post(f"{app.url}/api/2.0/mlflow/experiments/create", json={"name": "fine"}, timeout=30)
        assert created.status_code == 200
    finally:
        app.stop()
