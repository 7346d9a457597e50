"""Runs real nginx (the Debian package) on loopback with a generated config."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        raise RuntimeError("nginx is not installed: run scripts/install-test-deps.sh (Debian package nginx)")
    return found


def self_signed_certificate(directory: Path, host: str) -> tuple[Path, Path]:
    """A throwaway certificate for `host` (what the Ingress's TLS secret holds)."""
    cert, key = directory / f"{host}.crt", directory / f"{host}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN={host}", "-addext", f"subjectAltName=DNS:{host}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


class Nginx:
    """nginx in the foreground with its own prefix (pid, logs, temp files)."""

    def __init__(self, prefix: Path, config_text: str):
        self.prefix = prefix
        self.prefix.mkdir(parents=True, exist_ok=True)
        self.conf = prefix / "nginx.conf"
        self.conf.write_text(config_text)
        self.proc = None

    def _cmd(self, *extra):
        return [nginx_binary(), "-p", str(self.prefix), "-c", str(self.conf),
                "-e", str(self.prefix / "error.log"), *extra]

    def check(self) -> None:
        """`nginx -t`: the configuration parses and its files load."""
        out = subprocess.run(self._cmd("-t"), capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{out.stderr}\n{self.conf.read_text()}")

    def start(self, wait_for: tuple[str, int], timeout: float = 15.0) -> "Nginx":
        self.check()
        self.proc = subprocess.Popen(self._cmd("-g", "daemon off;"),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.proc.returncode}:\n{self.error_log()}")
            try:
                socket.create_connection(wait_for, timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not listen on {wait_for} in {timeout}s:\n{self.error_log()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful shutdown
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def access_log(self) -> list[str]:
        path = self.prefix / "access.log"
        return path.read_text(errors="replace").splitlines() if path.exists() else []
