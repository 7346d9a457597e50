"""curl through the Ingress, on loopback, with the same parts as in the cluster.

Real nginx runs a configuration generated from the Ingress of the local overlay
(TLS for iris-api.example.com with a throwaway certificate, its rate limit,
CORS, body size and timeouts), in front of as many `spinflow up` iris-api
replicas as the Deployment asks for (nginx balances over them as the
ClusterIP Service would), each started with the pod's environment resolved
from the ConfigMap and Secret, and reaching one mlflow-server replica through
the tracking URI, where the cluster's Service name is replaced by its
loopback address. mlflow-server runs with the runtime config of its ConfigMap,
the mlruns volume mapped to a temporary directory.
"""

import base64
import json
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingress"))
import k8s_manifests as km  # noqa: E402
import nginx_conf  # noqa: E402
import nginx_runner  # noqa: E402

SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find(docs, kind, name):
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


@pytest.fixture(scope="module")
def local_docs():
    return km.render(km.K8S / "overlays" / "local")


@pytest.fixture(scope="module")
def ingress(local_docs):
    return find(local_docs, "Ingress", "iris-api-ingress")


def retained(env):
    """`--component-id` flags for a pod's SPIN_COMPONENTS_TO_RETAIN (comma-separated, as
    containerd-shim-spin reads it; the CLI takes one id per flag, as Spin's does)."""
    return [arg for cid in env["SPIN_COMPONENTS_TO_RETAIN"].split(",") for arg in ("--component-id", cid)]


