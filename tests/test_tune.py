"""``sparktune.tune`` on real Spark: parallel trials, failures, timeout, conditional estimators."""

from __future__ import annotations

import glob
import json
import os
import time

import optuna
import pytest
from conftest import featurizers
from hyperopt import hp
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.regression import (
    DecisionTreeRegressionModel,
    DecisionTreeRegressor,
    GBTRegressor,
    LinearRegression,
    LinearRegressionModel,
)
from stages import FITS, CountingStage

import sparktune
from sparktune import Callback, SearchFailedError, TrialState, ValidationError
from sparktune.search.space import ESTIMATOR


class TagRecorder(Callback):
    """Keeps the Spark job tag of the search, when it started and ended, and its trials."""

    tag, started, ended, trials = None, None, None, ()

    def on_search_start(self, engine):
        self.tag, self.started = engine.tag, time.time()

    def on_search_end(self, trials, error):
        self.ended, self.trials = time.time(), list(trials)


@pytest.fixture(scope="module")
def small(diamonds):
    df = diamonds.limit(800).cache()
    df.count()
    yield df
    df.unpersist()


@pytest.fixture
def rmse():
    return RegressionEvaluator(labelCol="price", metricName="rmse")


def lr_pipeline(**params):
    lr = LinearRegression(featuresCol="features", labelCol="price", **params)
    return Pipeline(stages=featurizers() + [lr]), lr


def jobs_submitted(spark) -> int:
    """Jobs the scheduler has accepted so far (exact, unlike the asynchronous status store)."""
    return spark.sparkContext._jsc.sc().dagScheduler().numTotalJobs()


def trial_jobs(spark, tag, wait=60.0):
    """(trial, submitted ms, completed ms) of every Spark job of one search, from the event log.

    Event logging is asynchronous: wait until every job start of the search has its end.
    """
    folder = spark.sparkContext.getConf().get("spark.eventLog.dir").removeprefix("file:")
    app = spark.sparkContext.applicationId
    prefix = f"{tag}-trial-"
    deadline = time.time() + wait
    while True:
        starts, ends = {}, {}
        for path in sorted(glob.glob(os.path.join(folder, f"*{app}*", "events_*"))):
            with open(path) as lines:
                for line in lines:
                    event = json.loads(line)
                    if event["Event"] == "SparkListenerJobStart":
                        tags = (event.get("Properties") or {}).get("spark.job.tags", "")
                        for t in tags.split(","):
                            if t.startswith(prefix):
                                starts[event["Job ID"]] = (
                                    int(t[len(prefix) :]),
                                    event["Submission Time"],
                                )
                    elif event["Event"] == "SparkListenerJobEnd":
                        ends[event["Job ID"]] = event["Completion Time"]
        if starts and all(j in ends for j in starts):
            return [(trial, start, ends[j]) for j, (trial, start) in starts.items()]
        assert time.time() < deadline, "the event log never recorded the search's jobs ending"
        time.sleep(0.5)


def running_jobs(spark, tag, wait=10.0):
    """Ids of the search's Spark jobs the status tracker still reports running."""
    tracker = spark.sparkContext.statusTracker()
    deadline = time.time() + wait
    while True:
        ids = list(spark.sparkContext._jsc.sc().statusTracker().getJobIdsForTag(tag))
        running = [i for i in ids if (info := tracker.getJobInfo(i)) and info.status == "RUNNING"]
        if not running or time.time() > deadline:
            return running
        time.sleep(0.5)


def test_two_trials_run_spark_jobs_at_once_and_max_trials_are_distinct(spark, small, rmse):
    pipe, _ = lr_pipeline(maxIter=15, tol=0.0)
    space = {
        "LinearRegression.regParam": hp.loguniform("reg", -6, 2),
        "LinearRegression.elasticNetParam": [0.0, 0.5, 1.0],
    }
    recorder = TagRecorder()
    result = sparktune.tune(
        pipe,
        space,
        small,
        rmse,
        strategy="tpe",
        max_trials=4,
        parallelism=2,
        train_ratio=0.75,
        seed=1,
        callbacks=[recorder],
        progress=False,
        tracking=False,
        refit=False,
    )
    assert [t.number for t in result.trials] == [0, 1, 2, 3]
    assert (result.results["state"] == "complete").all()
    assert len({tuple(sorted(t.params.items())) for t in result.trials}) == 4
    jobs = trial_jobs(spark, recorder.tag)
    assert {trial for trial, _, _ in jobs} == {0, 1, 2, 3}
    overlapping = [
        (a, b)
        for a, a_start, a_end in jobs
        for b, b_start, b_end in jobs
        if a < b and a_start < b_end and b_start < a_end
    ]
    assert overlapping, "no two trials had Spark jobs running at the same time"


