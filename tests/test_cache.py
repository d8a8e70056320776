"""The featurized-fold cache: build once per key, LRU eviction within a budget, full cleanup."""

from __future__ import annotations

import threading

import pytest
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.feature import SQLTransformer
from pyspark.ml.regression import LinearRegression
from pyspark.sql import SparkSession
from stages import CountingStage

from sparktune.core.trial import Candidate
from sparktune.spark import pipeline, splits
from sparktune.spark.cache import Entry, FoldCache, cached_size
from sparktune.spark.objective import PipelineObjective
from sparktune.spark.session import INTERPRETED, interpreted_session


def make_entry(cache, spark, rows):
    df = cache.persist(spark.range(rows).selectExpr("id", "id * 2 as twice"))
    df.count()
    return Entry(df, df, None, frames=[df])


def test_entry_is_built_once_under_concurrent_use(spark):
    cache = FoldCache(budget_bytes=None)
    builds = []

    def build():
        builds.append(1)
        return make_entry(cache, spark, 100)

    def user():
        with cache.use("k", build) as entry:
            assert entry.train.count() == 100

    threads = [threading.Thread(target=user) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1
    cache.close()


def test_least_recently_used_entries_are_evicted_beyond_budget(spark):
    probe = FoldCache()
    one = make_entry(probe, spark, 5000)
    probe_size = cached_size(one.frames[0])
    assert probe_size > 0
    one.unpersist()
    cache = FoldCache(budget_bytes=int(probe_size * 2.5))
    entries = {}
    for key in ["a", "b", "c"]:
        with cache.use(key, lambda: make_entry(cache, spark, 5000)) as entry:
            entries[key] = entry
    assert cache.evictions == 1
    assert not entries["a"].train.is_cached
    assert entries["b"].train.is_cached and entries["c"].train.is_cached
    with cache.use("b", lambda: pytest.fail("b must still be cached")):
        pass
    cache.close()
    assert not entries["b"].train.is_cached and not entries["c"].train.is_cached


def test_entries_in_use_are_never_evicted_and_idle_ones_only_for_a_new_entry(spark):
    cache = FoldCache(budget_bytes=1)
    with cache.use("pinned", lambda: make_entry(cache, spark, 1000)) as pinned:
        with cache.use("other", lambda: make_entry(cache, spark, 1000)) as other:
            assert pinned.train.is_cached
        assert pinned.train.is_cached
    assert pinned.train.is_cached and other.train.is_cached  # idle, no one needs the room
    with cache.use("pinned", lambda: pytest.fail("pinned must still be cached")):
        pass
    with cache.use("third", lambda: make_entry(cache, spark, 1000)):
        assert not pinned.train.is_cached and not other.train.is_cached
    assert cache.evictions == 2
    cache.close()


def test_a_user_waiting_for_a_fold_builds_the_next_one_meanwhile(spark):
    cache = FoldCache(num_folds=3)  # no memory budget: every fold fits, the "memory" plan
    with cache.use("first", lambda: make_entry(cache, spark, 100)):
        pass
    assert cache.plan is not None and cache.plan.kind == "memory"
    building, release, ahead_built = threading.Event(), threading.Event(), threading.Event()

    def slow():
        building.set()
        assert release.wait(120)
        return make_entry(cache, spark, 100)

    def next_fold():
        entry = make_entry(cache, spark, 100)
        ahead_built.set()
        return entry

    def user(key, build, ahead=None):
        with cache.use(key, build, ahead) as entry:
            assert entry.train.count() == 100

    owner = threading.Thread(target=user, args=("a", slow))
    owner.start()
    assert building.wait(120)
    waiter = threading.Thread(
        target=user, args=("a", lambda: pytest.fail("a is being built"), lambda: [("b", next_fold)])
    )
    waiter.start()
    assert ahead_built.wait(120)  # built while "a" was still being built
    release.set()
    owner.join(120)
    waiter.join(120)
    with cache.use("b", lambda: pytest.fail("b was built ahead")):
        pass
    assert cache.builds == 3
    cache.close()


def test_a_failed_build_is_remembered_not_repeated(spark):
    cache = FoldCache()
    calls = []

    def build():
        calls.append(1)
        raise RuntimeError("prefix fit failed")

    for _ in range(3):
        with pytest.raises(RuntimeError, match="prefix fit failed"):
            with cache.use("bad", build):
                pass
    assert len(calls) == 1
    cache.close()


def test_cached_folds_keep_only_the_columns_the_suffix_and_evaluators_read(
    spark, diamonds, regression_pipeline
):
    pipe, lr = regression_pipeline
    evaluator = RegressionEvaluator(labelCol="price", weightCol="carat")
    options = {lr.regParam: [0.0, 0.1]}
    plan = pipeline.plan(pipe, options)
    columns = pipeline.referenced_columns([*plan.suffix, evaluator], options)
    folds = splits.kfold(diamonds, 2, seed=3)
    objective = PipelineObjective(plan, folds, {"rmse": evaluator}, FoldCache(), columns=columns)
    result = objective.evaluate(Candidate({"regParam": 0.1}, {lr.regParam: 0.1}), 0)
    (entry,) = objective.cache.entries()
    assert sorted(entry.train.columns) == ["carat", "features", "price"]
    assert sorted(entry.validation.columns) == ["carat", "features", "price"]
    assert result.metrics["rmse"] > 0
    objective.close()


def test_stages_that_may_read_any_column_keep_every_column():
    sql = SQLTransformer(statement="SELECT * FROM __THIS__")
    assert pipeline.referenced_columns([sql], {}) is None
    assert pipeline.referenced_columns([CountingStage()], {}) is None
    names = pipeline.referenced_columns([LinearRegression(featuresCol="f", weightCol="w")], {})
    assert {"f", "w", "label"} <= names


def test_candidates_fit_on_an_interpreted_clone_without_compiling_code(
    spark, diamonds, regression_pipeline
):
    pipe, lr = regression_pipeline
    plan = pipeline.plan(pipe, {lr.regParam: [0.0, 0.1, 1.0]})
    folds = splits.kfold(diamonds, 2, seed=3)
    clone = interpreted_session(spark)
    evaluator = RegressionEvaluator(labelCol="price")
    objective = PipelineObjective(plan, folds, {"rmse": evaluator}, FoldCache(), session=clone)
    compiled = spark.sparkContext._jvm.org.apache.spark.metrics.source.CodegenMetrics
    objective.evaluate(Candidate({"regParam": 0.0}, {lr.regParam: 0.0}), 0)  # featurizes
    before = compiled.METRIC_COMPILATION_TIME().getCount()
    for reg in (0.1, 1.0):
        result = objective.evaluate(Candidate({"regParam": reg}, {lr.regParam: reg}), 0)
        assert result.metrics["rmse"] > 0
    assert compiled.METRIC_COMPILATION_TIME().getCount() == before
    (entry,) = objective.cache.entries()
    assert entry.train.sparkSession is clone
    assert spark.conf.get(INTERPRETED[0]) != INTERPRETED[1]
    objective.close()


def test_a_codegen_mode_the_user_set_is_kept(spark):
    key, _ = INTERPRETED
    spark.conf.set(key, "CODEGEN_ONLY")
    try:
        assert interpreted_session(spark) is spark
    finally:
        spark.conf.unset(key)
    assert interpreted_session(spark).conf.get(key) == "NO_CODEGEN"


def test_the_clone_never_becomes_pysparks_default_session(spark):
    key, _ = INTERPRETED
    jvm_class = SparkSession._get_j_spark_session_class(spark._jvm)
    SparkSession._instantiatedSession = None  # as when the session was not made by a builder
    try:
        clone = interpreted_session(spark)
        default, active = SparkSession._instantiatedSession, SparkSession._activeSession
        jvm_default = jvm_class.getDefaultSession().get()
    finally:  # whatever happened, later tests get the session back
        SparkSession._instantiatedSession = SparkSession._activeSession = spark
        jvm_class.setDefaultSession(spark._jsparkSession)
        jvm_class.setActiveSession(spark._jsparkSession)
    assert clone.conf.get(key) == "NO_CODEGEN"
    assert default is spark and active is spark
    assert jvm_default.equals(spark._jsparkSession)