def pod_env(docs, deployment: str) -> dict[str, str]:
    """The container's environment as the kubelet would set it."""
    c = find(docs, "Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]
    env = {}
    for e in c.get("env") or []:
        src = e.get("valueFrom")
        if src is None:
            env[e["name"]] = e["value"]
        elif "configMapKeyRef" in src:
            ref = src["configMapKeyRef"]
            env[e["name"]] = find(docs, "ConfigMap", ref["name"])["data"][ref["key"]]
        elif "secretKeyRef" in src:
            ref = src["secretKeyRef"]
            env[e["name"]] = base64.b64decode(find(docs, "Secret", ref["name"])["data"][ref["key"]]).decode()
    return env


def service_url(docs, name: str) -> str:
    svc = find(docs, "Service", name)
    return f"http://{name}:{svc['spec']['ports'][0]['port']}"


@dataclass
class Stack:
    host: str
    https_port: int
    http_port: int
    cert: Path
    nginx: nginx_runner.Nginx
    replicas: list
    mlflow: object
    api_key: str
    tmp: Path
    mlruns: Path

    def curl(self, path, *, method=None, data=None, headers=(), source="127.0.0.1", scheme="https"):
        """One curl request; returns (status, lower-cased headers, body)."""
        port = self.https_port if scheme == "https" else self.http_port
        body_file = self.tmp / "curl-body"
        head_file = self.tmp / "curl-headers"
        cmd = ["curl", "-sS", "--resolve", f"{self.host}:{port}:127.0.0.1", "--cacert", str(self.cert),
               "--interface", source, "-o", str(body_file), "-D", str(head_file), "-w", "%{http_code}"]
        if method:
            cmd += ["-X", method]
        for h in headers:
            cmd += ["-H", h]
        if data is not None:
            data_file = self.tmp / "curl-data"
            data_file.write_bytes(data if isinstance(data, bytes) else data.encode())
            cmd += ["--data-binary", f"@{data_file}"]
        cmd.append(f"{scheme}://{self.host}:{port}{path}")
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        head = {}
        for line in head_file.read_text().splitlines()[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                head[k.strip().lower()] = v.strip()
        return int(out.stdout), head, body_file.read_bytes()

    def curl_many(self, path, count, *, source, parallel, data=None, headers=()):
        """`count` requests in one curl run (`parallel` at a time); their status codes."""
        cmd = ["curl", "-sS", "--resolve", f"{self.host}:{self.https_port}:127.0.0.1", "--cacert", str(self.cert),
               "--interface", source, "-w", "%{http_code}\n"]
        if parallel > 1:
            cmd += ["--parallel", "--parallel-max", str(parallel)]
        for h in headers:
            cmd += ["-H", h]
        if data is not None:
            cmd += ["--data-binary", data]
        for _ in range(count):
            cmd += ["-o", "/dev/null", f"https://{self.host}:{self.https_port}{path}"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return [int(c) for c in out.stdout.split()]

    def predict(self, source="127.0.0.1", headers=()):
        return self.curl("/predict", data=json.dumps(SETOSA), source=source,
                         headers=("Content-Type: application/json", f"X-API-Key: {self.api_key}", *headers))

    def predict_many(self, count, *, source, parallel):
        return self.curl_many("/predict", count, source=source, parallel=parallel, data=json.dumps(SETOSA),
                              headers=("Content-Type: application/json", f"X-API-Key: {self.api_key}"))


@pytest.fixture(scope="module")
def compiled_components(tmp_path_factory):
    """Fills spinflow's compiled-code cache once, with time to spare.

    The shim compiles the image's .wasm when a pod starts; spinflow does it on
    first use and caches it. iris-api (tract inside) takes about a minute to
    compile on a busy 2-core machine, longer than start_app waits.
    """
    from conftest import SpinflowApp

    for component in ("iris-api", "mlflow-server"):
        app = SpinflowApp(tmp_path_factory.mktemp("compile") / ".spin", ["--component-id", component])
        app.start(timeout=600)
        app.stop()


@pytest.fixture
def make_stack(compiled_components, start_app, tmp_path, local_docs, ingress):
    """Starts the whole path: mlflow-server, the iris-api replicas, nginx."""
    proxies = []

    def _make(iris_overrides=None):
        stack = _start_stack(start_app, tmp_path, local_docs, ingress, iris_overrides or {})
        proxies.append(stack.nginx)
        return stack

    yield _make
    for nginx in proxies:
        nginx.stop()


@pytest.fixture
def stack(make_stack):
    return make_stack()


def _start_stack(start_app, tmp_path, local_docs, ingress, iris_overrides):
    # mlflow-server, as its Deployment runs it.
    ml_env = pod_env(local_docs, "mlflow-server")
    ml_env.pop("SPIN_HTTP_LISTEN_ADDR")  # the fixture gives each host its own loopback port
    rc_cm = find(local_docs, "ConfigMap", "mlflow-server-runtime-config")["data"]["runtime-config.toml"]
    mlruns = tmp_path / "mlruns"
    mlruns.mkdir()
    runtime_config = tmp_path / "runtime-config.toml"
    runtime_config.write_text(rc_cm.replace('"/mlruns/', f'"{mlruns}/'))
    mlflow = start_app([*retained(ml_env), "--runtime-config-file", str(runtime_config)], env=ml_env)

    # iris-api replicas, with the Service name of mlflow-server resolved to its loopback address.
    iris_env = pod_env(local_docs, "iris-api")
    iris_env.pop("SPIN_HTTP_LISTEN_ADDR")
    assert iris_env["SPIN_VARIABLE_MLFLOW_TRACKING_URI"] == service_url(local_docs, "mlflow-server-service")
    iris_env["SPIN_VARIABLE_MLFLOW_TRACKING_URI"] = mlflow.url
    iris_env.update(iris_overrides)
    iris_rc = tmp_path / "iris-api-runtime-config.toml"
    iris_rc.write_text(find(local_docs, "ConfigMap", "iris-api-runtime-config")["data"]["runtime-config.toml"])
    replicas_wanted = find(local_docs, "Deployment", "iris-api")["spec"]["replicas"]
    replicas = [start_app([*retained(iris_env), "--runtime-config-file", str(iris_rc)], env=iris_env)
                for _ in range(replicas_wanted)]

    # nginx, configured from the Ingress.
    host = ingress["spec"]["tls"][0]["hosts"][0]
    cert = nginx_runner.self_signed_certificate(tmp_path, host)
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    https_port, http_port = free_port(), free_port()
    conf = nginx_conf.render_nginx_conf(
        ingress,
        endpoints={(backend["name"], backend["port"]["number"]): [f"127.0.0.1:{r.port}" for r in replicas]},
        certificates={host: cert},
        https_listen=f"127.0.0.1:{https_port}",
        http_listen=f"127.0.0.1:{http_port}",
        prefix=tmp_path / "nginx",
    )
    nginx = nginx_runner.Nginx(tmp_path / "nginx", conf).start(("127.0.0.1", https_port))
    return Stack(host, https_port, http_port, cert[0], nginx, replicas, mlflow,
                 iris_env["SPIN_VARIABLE_API_KEYS"].split(",")[0], tmp_path, mlruns)


def upstream_attempts(stack, source, requests_sent):
    """For each request of one client address, the upstreams nginx tried, in order.

    nginx logs a request when it finalizes it, which can be just after the
    client has its answer (a refused body is drained first): wait for the lines.
    """
    deadline = time.monotonic() + 30
    while True:
        attempts = []
        for line in stack.nginx.access_log():
            if line.startswith(source + " "):
                tried = re.search(r'"([^"]*)"$', line).group(1)
                attempts.append([a.strip() for a in tried.split(",")])
        if len(attempts) >= requests_sent or time.monotonic() > deadline:
            return attempts
        time.sleep(0.05)


def upstreams_in_log(stack, source, requests_sent):
    return [a for tried in upstream_attempts(stack, source, requests_sent) for a in tried]


# ------------------------------------------------------------ through the Ingress


def test_curl_through_the_ingress_returns_a_prediction(stack):
    status, head, body = stack.predict()
    assert status == 200, body
    answer = json.loads(body)
    assert "setosa" in json.dumps(answer)
    # API keys are enforced behind the Ingress, as in the cluster.
    status, head, body = stack.curl("/predict", data=json.dumps(SETOSA), headers=("Content-Type: application/json",))
    assert status == 401
    # Plain HTTP is redirected to HTTPS (ssl-redirect).
    status, head, _ = stack.curl("/predict", scheme="http")
    assert status == 308 and head["location"] == f"https://{stack.host}:{stack.https_port}/predict"


def test_the_ingress_balances_over_every_replica(stack):
    codes = [stack.predict(source="127.0.0.5")[0] for _ in range(6)]
    assert codes == [200] * 6
    used = set(upstreams_in_log(stack, "127.0.0.5", 6))
    assert used == {f"127.0.0.1:{r.port}" for r in stack.replicas}


def test_past_the_rate_limit_requests_are_refused_as_the_ingress_would(stack, ingress):
    settings = nginx_conf.IngressSettings.from_ingress(ingress)
    burst = settings.int("limit-rps") * settings.int("limit-burst-multiplier")
    assert burst > 0
    # Within the burst nothing is refused, however fast the requests come.
    first = stack.predict_many(burst, source="127.0.0.2", parallel=1)
    assert first == [200] * burst
    # Far past it, the controller's limit-req-status-code (503) comes back.
    rest = stack.predict_many(3 * burst, source="127.0.0.2", parallel=8)
    assert set(rest) <= {200, nginx_conf.LIMIT_REQ_STATUS_CODE}
    assert rest.count(nginx_conf.LIMIT_REQ_STATUS_CODE) > 0
    status, _, body = stack.predict(source="127.0.0.2")
    if status == nginx_conf.LIMIT_REQ_STATUS_CODE:
        assert b"nginx" in body  # refused by the Ingress, not by a replica
    # The limit is per client address: another client is served.
    assert stack.predict(source="127.0.0.3")[0] == 200


def test_cors_preflight_is_answered_by_the_ingress(stack, ingress):
    settings = nginx_conf.IngressSettings.from_ingress(ingress)
    allowed = "https://dashboard.example.com"
    assert re.fullmatch(nginx_conf.origin_regex(settings.origins()).rstrip("$"), allowed)
    status, head, _ = stack.curl(
        "/predict", method="OPTIONS",
        headers=(f"Origin: {allowed}", "Access-Control-Request-Method: POST",
                 "Access-Control-Request-Headers: content-type,x-api-key"),
    )
    assert status == 204
    assert head["access-control-allow-origin"] == allowed
    assert head["access-control-allow-methods"] == settings.values["cors-allow-methods"]
    assert "x-api-key" in head["access-control-allow-headers"].lower()
    assert head["access-control-max-age"] == settings.values["cors-max-age"]
    # The real request carries the CORS headers too; an origin not listed gets none.
    status, head, _ = stack.predict(headers=(f"Origin: {allowed}",))
    assert status == 200 and head["access-control-allow-origin"] == allowed
    status, head, _ = stack.predict(headers=("Origin: https://evil.example.org",))
    assert status == 200 and "access-control-allow-origin" not in head


def test_body_over_the_ingress_limit_is_refused_before_any_replica(stack, ingress):
    limit = nginx_conf.IngressSettings.from_ingress(ingress).values["proxy-body-size"]
    assert limit == "1m"
    big = json.dumps({"features": [[5.1, 3.5, 1.4, 0.2]] * 60000})
    assert len(big) > 1024 * 1024
    status, _, body = stack.curl("/predict", data=big, source="127.0.0.6",
                                 headers=("Content-Type: application/json", f"X-API-Key: {stack.api_key}"))
    assert status == 413 and b"nginx" in body
    assert upstreams_in_log(stack, "127.0.0.6", 1) == ["-"]


def test_requests_keep_succeeding_with_one_replica_stopped(stack):
    stopped = stack.replicas[0]
    stopped.stop()
    codes = [stack.predict(source="127.0.0.4")[0] for _ in range(10)]
    assert codes == [200] * 10
    survivors = {f"127.0.0.1:{r.port}" for r in stack.replicas[1:]}
    attempts = upstream_attempts(stack, "127.0.0.4", 10)
    assert len(attempts) == 10
    assert {tried[-1] for tried in attempts} <= survivors  # each request ended on a live replica


def test_mlflow_server_keeps_its_data_on_the_mlruns_volume(stack):
    # Through the Service address iris-api uses (a port-forward, for people).
    r = requests.post(stack.mlflow.url + "/api/2.0/mlflow/experiments/create", json={"name": "k8s-volume"}, timeout=10)
    assert r.status_code == 200, r.text
    assert (stack.mlruns / "mlflow.db").is_file()
    assert not (stack.mlflow.state_dir / "sqlite_db.db").exists()  # nothing on the pod's ephemeral /.spin


def test_a_model_trained_into_mlflow_server_is_served_through_the_ingress(make_stack):
    # docs/kubernetes.md: `spinflow train --tracking-uri` through a port-forward to
    # mlflow-server-service. The ConfigMap's refresh interval (30 s) is shortened
    # so the test does not wait for it.
    from conftest import SPINFLOW

    stack = make_stack({"SPIN_VARIABLE_MODEL_REFRESH_SECONDS": "1"})
    status, _, body = stack.predict(source="127.0.0.8")
    assert status == 200 and json.loads(body)["model"]["source"] == "embedded"
    out = subprocess.run([str(SPINFLOW), "train", "--tracking-uri", stack.mlflow.url, "--json", "--quiet"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    version = json.loads(out.stdout)["version"]
    # Each replica switches to the registered version at its next refresh; wait
    # until a full round over the replicas reports it.
    wanted_in_a_row = 2 * len(stack.replicas)
    in_a_row, deadline = 0, time.monotonic() + 120
    while in_a_row < wanted_in_a_row and time.monotonic() < deadline:
        status, _, body = stack.predict(source="127.0.0.8")
        assert status == 200, body
        model = json.loads(body)["model"]
        in_a_row = in_a_row + 1 if (model["version"], model["source"] != "embedded") == (version, True) else 0
        time.sleep(0.2)  # under the Ingress's rate limit
    assert in_a_row >= wanted_in_a_row, f"replicas did not all serve version {version}: last {model}"

