"""A real ``mlflow server`` on 127.0.0.1 for tests: sqlite backend, local artifact root."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sparktune import Callback


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class MlflowServer:
    """A started server: its URL, its sqlite database, and its process."""

    url: str
    database: Path
    process: subprocess.Popen
    log: Path

    @property
    def store_uri(self) -> str:
        """The server's backend store, readable directly once the server is gone."""
        return f"sqlite:///{self.database}"

    def healthy(self) -> bool:
        """Whether the server answers ``GET /health``."""
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM the ``mlflow`` process (it ends its workers) and wait for it."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


def start_server(root: Path, timeout: float = 300.0) -> MlflowServer:
    """Start ``mlflow server`` under ``root`` and wait until it answers ``/health``."""
    root.mkdir(parents=True, exist_ok=True)
    database = root / "mlflow.db"
    artifacts = root / "artifacts"
    port = free_port()
    log = root / "server.log"
    command = [
        str(Path(sys.executable).parent / "mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{database}",
        "--artifacts-destination",
        str(artifacts),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=root, env=dict(os.environ)
        )
    server = MlflowServer(f"http://127.0.0.1:{port}", database, process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited early:\n{log.read_text()[-3000:]}")
        if server.healthy():
            return server
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(
        f"mlflow server did not answer within {timeout} s:\n{log.read_text()[-3000:]}"
    )


class StopServerAfter(Callback):
    """Stops an MLflow server once ``after`` trials have ended: an outage mid-search."""

    def __init__(self, server, after):
        self.server, self.after, self.seen = server, after, 0

    def on_trial_end(self, trial):
        self.seen += 1
        if self.seen == self.after:
            self.server.stop()
