"""Shared fixtures: start the real `spinflow up` host with the real .wasm components.

The host binary and the components must be built first (`make test` does it).
Each fixture gets its own state directory, so tests never share data by accident.
"""

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
SPINFLOW = REPO / "target" / "release" / "spinflow"
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


class SpinflowApp:
    """One `spinflow up` process on a free loopback port."""

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


@pytest.fixture(scope="session")
def spinflow_app(tmp_path_factory):
    """The whole app (both components) as `make up` runs it, on a fresh state dir."""
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
