"""The fold cache under memory pressure: its plan, spilling to disk, fold-major fits, cleanup."""

from __future__ import annotations

import logging
import math

import pytest
from conftest import featurizers
from pyspark import StorageLevel
from pyspark.ml import Pipeline
from pyspark.ml import tuning as pt
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.regression import LinearRegression

import sparktune
from sparktune import Callback
from sparktune.compat import spark_status
from sparktune.core.trial import Candidate
from sparktune.spark import fold_plan, pipeline, splits
from sparktune.spark.cache import FoldCache
from sparktune.spark.objective import PipelineObjective

MiB = 2**20


def persisted(spark) -> int:
    return spark.sparkContext._jsc.getPersistentRDDs().size()


def search(spark, grid_values=(0.0, 0.1, 1.0, 10.0)):
    lr = LinearRegression(featuresCol="features", labelCol="price", maxIter=3)
    grid = pt.ParamGridBuilder().addGrid(lr.regParam, list(grid_values)).build()
    return dict(
        estimator=Pipeline(stages=featurizers() + [lr]),
        estimatorParamMaps=grid,
        evaluator=RegressionEvaluator(labelCol="price", metricName="rmse"),
        numFolds=3,
        seed=5,
        parallelism=2,
    )


def cache_log(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "sparktune.spark.cache"]


def test_plans_prefer_memory_then_disk_then_fold_major():
    assert fold_plan.choose(10 * MiB, 3, 40 * MiB, 100 * MiB).kind == "memory"
    on_disk = fold_plan.choose(10 * MiB, 3, 15 * MiB, 100 * MiB)
    assert (on_disk.kind, on_disk.in_memory) == ("disk", 1)
    assert fold_plan.choose(10 * MiB, 3, 15 * MiB, None).kind == "disk"
    major = fold_plan.choose(10 * MiB, 3, 5 * MiB, 25 * MiB)
    assert (major.kind, major.window) == ("fold-major", fold_plan.FOLD_MAJOR_WINDOW)
    assert "fold-major" in major.describe(5 * MiB, 25 * MiB)


def test_spark_status_is_read_from_the_jvm(spark):
    memory = spark_status.storage_memory(spark)
    assert memory is not None and 0 < memory.free <= memory.total
    df = spark.range(20000).selectExpr("id", "id * 3 AS x").persist(StorageLevel.DISK_ONLY)
    df.count()
    try:
        held = spark_status.persisted_bytes(df)
        assert held is not None and held > 0
        assert spark_status.cached(spark).disk >= held
    finally:
        df.unpersist(blocking=True)
    assert spark_status.persisted_bytes(df) is None
    assert spark_status.storage_memory(object()) is None


def test_folds_beyond_the_memory_budget_go_to_disk_and_none_is_rebuilt(spark, diamonds, caplog):
    caplog.set_level(logging.INFO, logger="sparktune.spark.cache")
    lr = LinearRegression(featuresCol="features", labelCol="price", maxIter=3)
    pipe = Pipeline(stages=featurizers() + [lr])
    options = {lr.regParam: [0.0, 1.0]}
    plan = pipeline.plan(pipe, options)
    cache = FoldCache(None, memory_bytes=1, num_folds=3)
    evaluator = RegressionEvaluator(labelCol="price")
    folds = splits.kfold(diamonds, 3, seed=3)
    objective = PipelineObjective(plan, folds, {"rmse": evaluator}, cache)
    try:
        for reg in (0.0, 1.0):
            for fold in range(3):
                objective.evaluate(Candidate({"regParam": reg}, {lr.regParam: reg}), fold)
        assert (cache.builds, cache.evictions) == (3, 0)
        assert cache.plan is not None and cache.plan.kind == "disk"
        assert objective.fold_major_window is None
        first, *rest = cache.entries()
        assert first.frames[0].storageLevel.useMemory and not first.on_disk  # before the plan
        for entry in rest:
            assert entry.on_disk
            assert entry.frames[0].storageLevel == StorageLevel.DISK_ONLY
        assert any("others on local disk" in m for m in cache_log(caplog))
    finally:
        objective.close()


def test_a_search_whose_folds_fit_keeps_every_fold_and_evicts_nothing(spark, diamonds, caplog):
    caplog.set_level(logging.DEBUG, logger="sparktune.spark.cache")
    sparktune.CrossValidator(**search(spark)).fit(diamonds)
    messages = cache_log(caplog)
    assert sum("all folds in memory" in m for m in messages) == 1
    assert sum(m.startswith("cached fold") for m in messages) == 3
    assert not [m for m in messages if m.startswith("evicted")]


def test_a_search_whose_folds_exceed_a_small_budget_matches_pyspark_fold_major(
    spark, diamonds, caplog
):
    caplog.set_level(logging.DEBUG, logger="sparktune.spark.cache")
    before = persisted(spark)
    cv = sparktune.CrossValidator(**search(spark))
    cv.cache_budget = 1
    ours = cv.fit(diamonds)
    theirs = pt.CrossValidator(**search(spark)).fit(diamonds)
    for a, b in zip(ours.avgMetrics, theirs.avgMetrics, strict=True):
        assert math.isclose(a, b, rel_tol=1e-4), (ours.avgMetrics, theirs.avgMetrics)
    messages = cache_log(caplog)
    assert sum("fold cache plan: fold-major" in m for m in messages) == 1
    builds = sum(m.startswith("cached fold") for m in messages)
    assert 3 <= builds <= 6  # 12 fits; once per fit would be 12
    assert persisted(spark) == before


class Interrupt(Callback):
    """Raises KeyboardInterrupt when the first trial ends (as Ctrl-C would), trials running."""

    raised = False

    def on_trial_end(self, trial):
        if not self.raised:
            self.raised = True
            raise KeyboardInterrupt


@pytest.mark.parametrize("ending", ["failure", "cancel"])  # success: the test above
def test_nothing_stays_persisted_under_a_small_budget(spark, diamonds, ending):
    before = persisted(spark)
    values = (0.0, -1.0) if ending == "failure" else (0.0, 1.0)
    cv = sparktune.CrossValidator(**search(spark, values))
    cv.cache_budget = 1
    if ending == "failure":
        cv.setErrorPolicy("raise")
        with pytest.raises(Exception, match="regParam"):
            cv.fit(diamonds)
    else:
        cv.callbacks.append(Interrupt())
        with pytest.raises(KeyboardInterrupt):
            cv.fit(diamonds)
    assert persisted(spark) == before
