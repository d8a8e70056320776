"""A real Spark standalone cluster on 127.0.0.1 for tests: one master, N workers, by process id.

Started from the pip-installed pyspark alone (``$SPARK_HOME/bin/spark-class``), bound to
loopback (``SPARK_LOCAL_IP`` and ``--host 127.0.0.1``) on free ports; ready once every
worker shows ALIVE in the master's JSON status. Use it as a context manager::

    with standalone_cluster(tmp_path, workers=2) as cluster:
        ... spark-submit --master cluster.master_url ...
        cluster.stop_worker(0)          # e.g. to lose an executor mid-search

Leaving the block stops every process the cluster started (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyspark
from servers import free_port

SPARK_HOME = Path(pyspark.__file__).parent


def spark_env() -> dict[str, str]:
    """Environment for anything talking to the loopback cluster (spark-class, spark-submit)."""
    env = dict(os.environ)
    env.update(
        SPARK_HOME=str(SPARK_HOME),
        SPARK_LOCAL_IP="127.0.0.1",
        PYSPARK_PYTHON=sys.executable,
        PYSPARK_DRIVER_PYTHON=sys.executable,
    )
    return env


@dataclass
class Daemon:
    """One started master or worker process and its log file."""

    name: str
    process: subprocess.Popen
    log: Path

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM this process (spark-class execs java, so the pid is the JVM), then SIGKILL."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)


@dataclass
class Cluster:
    """A running standalone cluster: its master URL, web UI and daemons."""

    master_url: str
    webui_url: str
    master: Daemon
    workers: list[Daemon] = field(default_factory=list)

    def status(self) -> dict:
        """The master's JSON status (workers, apps, cores)."""
        with urllib.request.urlopen(f"{self.webui_url}/json/", timeout=5) as response:
            return json.load(response)

    def alive_workers(self) -> int:
        """Workers the master currently sees as ALIVE (0 while the master is not answering)."""
        try:
            workers = self.status().get("workers", [])
        except OSError:
            return 0
        return sum(1 for w in workers if w.get("state") == "ALIVE")

    def stop_worker(self, index: int) -> None:
        """Stop one worker (its executors die with it)."""
        self.workers[index].stop()

    def stop(self) -> None:
        """Stop every worker, then the master."""
        for worker in self.workers:
            worker.stop()
        self.master.stop()

    def logs(self) -> str:
        """The tail of every daemon's log, for assertion messages."""
        parts = []
        for daemon in [self.master, *self.workers]:
            text = daemon.log.read_text(errors="replace") if daemon.log.exists() else ""
            parts.append(f"--- {daemon.name} ---\n{text[-2000:]}")
        return "\n".join(parts)


def _start(name: str, args: list[str], root: Path) -> Daemon:
    log = root / f"{name}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(SPARK_HOME / "bin" / "spark-class"), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=spark_env(),
            cwd=root,
        )
    return Daemon(name, process, log)


def start_cluster(
    root: Path, workers: int = 1, cores: int = 1, memory: str = "1g", timeout: float = 180.0
) -> Cluster:
    """Start a master and ``workers`` workers under ``root``; wait until all are ALIVE."""
    root.mkdir(parents=True, exist_ok=True)
    port, webui = free_port(), free_port()
    master = _start(
        "master",
        [
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--webui-port",
            str(webui),
        ],
        root,
    )
    cluster = Cluster(f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{webui}", master)
    try:
        for i in range(workers):
            work_dir = root / f"worker-{i}"
            work_dir.mkdir(exist_ok=True)
            cluster.workers.append(
                _start(
                    f"worker-{i}",
                    [
                        "org.apache.spark.deploy.worker.Worker",
                        cluster.master_url,
                        "--host",
                        "127.0.0.1",
                        "--cores",
                        str(cores),
                        "--memory",
                        memory,
                        "--webui-port",
                        str(free_port()),
                        "--work-dir",
                        str(work_dir),
                    ],
                    root,
                )
            )
        deadline = time.monotonic() + timeout
        while cluster.alive_workers() < workers:
            dead = [d.name for d in [master, *cluster.workers] if d.process.poll() is not None]
            if dead:
                raise RuntimeError(f"{dead} exited while starting:\n{cluster.logs()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"workers not ALIVE within {timeout} s:\n{cluster.logs()}")
            time.sleep(1)
    except BaseException:
        cluster.stop()
        raise
    return cluster


@contextmanager
def standalone_cluster(
    root: Path, workers: int = 1, cores: int = 1, memory: str = "1g"
) -> Iterator[Cluster]:
    """A started cluster for the ``with`` block; everything it started is stopped after."""
    cluster = start_cluster(root, workers=workers, cores=cores, memory=memory)
    try:
        yield cluster
    finally:
        cluster.stop()


#: What every driver script run by :func:`run_driver` starts with: ``spark``, a session on
#: the cluster's master (1g executors, the repository on their PYTHONPATH) once ``executors``
#: executors are up, and ``out``, where the script writes its JSON result.
DRIVER_PREAMBLE = """
import json, sys, time
from pyspark.sql import SparkSession

master, root, out, executors, app = sys.argv[1:6]
spark = (
    SparkSession.builder.master(master).appName(app)
    .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
    .config("spark.driver.host", "127.0.0.1").config("spark.executor.memory", "1g")
    .config("spark.executorEnv.PYTHONPATH", root).config("spark.sql.shuffle.partitions", "4")
    .getOrCreate()
)
sc = spark.sparkContext

def executor_ids():  # the active executors, as Spark's status store knows them
    summaries = sc._jsc.sc().statusStore().executorList(True)
    return {summaries.apply(i).id() for i in range(summaries.size())} - {"driver"}

deadline = time.monotonic() + 120
while len(executor_ids()) < int(executors) and time.monotonic() < deadline:
    time.sleep(0.5)
"""


def run_driver(
    tmp_path: Path, body: str, app: str, workers: int = 2, timeout: float = 900
) -> dict:
    """Run :data:`DRIVER_PREAMBLE` + ``body`` as a driver process on a fresh cluster of
    ``workers`` 1-core workers (the test session already holds the suite's local session);
    the JSON the script wrote to ``out``."""
    root = Path(__file__).resolve().parents[1]
    script, out = tmp_path / "driver.py", tmp_path / "result.json"
    script.write_text(DRIVER_PREAMBLE + body)
    env = spark_env()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    with standalone_cluster(tmp_path / "cluster", workers=workers, cores=1) as cluster:
        with open(tmp_path / "driver.log", "w") as log:
            argv = [cluster.master_url, str(root), str(out), str(workers), app]
            done = subprocess.run(
                [sys.executable, str(script), *argv],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path, timeout=timeout,
            )  # fmt: skip
        assert done.returncode == 0, (tmp_path / "driver.log").read_text()[-4000:]
    return json.loads(out.read_text())
