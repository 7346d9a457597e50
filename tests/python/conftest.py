"""Shared fixtures: start the real `spinflow up` host with the real .wasm components.

The host binary and the components must be built first (`make test` does it).
Each fixture gets its own state directory, so tests never share data by accident.

With `SPINFLOW_TEST_STORE=postgres` (`make py-test-postgres`) every app keeps
mlflow-server's data in PostgreSQL instead of Spin SQLite: a database of its own
(one per state directory, so an app restarted on its state finds its data again) on
one server that `target/release/test-postgres` starts for the session.
"""

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from round_robin import RoundRobinProxy

REPO = Path(__file__).resolve().parents[2]
SPINFLOW = REPO / "target" / "release" / "spinflow"
TEST_POSTGRES = REPO / "target" / "release" / "test-postgres"
# Where mlflow-server keeps its data in the apps the tests start: "sqlite" or "postgres".
STORE = os.environ.get("SPINFLOW_TEST_STORE", "sqlite")
assert STORE in ("sqlite", "postgres"), f"SPINFLOW_TEST_STORE={STORE!r}: sqlite or postgres"
# How many `spinflow up` replicas serve the session's app (`spinflow_app`) on PostgreSQL:
# more than one puts a round-robin proxy in front of them, all on one database.
REPLICAS = int(os.environ.get("SPINFLOW_TEST_REPLICAS", "1"))
assert REPLICAS == 1 or STORE == "postgres", "replicas share a PostgreSQL database"
MANIFEST = REPO / "spin.toml"
# iris-api's two builds: WASIp2 (a fresh instance per request; what Spin 3 and
# containerd-shim-spin v0.24 run) and WASIp3 (instances reused, spin-wasip3.toml).
IRIS_MANIFESTS = {"wasip2": MANIFEST, "wasip3": REPO / "spin-wasip3.toml"}


def bake(tmp_path, manifest, model, tracking_uri=None):
    """Bakes `model` (an ONNX file or a `models:/` URI) into iris-api's build of
    `manifest` with `spinflow preinit --model`, and returns a copy of the manifest
    that serves the baked component (every source made absolute)."""
    text = Path(manifest).read_text()
    source = next(line.split('"')[1] for line in text.splitlines()
                  if line.startswith("source = ") and "iris_api" in line)
    baked = Path(tmp_path) / "iris_api.baked.wasm"
    # The built component is pre-initialised already; initialising it again bakes
    # the model in beside the embedded one.
    cmd = [str(SPINFLOW), "preinit", str(REPO / source), "--output", str(baked), "--model", str(model)]
    if tracking_uri:
        cmd += ["--tracking-uri", tracking_uri]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    text = text.replace(f'source = "{source}"', f'source = "{baked}"')
    text = text.replace('source = "target/', f'source = "{REPO}/target/')
    copy = Path(tmp_path) / f"baked-{Path(manifest).name}"
    copy.write_text(text)
    return copy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """A PostgreSQL server of the tests' own: `target/release/test-postgres` (Debian's
    programs, a temporary cluster on a free 127.0.0.1 port), driven through its stdin."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [str(TEST_POSTGRES)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, bufsize=1,
        )
        self.url = self._reply()
        self.host = self.url.split("@", 1)[1].split("/", 1)[0]  # 127.0.0.1:port

    def _reply(self):
        line = self.proc.stdout.readline().strip()
        if not line or line.startswith("error"):
            raise RuntimeError(f"test-postgres: {line or 'exited'} (its stderr is above)")
        return line

    def _command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._reply()

    def create_database(self, name):
        """A new, empty database; its `postgres://` URL."""
        return self._command(f"database {name}")

    def stop(self):
        """Stops the server (fast shutdown); its data stays."""
        self._command("stop")

    def start(self):
        """Starts it again on the same port."""
        self._command("start")

    def close(self):
        """Ends the server and removes its files (test-postgres does when stdin ends)."""
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def app_env(self, database_url):
        """The variables that put an app's mlflow-server on `database_url` of this server."""
        return {"SPIN_VARIABLE_DATABASE_URL": database_url, "SPIN_VARIABLE_DATABASE_HOST": self.host}