def test_values_that_make_the_fit_raise_fail_those_trials_only(spark, small, rmse):
    pipe, _ = lr_pipeline(maxIter=5, regParam=0.1)
    result = sparktune.tune(
        pipe,
        {
            "LinearRegression.loss": ["squaredError", "huber"],
            "LinearRegression.elasticNetParam": [0.0, 0.5],
        },
        small,
        rmse,
        strategy="grid",
        parallelism=2,
        num_folds=2,
        progress=False,
        tracking=False,
    )
    table = result.results.set_index(
        ["param_LinearRegression.loss", "param_LinearRegression.elasticNetParam"]
    )
    assert table.loc[("huber", 0.5), "state"] == "failed"
    assert "huber loss only supports L2" in table.loc[("huber", 0.5), "error"]
    others = table.drop(index=("huber", 0.5))
    assert (others["state"] == "complete").all() and others["error"].isna().all()
    assert result.best_params != {
        "LinearRegression.loss": "huber",
        "LinearRegression.elasticNetParam": 0.5,
    }
    assert result.best_metric == others["mean_val_rmse"].min()
    assert result.best_model.transform(small).count() == small.count()


def test_timeout_cancels_running_trials_and_leaves_nothing_behind(spark, small, rmse):
    gbt = GBTRegressor(featuresCol="features", labelCol="price", maxDepth=3)
    pipe = Pipeline(stages=featurizers() + [gbt])
    recorder = TagRecorder()
    persisted = spark.sparkContext._jsc.getPersistentRDDs().size()
    timeout = 10
    with pytest.raises(SearchFailedError, match=r"stop reason: timeout.*'cancelled': 2"):
        sparktune.tune(
            pipe,
            {"GBTRegressor.maxIter": [300, 301, 302]},
            small,
            rmse,
            strategy="grid",
            parallelism=2,
            train_ratio=0.75,
            timeout=timeout,
            callbacks=[recorder],
            progress=False,
            tracking=False,
        )
    assert recorder.ended - recorder.started < timeout + 10
    assert [t.state for t in recorder.trials] == [TrialState.CANCELLED] * 2
    assert running_jobs(spark, recorder.tag) == []
    assert spark.sparkContext._jsc.getPersistentRDDs().size() == persisted


def test_choice_between_final_estimators_with_shared_featurizers(spark, small, rmse):
    counting = CountingStage()
    lr = LinearRegression(featuresCol="features", labelCol="price", maxIter=5)
    tree = DecisionTreeRegressor(featuresCol="features", labelCol="price")
    pipe = Pipeline(stages=featurizers() + [counting, lr])
    space = {
        ESTIMATOR: hp.choice(
            "model",
            [
                {ESTIMATOR: lr, "LinearRegression.regParam": hp.loguniform("reg", -5, 1)},
                {ESTIMATOR: tree, "DecisionTreeRegressor.maxDepth": hp.quniform("depth", 2, 6, 1)},
            ],
        )
    }
    points = [
        {ESTIMATOR: lr, "LinearRegression.regParam": 0.1},
        {ESTIMATOR: tree, tree.maxDepth: 3},
    ]
    result = sparktune.tune(
        pipe,
        space,
        small,
        rmse,
        strategy="random",
        max_trials=4,
        parallelism=2,
        num_folds=2,
        points_to_evaluate=points,
        progress=False,
        tracking=False,
    )
    assert [t.params for t in result.trials[:2]] == [
        {ESTIMATOR: lr, "LinearRegression.regParam": 0.1},
        {ESTIMATOR: tree, "DecisionTreeRegressor.maxDepth": 3},
    ]
    assert type(result.trials[1].params["DecisionTreeRegressor.maxDepth"]) is int
    assert (result.results["state"] == "complete").all()
    assert FITS[counting.uid] == 2 + 1  # once per fold in the search, once in the refit
    model = result.best_model
    assert isinstance(model, PipelineModel) and len(model.stages) == len(pipe.getStages())
    expected = (
        LinearRegressionModel
        if result.best_params[ESTIMATOR] is lr
        else DecisionTreeRegressionModel
    )
    assert isinstance(model.stages[-1], expected)
    assert model.transform(small).count() == small.count()


