"""Executor loss: a worker of a real standalone cluster dies mid-search; every trial still ends
with a metric (Spark reruns the lost tasks and recomputes lost cached blocks).

The search runs in a subprocess (a small driver script) because the test session already
holds the suite's local SparkSession and a second one cannot live in the same process.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time

import pytest
from cluster import spark_env, standalone_cluster

DRIVER = """
import json, sys
from pyspark.ml import Pipeline
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.regression import LinearRegression
from pyspark.sql import SparkSession, functions as F
import sparktune

master, checkpoint, out = sys.argv[1:4]
spark = (
    SparkSession.builder.master(master).appName("sparktune-executor-loss")
    .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
    .config("spark.driver.host", "127.0.0.1")
    .config("spark.sql.shuffle.partitions", "4").config("spark.executor.memory", "1g")
    .getOrCreate()
)
sc = spark.sparkContext

def executors():  # ids of the active executors, as Spark's status store knows them
    summaries = sc._jsc.sc().statusStore().executorList(True)
    ids = {summaries.apply(i).id() for i in range(summaries.size())}
    return ids - {"driver"}

deadline = __import__("time").monotonic() + 120
while len(executors()) < 2 and __import__("time").monotonic() < deadline:
    __import__("time").sleep(0.5)
before = executors()
data = spark.range(4000, numPartitions=4).select(
    (F.col("id") % 97).cast("double").alias("a"),
    (F.col("id") % 13).cast("double").alias("b"),
    ((F.col("id") % 97) * 2.0 - (F.col("id") % 13) + F.rand(1)).alias("y"),
).cache()
data.count()
pipe = Pipeline(stages=[
    VectorAssembler(inputCols=["a", "b"], outputCol="features"),
    LinearRegression(featuresCol="features", labelCol="y", maxIter=30),
])
result = sparktune.tune(
    pipe, {"LinearRegression.regParam": [0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]}, data,
    RegressionEvaluator(labelCol="y"), strategy="grid", num_folds=2, parallelism=2,
    tracking=False, progress=False, checkpoint=checkpoint,
)
# The loss reaches the status store through the listener bus, which may lag a short
# search's end: give it (bounded) time, so the set says whether it was noticed. The master
# may start a replacement executor (a new host:port), so what counts is that one of those
# present before the search is gone.
deadline = __import__("time").monotonic() + 60
while before <= executors() and __import__("time").monotonic() < deadline:
    __import__("time").sleep(0.5)
json.dump({
    "executors_before": sorted(before),
    "executors_after": sorted(executors()),
    "trials": [
        {"number": t.number, "state": t.state.value, "value": t.value, "error": t.error}
        for t in result.trials
    ],
    "best_metric": result.best_metric,
}, open(out, "w"))
spark.stop()
"""


@pytest.mark.cluster
def test_losing_a_worker_mid_search_loses_no_trial(tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    ckpt, out = tmp_path / "checkpoint.json", tmp_path / "result.json"
    with standalone_cluster(tmp_path / "cluster", workers=2, cores=1) as cluster:
        log = open(tmp_path / "driver.log", "w")
        driver = subprocess.Popen(
            [sys.executable, str(script), cluster.master_url, str(ckpt), str(out)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=spark_env(),
            cwd=tmp_path,
        )
        try:
            deadline = time.monotonic() + 300
            finished = 0
            while finished < 1:
                assert driver.poll() is None, (tmp_path / "driver.log").read_text()[-4000:]
                assert time.monotonic() < deadline, "no trial finished in time"
                if ckpt.exists():
                    finished = len(json.loads(ckpt.read_text())["trials"])
                time.sleep(0.1)
            cluster.stop_worker(0)  # its executor dies with it, mid-search
            at_loss = len(json.loads(ckpt.read_text())["trials"])
            driver.wait(timeout=300)
        finally:
            if driver.poll() is None:
                driver.kill()
                driver.wait()
        assert driver.returncode == 0, (tmp_path / "driver.log").read_text()[-4000:]
        assert cluster.alive_workers() == 1
    result = json.loads(out.read_text())
    assert at_loss < 8, "the worker was lost after the search, not during it"
    assert len(result["executors_before"]) == 2
    lost = set(result["executors_before"]) - set(result["executors_after"])
    assert len(lost) == 1, result  # the stopped worker's executor, noticed by the driver
    trials = result["trials"]
    assert len(trials) == 8
    assert all(t["state"] == "complete" for t in trials), trials
    assert all(t["value"] is not None and math.isfinite(t["value"]) for t in trials)
