"""Single-machine trials are Spark tasks placed on the executors of a real 2-worker cluster.

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
import json, sys, time
import numpy as np, pandas as pd
from pyspark.sql import SparkSession
from sklearn.base import BaseEstimator, RegressorMixin
import sparktune

master, root, out = sys.argv[1:4]
spark = (
    SparkSession.builder.master(master).appName("sparktune-local-placement")
    .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
    .config("spark.driver.host", "127.0.0.1").config("spark.executor.memory", "1g")
    .config("spark.executorEnv.PYTHONPATH", root)
    .getOrCreate()
)
sc = spark.sparkContext
def executors():  # ids of the active executors, as Spark's status store knows them
    summaries = sc._jsc.sc().statusStore().executorList(True)
    return {summaries.apply(i).id() for i in range(summaries.size())} - {"driver"}

deadline = time.monotonic() + 120
while len(executors()) < 2 and time.monotonic() < deadline:
    time.sleep(0.5)

class Slow(RegressorMixin, BaseEstimator):
    def __init__(self, shift=0.0):
        self.shift = shift
    def fit(self, x, y):
        time.sleep(1.0)
        self.mean_ = float(np.mean(y)) + self.shift
        return self
    def predict(self, x):
        return np.full(len(x), self.mean_)

rng = np.random.default_rng(0)
frame = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
frame["y"] = rng.normal(size=200)
result = sparktune.tune(
    Slow(), {"shift": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]}, frame, "r2", label="y", strategy="grid",
    num_folds=2, parallelism=2, tracking=False, progress=False,
)
table = result.results
json.dump({
    "states": list(table["state"]),
    "executors": sorted(set(table["split0_executor"]) | set(table["split1_executor"])),
    "spans": [
        [s, e] for k in (0, 1) for s, e in zip(table[f"split{k}_started"], table[f"split{k}_ended"])
    ],
}, open(out, "w"))
spark.stop()
"""


@pytest.mark.cluster
def test_trials_run_as_tasks_on_both_executors(tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    out = tmp_path / "result.json"
    env = spark_env()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    with standalone_cluster(tmp_path / "cluster", workers=2, cores=1) as cluster:
        with open(tmp_path / "driver.log", "w") as log:
            done = subprocess.run(
                [sys.executable, str(script), cluster.master_url, str(ROOT), str(out)],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path, timeout=300,
            )  # fmt: skip
        assert done.returncode == 0, (tmp_path / "driver.log").read_text()[-4000:]
    result = json.loads(out.read_text())
    assert result["states"] == ["complete"] * 6
    assert len(result["executors"]) == 2, result  # the folds ran on both workers' executors
    assert "driver" not in result["executors"]
    spans = result["spans"]
    in_flight = max(sum(s <= start < e for s, e in spans) for start, _ in spans)
    assert in_flight == 2, spans  # one task per executor (1 core each), both busy at once