class SessionDatabases:
    """With SPINFLOW_TEST_STORE=postgres: the session's server, started on first use, and
    one database per state directory."""

    def __init__(self):
        self.server = None
        self.by_state_dir = {}

    def env_for(self, state_dir):
        if self.server is None:
            self.server = PostgresServer()
        key = str(Path(state_dir).resolve())
        if key not in self.by_state_dir:
            name = f"app_{len(self.by_state_dir)}"
            self.by_state_dir[key] = self.server.create_database(name)
        return self.server.app_env(self.by_state_dir[key])

    def close(self):
        if self.server is not None:
            self.server.close()


SESSION_DATABASES = SessionDatabases()


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "sqlite_only(reason): the test reads mlflow-server's SQLite file itself; skipped "
        "when the apps keep their data in PostgreSQL (SPINFLOW_TEST_STORE=postgres)",
    )


def pytest_collection_modifyitems(config, items):
    if STORE != "postgres":
        return
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker:
            reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {reason}"))


@pytest.fixture(scope="session", autouse=True)
def session_databases():
    """Stops the session's PostgreSQL server, if one was started, at the end."""
    yield SESSION_DATABASES
    SESSION_DATABASES.close()


class SpinflowApp:
    """One `spinflow up` process on a free loopback port. With SPINFLOW_TEST_STORE=postgres
    its mlflow-server works on a PostgreSQL database of its own, unless `env` names one."""

    def __init__(self, state_dir, args=(), env=None, manifest=MANIFEST):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state_dir = Path(state_dir)
        self.log_path = self.state_dir.parent / f"spinflow-{self.port}.log"
        self.args = list(args)
        self.env = dict(env or {})
        self.manifest = manifest
        self.proc = None

    def start(self, timeout=60.0):
        cmd = [
            str(SPINFLOW), "up",
            "-f", str(self.manifest),
            "--listen", f"127.0.0.1:{self.port}",
            "--state-dir", str(self.state_dir),
            *self.args,
        ]
        env = {**os.environ, **self.env}
        if STORE == "postgres" and "SPIN_VARIABLE_DATABASE_URL" not in self.env:
            env.update(SESSION_DATABASES.env_for(self.state_dir))
        # The host copies the app's `files` mounts (the web UI, 42 MB) into a temporary
        # directory that only a clean stop removes; tests that kill -9 the host would
        # leave theirs in /tmp. Under the test's own directory, pytest prunes them.
        tmp = self.state_dir.parent / f"tmp-{self.port}"
        tmp.mkdir(parents=True, exist_ok=True)
        env.setdefault("TMPDIR", str(tmp))
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"spinflow exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                if requests.get(self.url + "/.well-known/spin/health", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"spinflow did not become healthy in {timeout}s:\n{self.logs()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class Replicas:
    """Several apps on one PostgreSQL database behind a round-robin proxy (`url`)."""

    def __init__(self, root, count):
        env = SESSION_DATABASES.env_for(root)
        self.apps = [SpinflowApp(root / f"replica{i}" / ".spin", env=env) for i in range(count)]

    def __enter__(self):
        for app in self.apps:
            app.start()
        self.proxy = RoundRobinProxy([app.url for app in self.apps]).__enter__()
        self.url = self.proxy.url
        return self

    def __exit__(self, *exc):
        self.proxy.__exit__(*exc)
        for app in self.apps:
            app.stop()


@pytest.fixture(scope="session")
def spinflow_app(tmp_path_factory):
    """The whole app (both components) as `make up` runs it, on a fresh state dir; with
    SPINFLOW_TEST_REPLICAS=n, n of them behind a round-robin proxy."""
    if REPLICAS > 1:
        with Replicas(tmp_path_factory.mktemp("spin-state"), REPLICAS) as replicas:
            yield replicas
        return
    app = SpinflowApp(tmp_path_factory.mktemp("spin-state") / ".spin").start()
    yield app
    app.stop()


@pytest.fixture(scope="module", params=list(IRIS_MANIFESTS))
def iris_manifest(request):
    """The manifest of one iris-api build: tests that take it run against both."""
    return IRIS_MANIFESTS[request.param]


@pytest.fixture
def start_app(tmp_path):
    """Factory for tests that need their own host (other flags, variables, restarts)."""
    apps = []

    def _start(args=(), env=None, state_dir=None, manifest=MANIFEST):
        app = SpinflowApp(state_dir or (tmp_path / f"state{len(apps)}"), args, env, manifest)
        apps.append(app)
        return app.start()

    yield _start
    for app in apps:
        app.stop()
