"""mlflow-server on PostgreSQL when the database fails: a server that is down when the
app starts or goes down while it runs makes requests answer 503 TEMPORARILY_UNAVAILABLE
(which the MLflow client retries), never a hang or a crash, and the app recovers by
itself once the server is back; settings that cannot work (a wrong password, a host
that spin.toml does not allow, a URL that is not PostgreSQL's) are told in the log and
on mlflow-server's `/health`, which answers 503 with the reason.

mlflow-server runs alone (`--component-id mlflow-server`), as in its Kubernetes pods,
so that `/health` is its own. The PostgreSQL server is the test's own."""

import threading
import time

import pytest
import requests
from mlflow import MlflowClient

from conftest import PostgresServer

API = "/api/2.0/mlflow"
ALONE = ["--component-id", "mlflow-server"]


@pytest.fixture
def postgres():
    server = PostgresServer()
    yield server
    server.close()


def search(app):
    return requests.post(f"{app.url}{API}/experiments/search", json={"max_results": 10}, timeout=60)


def assert_unavailable(answer):
    assert answer.status_code == 503, answer.text
    assert answer.json()["error_code"] == "TEMPORARILY_UNAVAILABLE", answer.text


def test_a_database_down_at_start_is_503_until_it_is_back(postgres, start_app):
    env = postgres.app_env(postgres.create_database("down_at_start"))
    postgres.stop()
    app = start_app(ALONE, env)
    assert_unavailable(search(app))
    health = requests.get(f"{app.url}/health", timeout=60)
    assert health.status_code == 503
    assert "Connection refused" in health.text, health.text

    postgres.start()
    assert search(app).status_code == 200  # the same process, no restart
    health = requests.get(f"{app.url}/health", timeout=60)
    assert (health.status_code, health.text) == (200, "OK")
    assert "Connection refused" in app.logs()


def test_a_database_lost_mid_run_is_503_and_the_client_rides_it_out(postgres, start_app,
                                                                     monkeypatch):
    env = postgres.app_env(postgres.create_database("lost_mid_run"))
    app = start_app(ALONE, env)
    client = MlflowClient(app.url)
    run_id = client.create_run("0").info.run_id
    client.log_metric(run_id, "loss", 1.0, step=0)

    postgres.stop()
    assert_unavailable(search(app))
    assert_unavailable(requests.post(f"{app.url}{API}/runs/log-metric", timeout=60, json={
        "run_id": run_id, "key": "loss", "value": 2.0, "timestamp": 1, "step": 1}))
    assert requests.get(f"{app.url}/health", timeout=60).status_code == 503

    # The official client retries 503: a write made while the server is down lands
    # once it is back, without the app being restarted.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "10")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0")
    restarter = threading.Timer(3.0, postgres.start)
    restarter.start()
    try:
        client.log_metric(run_id, "loss", 3.0, step=2)
    finally:
        restarter.join()
    history = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (2, 3.0)]
    assert requests.get(f"{app.url}/health", timeout=60).text == "OK"


@pytest.mark.parametrize("case", ["wrong password", "host not allowed", "not a postgres url"])
def test_settings_that_cannot_work_are_told_on_health_and_in_the_log(postgres, start_app, case):
    url = postgres.create_database("settings")
    env = postgres.app_env(url)
    if case == "wrong password":
        env["SPIN_VARIABLE_DATABASE_URL"] = url.replace(":spinflow-test-pw@", ":wrong@")
        reason, api_status = 'password authentication failed for user "postgres"', 503
    elif case == "host not allowed":
        env["SPIN_VARIABLE_DATABASE_HOST"] = "db.example:5432"
        reason, api_status = f"postgres://{postgres.host} is not permitted", 503
    else:
        env["SPIN_VARIABLE_DATABASE_URL"] = url.replace("postgres://", "mysql://")
        reason, api_status = "neither empty (Spin SQLite) nor a postgres:// URL", 500
    app = start_app(ALONE, env)

    health = requests.get(f"{app.url}/health", timeout=60)
    assert health.status_code == 503
    assert reason in health.text, health.text
    answer = search(app)
    assert answer.status_code == api_status, answer.text
    # The client gets MLflow's error, never the database's own text or the URL.
    assert set(answer.json()) == {"error_code", "message"}
    assert "spinflow-test-pw" not in answer.text and "wrong" not in answer.text
    deadline = time.monotonic() + 10
    while reason not in app.logs():
        assert time.monotonic() < deadline, app.logs()
        time.sleep(0.1)
    assert "spinflow-test-pw" not in app.logs()
