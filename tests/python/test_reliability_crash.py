"""Crash reliability (issue 21): `spinflow up` killed with SIGKILL in the middle of the
work, then restarted on the same state directory, with the real .wasm over real HTTP.

- kill -9 mid-upload left its chunks in the database for good (113 MiB in the battery):
  the next upload reclaims an upload idle past the bound (`MLFLOW_UPLOAD_IDLE_RECLAIM_SECONDS`,
  default one hour, measured from its last chunk), never one still streaming, and the
  same path uploads again byte-exact;
- kill -9 mid-log-batch under several writers: every acknowledged batch is there, whole,
  no batch is there in part, and `PRAGMA integrity_check` is ok.

Counts come from the database file itself (sqlite3), read while the host is stopped or
in short read transactions beside it (write-ahead log).
"""

import hashlib
import socket
import sqlite3
import threading
import time
from contextlib import closing

import pytest
import requests
from mlflow import MlflowClient

from conftest import SpinflowApp

PROXY = "/api/2.0/mlflow-artifacts/artifacts"
API = "/api/2.0/mlflow"
IDLE_ENV = "MLFLOW_UPLOAD_IDLE_RECLAIM_SECONDS"
MIB = 1 << 20

# test_postgres_replicas.py kills a replica mid-log-batch on PostgreSQL.
pytestmark = pytest.mark.sqlite_only(
    reason="counts rows in mlflow-server's SQLite file with sqlite3 and checks its integrity")


class Crashable:
    """One state directory, served by one `spinflow up` at a time, which may be killed."""

    def __init__(self, tmp_path):
        self.state = tmp_path / ".spin"
        self.app = None

    @property
    def db(self):
        return self.state / "sqlite_db.db"

    def start(self, *args):
        self.app = SpinflowApp(self.state, args).start()
        # mlflow-server creates its schema on its first request: before any count.
        assert requests.get(f"{self.app.url}/version", timeout=30).status_code == 200
        return self.app

    def kill9(self):
        self.app.proc.kill()  # SIGKILL: no cleanup of any kind
        self.app.proc.wait(timeout=10)
        self.app.log.close()

    def stop(self):
        if self.app:
            self.app.stop()


@pytest.fixture
def host(tmp_path):
    h = Crashable(tmp_path)
    yield h
    h.stop()


def sql(db, query, *args):
    with closing(sqlite3.connect(db, timeout=10)) as conn:
        return conn.execute(query, args).fetchall()


def counts(db):
    """(chunks, blobs, pending uploads, files) of the artifact store."""
    return tuple(
        sql(db, f"SELECT COUNT(*) FROM {t}")[0][0]
        for t in ("artifact_chunks", "artifact_blobs", "artifact_uploads", "artifact_files")
    )