def test_single_estimator_choice_with_validation_data_and_metrics_on_both_sides(spark, small, rmse):
    featurized = Pipeline(stages=featurizers()).fit(small).transform(small)
    train, validation = featurized.randomSplit([0.7, 0.3], seed=4)
    lr = LinearRegression(featuresCol="features", labelCol="price", maxIter=5)
    tree = DecisionTreeRegressor(featuresCol="features", labelCol="price", maxDepth=3)
    result = sparktune.tune(
        lr,
        {ESTIMATOR: [lr, tree]},
        train,
        rmse,
        extra_evaluators=[RegressionEvaluator(labelCol="price", metricName="r2")],
        strategy="grid",
        validation_data=validation,
        progress=False,
        tracking=False,
    )
    columns = set(result.results.columns)
    assert {"mean_val_rmse", "split0_val_r2", "mean_train_rmse", "split0_train_r2"} <= columns
    assert result.metric == "rmse" and result.larger_is_better is False
    assert isinstance(result.best_model, (LinearRegressionModel, DecisionTreeRegressionModel))
    assert result.best_model.uid == result.best_params[ESTIMATOR].uid


@pytest.mark.compat
def test_same_seed_at_parallelism_one_gives_the_same_trials(spark, small, rmse):
    def params():
        pipe, _ = lr_pipeline(maxIter=5)
        space = {
            "LinearRegression.regParam": hp.loguniform("reg", -6, 2),
            "LinearRegression.maxIter": hp.quniform("iters", 2, 8, 1),
        }
        result = sparktune.tune(
            pipe,
            space,
            small,
            rmse,
            max_trials=3,
            train_ratio=0.7,
            seed=11,
            progress=False,
            tracking=False,
            refit=False,
        )
        return [dict(t.params) for t in result.trials]

    first = params()
    assert params() == first
    assert all(type(p["LinearRegression.maxIter"]) is int for p in first)


def test_optuna_tpe_runs_two_trials_at_a_time_to_a_refitted_best(spark, small, rmse):
    pipe, _ = lr_pipeline(maxIter=10)
    space = {
        "LinearRegression.regParam": hp.loguniform("reg", -6, 2),
        "LinearRegression.elasticNetParam": [0.0, 0.5, 1.0],
    }
    common = dict(train_ratio=0.75, parallelism=2, seed=3, progress=False, tracking=False)
    result = sparktune.tune(pipe, space, small, rmse, strategy="optuna-tpe", max_trials=6, **common)
    assert [t.number for t in result.trials] == list(range(6))
    assert (result.results["state"] == "complete").all()
    assert len({tuple(sorted(t.params.items())) for t in result.trials}) == 6
    assert result.best_metric == min(t.value for t in result.trials)
    assert isinstance(result.best_model, PipelineModel)
    # Any Optuna sampler instance is a strategy too.
    sampler = optuna.samplers.RandomSampler(seed=0)
    other = sparktune.tune(
        pipe, space, small, rmse, strategy=sampler, max_trials=2, refit=False, **common
    )
    assert len(other.trials) == 2 and (other.results["state"] == "complete").all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"space": {"lr.regParam": [0.1]}}, "no stage is named 'lr'.*Stages:"),
        ({"space": {"LinearRegression.maxIter": [2.5]}}, "takes integers"),
        (
            {"strategy": "grid", "space": {"LinearRegression.regParam": hp.uniform("r", 0, 1)}},
            "continuous",
        ),
        ({"strategy": "bayes"}, "strategy must be one of"),
        (
            {"strategy": "cmaes", "space": {"LinearRegression.regParam": hp.normal("r", 0, 1)}},
            "hp.normal 'r' has no Optuna equivalent",
        ),
        ({"num_folds": 3, "train_ratio": 0.8}, "one of num_folds, train_ratio"),
        ({"points_to_evaluate": [{"LinearRegression.regParam": 7.0}]}, "not in the space"),
        ({"metric": "rsme"}, "metricName 'rsme'"),
        ({"callbacks": [print]}, "sparktune.Callback"),
    ],
)
def test_bad_input_fails_before_any_spark_job(spark, small, kwargs, message):
    pipe, _ = lr_pipeline(maxIter=5)
    args = {"space": {"LinearRegression.regParam": [0.1, 1.0]}, "metric": "rmse", **kwargs}
    evaluator = RegressionEvaluator(labelCol="price", metricName=args.pop("metric"))
    space = args.pop("space")
    before = jobs_submitted(spark)
    with pytest.raises(ValidationError, match=message):
        sparktune.tune(pipe, space, small, evaluator, progress=False, tracking=False, **args)
    assert jobs_submitted(spark) == before
