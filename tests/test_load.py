"""Load: 200 trials at parallelism 4 on local[2] finish, leak no threads or cached data,
and keep driver memory flat beyond the results table."""

from __future__ import annotations

import gc
import threading
import tracemalloc

from conftest import featurizers
from pyspark.ml import Pipeline
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.regression import LinearRegression

import sparktune
from sparktune import Callback


class HeapProbe(Callback):
    """Python heap in use after trial 50 and after the last trial (tracemalloc)."""

    def __init__(self):
        self.at = {}

    def on_trial_end(self, trial):
        done = len(self.at.setdefault("done", [])) + 1
        self.at["done"].append(trial.number)
        if done in (50, 200):
            gc.collect()
            self.at[done] = tracemalloc.get_traced_memory()[0]


def test_two_hundred_trials_at_parallelism_four(spark, diamonds):
    data = diamonds.limit(600).cache()
    data.count()
    lr = LinearRegression(featuresCol="features", labelCol="price", maxIter=2)
    pipe = Pipeline(stages=featurizers() + [lr])
    grid = [{lr.regParam: 0.01 * i} for i in range(200)]
    tvs = sparktune.TrainValidationSplit(
        estimator=pipe,
        estimatorParamMaps=grid,
        evaluator=RegressionEvaluator(labelCol="price"),
        parallelism=4,
        seed=3,
    )
    probe = HeapProbe()
    tvs.callbacks.append(probe)
    persisted_before = spark.sparkContext._jsc.getPersistentRDDs().size()
    threads_before = threading.active_count()
    tracemalloc.start()
    try:
        model = tvs.fit(data)
    finally:
        tracemalloc.stop()
    assert len(model.validationMetrics) == 200
    assert (model.results["state"] == "complete").all()
    assert sorted(probe.at["done"]) == list(range(200))
    assert threading.active_count() <= threads_before
    assert spark.sparkContext._jsc.getPersistentRDDs().size() == persisted_before
    growth_per_trial = (probe.at[200] - probe.at[50]) / 150
    assert growth_per_trial < 20_000, f"driver heap grew {growth_per_trial:.0f} B per trial"
    data.unpersist()
