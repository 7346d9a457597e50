"""Two `spinflow up` replicas of mlflow-server on one PostgreSQL database, as several pods
behind one Kubernetes Service, driven with the official MLflow client: requests that
alternate between them see one tracking server and one registry; concurrent writers on
both never duplicate a model version number and lose no logged point; a replica killed
with SIGKILL in the middle of writes loses nothing it acknowledged.

The PostgreSQL server is the test's own (`target/release/test-postgres`)."""

import threading
import time
import uuid

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from conftest import PostgresServer, SpinflowApp
from round_robin import RoundRobinProxy


@pytest.fixture(scope="module")
def postgres():
    server = PostgresServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def database(postgres):
    """The variables that put an app on the module's database."""
    return postgres.app_env(postgres.create_database("replicas"))


@pytest.fixture(scope="module")
def replicas(database, tmp_path_factory):
    root = tmp_path_factory.mktemp("replicas")
    apps = [SpinflowApp(root / f"r{i}" / ".spin", ["--component-id", "mlflow-server"], database)
            for i in range(2)]
    for app in apps:
        app.start()
    yield apps
    for app in apps:
        app.stop()


@pytest.fixture
def no_retries(monkeypatch):
    """A failed request fails the test instead of being retried by the client."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")


def test_tracking_and_registry_through_alternating_replicas(replicas, no_retries, tmp_path):
    with RoundRobinProxy([app.url for app in replicas]) as proxy:
        mlflow.set_tracking_uri(proxy.url)
        client = MlflowClient(proxy.url)
        experiment = mlflow.set_experiment(f"replicas-{uuid.uuid4().hex[:8]}").experiment_id
        notes = tmp_path / "notes.txt"
        notes.write_text("written through one replica, read through the other")
        with mlflow.start_run() as run:
            mlflow.log_param("alpha", 0.5)
            for step in range(5):
                mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            mlflow.log_metrics({"acc": 0.9, "f1": 0.8})
            mlflow.set_tags({"team": "a", "stage": "dev"})
            mlflow.log_artifact(str(notes), "docs")
        run_id = run.info.run_id

        got = client.get_run(run_id)
        assert got.info.status == "FINISHED"
        assert got.data.params == {"alpha": "0.5"}
        assert got.data.metrics == {"loss": 0.2, "acc": 0.9, "f1": 0.8}
        assert {"team": "a", "stage": "dev"}.items() <= got.data.tags.items()
        assert [m.step for m in client.get_metric_history(run_id, "loss")] == [0, 1, 2, 3, 4]
        assert [f.path for f in client.list_artifacts(run_id, "docs")] == ["docs/notes.txt"]
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="docs/notes.txt",
                                                    dst_path=str(tmp_path / "down"))
        assert open(local).read() == notes.read_text()
        found = client.search_runs([experiment], "metrics.acc > 0.5 and params.alpha = '0.5'")
        assert [r.info.run_id for r in found] == [run_id]

        name = f"model-{uuid.uuid4().hex[:8]}"
        client.create_registered_model(name)
        first = client.create_model_version(name, f"runs:/{run_id}/docs", run_id=run_id)
        second = client.create_model_version(name, f"runs:/{run_id}/docs", run_id=run_id)
        assert (first.version, second.version) == ("1", "2")
        client.set_registered_model_alias(name, "champion", "2")
        assert client.get_model_version_by_alias(name, "champion").version == "2"
        client.delete_model_version(name, "1")
        versions = client.search_model_versions(f"name = '{name}'")
        assert [v.version for v in versions] == ["2"]
        # Every call above went through the proxy, in turn to each replica.
        assert all(count > 5 for count in proxy.answered.values()), proxy.answered


def test_concurrent_model_versions_on_both_replicas_get_distinct_numbers(replicas, no_retries):
    name = f"model-{uuid.uuid4().hex[:8]}"
    MlflowClient(replicas[0].url).create_registered_model(name)
    writers, each = 8, 6
    numbers, errors = [], []

    def writer(i):
        client = MlflowClient(replicas[i % 2].url)
        try:
            for _ in range(each):
                numbers.append(int(client.create_model_version(name, "s3://bucket/model").version))
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(e))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(numbers) == list(range(1, writers * each + 1))
    for app in replicas:
        listed = MlflowClient(app.url).search_model_versions(f"name = '{name}'", max_results=1000)
        assert sorted(int(v.version) for v in listed) == list(range(1, writers * each + 1))


def test_concurrent_log_batches_on_both_replicas_lose_nothing(replicas, no_retries):
    """Writers on both replicas log batches of the same keys into one run, half of them
    listing the keys in the opposite order: every point lands, and no request fails (the
    rows are locked in one order, so the batches queue rather than deadlock)."""
    run_id = MlflowClient(replicas[0].url).create_run("0").info.run_id
    writers, batches, steps = 8, 10, 5
    keys = [f"k{i}" for i in range(10)]
    errors = []

    def writer(w):
        client = MlflowClient(replicas[w % 2].url)
        order = keys if w % 2 == 0 else keys[::-1]
        try:
            for b in range(batches):
                first = (w * batches + b) * steps
                client.log_batch(
                    run_id,
                    metrics=[Metric(k, float(s), 1_700_000_000_000 + s, s)
                             for k in order for s in range(first, first + steps)],
                    params=[Param(f"w{w}b{b}", str(first))],
                    tags=[RunTag(f"writer{w}", str(b))],
                )
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(e))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    total = writers * batches * steps
    for app in replicas:
        client = MlflowClient(app.url)
        for key in (keys[0], keys[-1]):
            history = client.get_metric_history(run_id, key)
            assert sorted(m.step for m in history) == list(range(total)), key
        run = client.get_run(run_id)
        assert run.data.metrics == {k: float(total - 1) for k in keys}  # the greatest step wins
        assert len(run.data.params) == writers * batches
        assert all(run.data.tags[f"writer{w}"] == str(batches - 1) for w in range(writers))


def test_a_replica_killed_mid_write_loses_nothing_it_acknowledged(replicas, database, no_retries,
                                                                  tmp_path):
    """Writers log batches through a third replica, which is killed with SIGKILL while
    they are writing; the surviving replicas then show every acknowledged batch whole,
    and any batch in flight either whole or not at all."""
    victim = SpinflowApp(tmp_path / ".spin", ["--component-id", "mlflow-server"], database).start()
    survivor = MlflowClient(replicas[1].url)
    writers, points = 4, 100
    runs = [survivor.create_run("0").info.run_id for _ in range(writers)]
    acked = {run: [] for run in runs}
    sent = {run: [] for run in runs}
    stop = threading.Event()

    def writer(run):
        client = MlflowClient(victim.url)
        b = 0
        while not stop.is_set():
            sent[run].append(b)
            try:
                client.log_batch(
                    run,
                    metrics=[Metric(f"b{b}", float(s), 1_700_000_000_000, s) for s in range(points)],
                    params=[Param(f"p{b}", str(b))],
                )
            except Exception:  # noqa: BLE001 - the replica is gone
                return
            acked[run].append(b)
            b += 1

    threads = [threading.Thread(target=writer, args=(run,)) for run in runs]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while sum(map(len, acked.values())) < 20 * writers:
            assert time.monotonic() < deadline, acked
            time.sleep(0.02)
        victim.proc.kill()  # SIGKILL, with every writer's next batch in flight
        victim.proc.wait()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
        victim.stop()

    for run in runs:
        assert acked[run], "no batch was acknowledged before the kill"
        data = survivor.get_run(run).data
        landed = sorted(int(k[1:]) for k in data.metrics)
        assert set(acked[run]) <= set(landed), (acked[run], landed)
        # Beyond the acknowledged ones, at most the batch that was in flight.
        assert set(landed) - set(acked[run]) <= {sent[run][-1]}
        for b in landed:
            steps = sorted(m.step for m in survivor.get_metric_history(run, f"b{b}"))
            assert steps == list(range(points)), (run, b)
        assert set(data.params) == {f"p{b}" for b in landed}
