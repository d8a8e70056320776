"""A real Spark Connect server on 127.0.0.1 for tests, started from the pip-installed pyspark.

pyspark ships the server (``pyspark/jars/spark-connect_*.jar``, main class
``org.apache.spark.sql.connect.service.SparkConnectServer``); this starts it with
``$SPARK_HOME/bin/spark-submit`` as a separate process in its own process group, bound to
loopback on a free port, and waits (bounded) until its gRPC port accepts connections. It
does not build a client session itself: ``SparkSession.builder.remote(...)`` switches the
whole Python process to Connect mode (``SPARK_CONNECT_MODE_ENABLED``), which is the
caller's decision. Use it as a context manager::

    with connect_server(tmp_path, confs={MAX_STORAGE_SIZE: "1m"}) as server:
        spark = SparkSession.builder.remote(server.url).getOrCreate()

Leaving the block stops the server's whole process group (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cluster import SPARK_HOME, spark_env
from servers import free_port

logger = logging.getLogger(__name__)

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"

#: The server-side ML model cache's bound (bytes, per client session; default 10g). A fit
#: or load that would take the cache past it fails on the client with
#: ``[CONNECT_ML.ML_CACHE_SIZE_OVERFLOW_EXCEPTION]``. Set it low to prove models are
#: released. It is a session conf: a server-wide value given here is each session's default.
MAX_STORAGE_SIZE = "spark.connect.session.connectML.mlCache.memoryControl.maxStorageSize"

#: Small and quiet for 2-core test machines (no UI, few shuffle partitions).
DEFAULT_CONFS: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
}


def server_env() -> dict[str, str]:
    """The loopback cluster's environment (cluster.spark_env), never a Connect client's."""
    env = spark_env()
    # A client-side setting in this process must not make the server think it is a client.
    for name in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED"):
        env.pop(name, None)
    return env


@dataclass
class ConnectServer:
    """A started Spark Connect server: its port, its ``sc://`` URL, its process and log."""

    port: int
    process: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        """The URL a client passes to ``SparkSession.builder.remote``."""
        return f"sc://127.0.0.1:{self.port}"

    def accepting(self) -> bool:
        """Whether the server's gRPC port accepts a TCP connection."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's log, for error and assertion messages."""
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the server's process group (the JVM and its Python workers), then SIGKILL."""
        if self.process.poll() is not None:
            return
        pgid = self.process.pid  # started with start_new_session: it leads its own group
        try:
            os.killpg(pgid, signal.SIGTERM)
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=timeout)
        except ProcessLookupError:
            pass
        # Python workers the JVM forked may outlive it briefly; they are in the same group.
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def start_connect_server(
    root: Path,
    confs: Mapping[str, str] | None = None,
    master: str = "local[2]",
    driver_memory: str = "1g",
    timeout: float = 180.0,
) -> ConnectServer:
    """Start a Connect server under ``root`` (its cwd and log) and wait until it accepts.

    ``confs`` are extra ``--conf`` settings, applied after (and so over) ``DEFAULT_CONFS``;
    the binding address and port are always 127.0.0.1 and a free port.
    """
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    settings = {
        **DEFAULT_CONFS,
        **(confs or {}),
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
    }
    command = [
        str(SPARK_HOME / "bin" / "spark-submit"),
        "--class",
        SERVER_CLASS,
        "--name",
        "sparktune-tests-connect",
        "--master",
        master,
        "--driver-memory",
        driver_memory,
    ]
    for key, value in settings.items():
        command += ["--conf", f"{key}={value}"]
    log = root / "connect-server.log"
    started = time.monotonic()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=server_env(),
            cwd=root,
            start_new_session=True,
        )
    server = ConnectServer(port, process, log)
    deadline = started + timeout
    try:
        while not server.accepting():
            if process.poll() is not None:
                raise RuntimeError(f"Spark Connect server exited early:\n{server.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Spark Connect server did not accept within {timeout} s:\n{server.log_tail()}"
                )
            time.sleep(0.5)
    except BaseException:
        server.stop()
        raise
    logger.info("Spark Connect server on %s after %.1f s", server.url, time.monotonic() - started)
    return server


@contextmanager
def connect_server(root: Path, confs: Mapping[str, str] | None = None) -> Iterator[ConnectServer]:
    """A started server for the ``with`` block; its process group is stopped after."""
    server = start_connect_server(root, confs=confs)
    try:
        yield server
    finally:
        server.stop()
