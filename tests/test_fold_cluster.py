"""bench cv's search on a real 2-worker standalone cluster (1g executors), the data read from
parquet: pyspark's metrics, the fold cache's plan read from the executors' storage memory,
each fold featurized once, nothing left persisted.

The search runs in a driver subprocess (:func:`cluster.run_driver`).
"""

from __future__ import annotations

import pytest
from cluster import run_driver

SEARCH = """
import logging
from pyspark.ml import tuning as pt
import sparktune
from bench.common import cv_grid
from sparktune.jobs.datasets import load_diamonds

messages = []
class Keep(logging.Handler):
    def emit(self, record):
        messages.append(record.getMessage())
log = logging.getLogger("sparktune.spark.cache")
log.addHandler(Keep())
log.setLevel(logging.DEBUG)

# x1 read back from parquet, not cached: an input whose rows come in the same order each
# time it is read (rand(seed) folds, pyspark's as ours, depend on that order; a shuffled
# input such as repartition(4) fetches its blocks in a different order on each read)
load_diamonds(spark).repartition(4).write.parquet(out + ".parquet")
data = spark.read.parquet(out + ".parquet")
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
    result = run_driver(tmp_path, SEARCH, "sparktune-fold-cache-cluster")
    assert result["ours"] == pytest.approx(result["theirs"], rel=1e-4)
    assert result["after"] == result["before"]
    plans = [m for m in result["messages"] if m.startswith("fold cache plan")]
    assert len(plans) == 1, result["messages"]
    builds = [m for m in result["messages"] if m.startswith("cached fold")]
    assert len(builds) == 3, result["messages"]  # each fold featurized once
