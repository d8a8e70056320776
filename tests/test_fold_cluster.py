"""bench cv's search on a real 2-worker standalone cluster (1g executors): pyspark's metrics,
the fold cache's plan read from the executors' storage memory, nothing left persisted.

The search runs in a driver subprocess (the test session already holds the suite's local
SparkSession); the repository is put on the driver's and the executors' PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cluster import spark_env, standalone_cluster

ROOT = Path(__file__).resolve().parents[1]

DRIVER = """
import json, logging, sys, time
from pyspark.ml import tuning as pt
from pyspark.sql import SparkSession
import sparktune
from bench.common import cv_grid
from sparktune.jobs.datasets import load_diamonds

master, root, out = sys.argv[1:4]
spark = (
    SparkSession.builder.master(master).appName("sparktune-fold-cache-cluster")
    .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
    .config("spark.driver.host", "127.0.0.1").config("spark.executor.memory", "1g")
    .config("spark.executorEnv.PYTHONPATH", root).config("spark.sql.shuffle.partitions", "4")
    .getOrCreate()
)
sc = spark.sparkContext
deadline = time.monotonic() + 120
while sc._jsc.sc().getExecutorMemoryStatus().size() < 3 and time.monotonic() < deadline:
    time.sleep(0.5)  # the driver and both executors

messages = []
class Keep(logging.Handler):
    def emit(self, record):
        messages.append(record.getMessage())
log = logging.getLogger("sparktune.spark.cache")
log.addHandler(Keep())
log.setLevel(logging.DEBUG)

data = load_diamonds(spark).repartition(4)  # x1, not cached
before = sc._jsc.getPersistentRDDs().size()
ours = sparktune.CrossValidator(parallelism=2, **cv_grid()).fit(data)
after = sc._jsc.getPersistentRDDs().size()
theirs = pt.CrossValidator(parallelism=2, **cv_grid()).fit(data)
json.dump({
    "ours": ours.avgMetrics, "theirs": theirs.avgMetrics, "before": before, "after": after,
    "messages": messages,
}, open(out, "w"))
spark.stop()
"""


@pytest.mark.cluster
def test_the_bench_search_on_a_two_worker_cluster_matches_pyspark(tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    out = tmp_path / "result.json"
    env = spark_env()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    with standalone_cluster(tmp_path / "cluster", workers=2, cores=1) as cluster:
        with open(tmp_path / "driver.log", "w") as log:
            done = subprocess.run(
                [sys.executable, str(script), cluster.master_url, str(ROOT), str(out)],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path, timeout=900,
            )  # fmt: skip
        assert done.returncode == 0, (tmp_path / "driver.log").read_text()[-4000:]
    result = json.loads(out.read_text())
    assert result["ours"] == pytest.approx(result["theirs"], rel=1e-4)
    assert result["after"] == result["before"]
    plans = [m for m in result["messages"] if m.startswith("fold cache plan")]
    assert len(plans) == 1, result["messages"]
    builds = [m for m in result["messages"] if m.startswith("cached fold")]
    assert len(builds) == 3, result["messages"]  # each fold featurized once