def piece(i):
    """MiB number `i` of a test file: distinct per MiB, cheap to make again."""
    return hashlib.sha256(str(i).encode()).digest() * (MIB // 32)


def raw_put(app, path, declared):
    """A streaming PUT whose headers announce `declared` bytes; the caller sends the body."""
    sock = socket.create_connection(("127.0.0.1", app.port), timeout=30)
    sock.sendall(
        f"PUT {PROXY}/{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {declared}\r\n\r\n".encode())
    return sock


def status_of(sock):
    reply = b""
    while b"\r\n" not in reply:
        data = sock.recv(4096)
        assert data, f"connection closed without an answer: {reply!r}"
        reply += data
    return int(reply.split()[1])


def wait_for_chunks(db, at_least, timeout=20):
    deadline = time.monotonic() + timeout
    while (n := counts(db)[0]) < at_least:
        assert time.monotonic() < deadline, f"{n} chunks stored, waited for {at_least}"
        time.sleep(0.05)
    return n


def sha256_of(pieces):
    h = hashlib.sha256()
    for i in range(pieces):
        h.update(piece(i))
    return h.hexdigest()


def test_kill_mid_upload_then_the_next_upload_reclaims_its_chunks(host, tmp_path, monkeypatch):
    app = host.start()
    run = requests.post(f"{app.url}{API}/runs/create", json={"experiment_id": "0"}, timeout=30)
    assert run.status_code == 200, run.text
    info = run.json()["run"]["info"]
    root = info["artifact_uri"].removeprefix("mlflow-artifacts:/")
    path = f"{root}/big.bin"

    # Stream a 200 MiB upload and kill the host once more than 100 MiB of it is stored.
    sock = raw_put(app, path, 200 * MIB)
    sent, stored, deadline = 0, 0, time.monotonic() + 40
    while stored < 110:
        assert time.monotonic() < deadline, f"only {stored} chunks stored"
        assert sent < 200, "the upload finished before the kill"
        for _ in range(4):
            sock.sendall(piece(sent))
            sent += 1
        stored = counts(host.db)[0]
    host.kill9()
    killed_at = time.monotonic()
    sock.close()
    orphans, blobs, pending, files = counts(host.db)
    assert orphans >= 110 and (blobs, pending, files) == (1, 1, 0)

    # Restarted with the default bound (an hour): the upload may still be streaming, as far
    # as the server can tell, so a new upload leaves it alone.
    app = host.start()
    assert requests.put(f"{app.url}{PROXY}/{root}/small.txt", data=b"hi", timeout=30).status_code == 200
    assert counts(host.db) == (orphans + 1, 2, 1, 1)
    assert requests.get(f"{app.url}{PROXY}/{path}", timeout=30).status_code == 404
    host.stop()

    # With a 1 s bound, once a second has passed since its last chunk (the kill), the
    # next upload, the same path through the official client, reclaims it and stores
    # byte-exact.
    app = host.start("-e", f"{IDLE_ENV}=1")
    time.sleep(max(0.0, 1.5 - (time.monotonic() - killed_at)))
    size = 110
    local = tmp_path / "big.bin"
    with open(local, "wb") as fh:
        for i in range(size):
            fh.write(piece(i))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    client = MlflowClient(app.url)
    client.log_artifact(info["run_id"], str(local))
    assert counts(host.db) == (size + 1, 2, 0, 2)
    out = client.download_artifacts(info["run_id"], "big.bin", str(tmp_path / "dl"))
    got = hashlib.sha256()
    with open(out, "rb") as fh:
        while chunk := fh.read(MIB):
            got.update(chunk)
    assert got.hexdigest() == sha256_of(size)
    host.stop()
    assert sql(host.db, "PRAGMA integrity_check") == [("ok",)]


def test_a_streaming_upload_is_kept_and_a_stalled_one_reclaimed(host):
    # A 3 s bound, and no body idle timeout: a stalled request stays open, as it can
    # under other runtimes, so only the reclaim can free its chunks.
    app = host.start("-e", f"{IDLE_ENV}=3", "--body-idle-timeout", "0")
    stalled = raw_put(app, "0/stalled/artifacts/stalled.bin", 4 * MIB)
    for i in range(3):
        stalled.sendall(piece(i))
    wait_for_chunks(host.db, 3)

    # One MiB every 0.4 s for 6.4 s: twice the bound in all, never idle for it. Each
    # tick is an upload, which reclaims what is idle.
    live = raw_put(app, "0/live/artifacts/live.bin", 16 * MIB)
    for i in range(16):
        live.sendall(piece(i))
        tick = requests.put(f"{app.url}{PROXY}/0/t/artifacts/tick.txt", data=b"tick", timeout=30)
        assert tick.status_code == 200, tick.text
        time.sleep(0.4)
    assert status_of(live) == 200
    live.close()
    got = requests.get(f"{app.url}{PROXY}/0/live/artifacts/live.bin", timeout=60)
    assert hashlib.sha256(got.content).hexdigest() == sha256_of(16)
    # The stalled upload's chunks are gone though its connection is open.
    assert counts(host.db) == (16 + 1, 2, 0, 2)

    # Resumed, it is refused (503: the client sends it again) and leaves nothing.
    stalled.sendall(piece(3))
    assert status_of(stalled) == 503
    stalled.close()
    assert counts(host.db) == (16 + 1, 2, 0, 2)
    assert requests.get(f"{app.url}{PROXY}/0/stalled/artifacts/stalled.bin", timeout=30).status_code == 404


WRITERS = 4
METRICS_PER_BATCH = 100


def batch(step):
    """One log-batch: 100 metrics at `step`, a param and a tag naming it."""
    return {
        "metrics": [
            {"key": f"k{j}", "value": step + j / 1000, "timestamp": 1_700_000_000_000 + step, "step": step}
            for j in range(METRICS_PER_BATCH)
        ],
        "params": [{"key": f"p{step}", "value": str(step)}],
        "tags": [{"key": f"t{step}", "value": str(step)}],
    }


def test_kill_mid_log_batch_keeps_every_acknowledged_write(host):
    app = host.start()
    runs = []
    for _ in range(WRITERS):
        r = requests.post(f"{app.url}{API}/runs/create", json={"experiment_id": "0"}, timeout=30)
        assert r.status_code == 200, r.text
        runs.append(r.json()["run"]["info"]["run_id"])
    acked = {run: [] for run in runs}
    last_sent = {}
    stop = threading.Event()

    def writer(run):
        with requests.Session() as s:
            step = 0
            while not stop.is_set():
                last_sent[run] = step
                try:
                    r = s.post(f"{app.url}{API}/runs/log-batch", json={"run_id": run, **batch(step)}, timeout=30)
                except requests.RequestException:
                    return  # the host is gone
                if r.status_code == 200:
                    acked[run].append(step)
                step += 1

    threads = [threading.Thread(target=writer, args=(run,)) for run in runs]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while sum(map(len, acked.values())) < 40 * WRITERS:
        assert time.monotonic() < deadline, acked
        time.sleep(0.05)
    host.kill9()  # while every writer has a batch in flight
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert all(steps for steps in acked.values())

    app = host.start()
    assert requests.get(f"{app.url}/health", timeout=30).status_code == 200
    for run in runs:
        got = requests.get(f"{app.url}{API}/runs/get", params={"run_id": run}, timeout=30)
        assert got.status_code == 200, got.text
        params = {p["key"] for p in got.json()["run"]["data"].get("params", [])}
        assert {f"p{s}" for s in acked[run]} <= params
    host.stop()

    for run in runs:
        per_step = dict(sql(host.db, "SELECT step, COUNT(*) FROM metrics WHERE run_uuid = ? GROUP BY step", run))
        # Every acknowledged batch whole; beyond them at most the one in flight, also whole.
        assert all(per_step.get(s) == METRICS_PER_BATCH for s in acked[run]), run
        assert set(per_step.values()) == {METRICS_PER_BATCH}, per_step
        extra = set(per_step) - set(acked[run])
        assert extra <= {last_sent[run]}, extra
        params = {k for (k,) in sql(host.db, "SELECT key FROM params WHERE run_uuid = ?", run)}
        assert params == {f"p{s}" for s in per_step}
    assert sql(host.db, "PRAGMA integrity_check") == [("ok",)]
