"""sparktune on a real Spark Connect server (pyspark's own, on 127.0.0.1; see conftest.py).

The drop-ins give pyspark's metrics on the same Connect session, tune() keeps trials in
flight and cancels on Connect, failing candidates and bad input behave as on a classic
session, the server's model cache ends a long search where it started, jobs take
``spark.remote``, and MLflow gets the model.
"""

from __future__ import annotations

import math
import time

import pytest
from hyperopt import hp
from pyspark import StorageLevel
from pyspark.ml import Pipeline
from pyspark.ml import tuning as pt
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.feature import StringIndexer, VectorAssembler
from pyspark.ml.regression import GBTRegressor, LinearRegression
from pyspark.sql import functions as F

import sparktune
from sparktune import Callback, TrialState, ValidationError

pytestmark = pytest.mark.connect

NUMERIC = ["carat", "depth", "table", "x", "y", "z"]


@pytest.fixture(scope="module")
def data(small_diamonds):
    """A few hundred diamonds with a fold column, cached on the server for this module."""
    df = small_diamonds.withColumn(
        "fold", (F.abs(F.hash("carat", "depth", "x")) % 3).cast("int")
    ).cache()
    df.count()
    yield df
    df.unpersist()


def pipeline(**lr_params):
    lr = LinearRegression(featuresCol="features", labelCol="price", maxIter=10, **lr_params)
    stages = [
        StringIndexer(inputCol="cut", outputCol="cut_idx"),
        VectorAssembler(inputCols=[*NUMERIC, "cut_idx"], outputCol="features"),
        lr,
    ]
    return Pipeline(stages=stages), lr


def rmse():
    return RegressionEvaluator(labelCol="price", metricName="rmse")


def search_reg_param(data, **options):
    """tune() over LinearRegression.regParam, 2 trials in flight, untracked."""
    pipe, _ = pipeline()
    space = {"LinearRegression.regParam": hp.loguniform("reg", -6, 2)}
    options = {"parallelism": 2, "tracking": False, "progress": False, **options}
    return sparktune.tune(pipe, space, data, rmse(), **options)


def relative(a, b):
    return abs(a - b) / abs(b)


@pytest.mark.parametrize("fold_col", ["", "fold"])
def test_cross_validator_matches_pysparks_on_the_same_session(data, fold_col):
    pipe, lr = pipeline()
    grid = pt.ParamGridBuilder().addGrid(lr.regParam, [0.01, 1.0, 10.0]).build()
    common = dict(
        estimator=pipe,
        estimatorParamMaps=grid,
        evaluator=rmse(),
        numFolds=3,
        seed=7,
        parallelism=2,
        foldCol=fold_col,
    )
    ours = sparktune.CrossValidator(**common).fit(data)
    theirs = pt.CrossValidator(**common).fit(data)
    assert len(ours.avgMetrics) == 3
    assert all(relative(a, b) < 1e-4 for a, b in zip(ours.avgMetrics, theirs.avgMetrics))
    assert ours.bestModel.transform(data).count() == 400


def test_train_validation_split_matches_pysparks(data):
    pipe, lr = pipeline()
    grid = pt.ParamGridBuilder().addGrid(lr.elasticNetParam, [0.0, 1.0]).build()
    common = dict(estimator=pipe, estimatorParamMaps=grid, evaluator=rmse(), seed=3)
    ours = sparktune.TrainValidationSplit(parallelism=2, **common).fit(data)
    theirs = pt.TrainValidationSplit(**common).fit(data)
    pairs = zip(ours.validationMetrics, theirs.validationMetrics)
    assert all(relative(a, b) < 1e-4 for a, b in pairs)


def test_tpe_keeps_two_trials_in_flight_and_restores_the_session(spark, data):
    result = search_reg_param(data, strategy="tpe", max_trials=6, num_folds=2)
    assert spark.conf.get("spark.sql.codegen.factoryMode", None) is None
    trials = result.trials
    assert len(trials) == 6 and all(t.state is TrialState.COMPLETE for t in trials)
    # Two trials ran on the server at once: their intervals overlap by more than a fit.
    overlaps = [
        min(a.finished, b.finished) - max(a.started, b.started) for a, b in zip(trials, trials[1:])
    ]
    shortest_fit = min(f.fit_time for t in trials for f in t.folds)
    assert max(overlaps) > shortest_fit > 0
    assert math.isfinite(result.best_metric)


def test_timeout_interrupts_running_fits_and_releases_the_folds(data):
    cached = []

    class Folds(Callback):
        def on_search_start(self, engine):
            self.objective = engine.objective

        def on_trial_end(self, trial):  # cancelled trials end before the cache closes
            cached.extend(f for e in self.objective.cache.entries() for f in e.frames)

    gbt = GBTRegressor(featuresCol="features", labelCol="price", maxIter=200, maxDepth=6)
    stages = [VectorAssembler(inputCols=NUMERIC, outputCol="features"), gbt]
    started = time.monotonic()
    with pytest.raises(sparktune.SearchFailedError, match="stop reason: timeout"):
        sparktune.tune(
            Pipeline(stages=stages),
            {"GBTRegressor.stepSize": [0.05, 0.1, 0.2, 0.3]},
            data,
            rmse(),
            strategy="grid",
            parallelism=2,
            num_folds=2,
            timeout=8,
            refit=False,
            tracking=False,
            progress=False,
            callbacks=[Folds()],
        )
    assert time.monotonic() - started < 90
    assert cached, "no fold was cached, so the test shows nothing"
    assert all(frame.storageLevel == StorageLevel.NONE for frame in cached)


def test_a_failing_candidate_is_recorded_not_fatal(data):
    pipe, _ = pipeline()
    result = sparktune.tune(
        pipe,
        {"LinearRegression.maxIter": [5, -1]},
        data,
        rmse(),
        strategy="grid",
        num_folds=2,
        tracking=False,
        progress=False,
    )
    states = {t.params["LinearRegression.maxIter"]: t for t in result.trials}
    assert states[5].state is TrialState.COMPLETE
    assert states[-1].state is TrialState.FAILED and "maxIter" in states[-1].error


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"evaluator": {"labelCol": "price", "metricName": "rsme"}}, "rsme"),
        ({"evaluator": {"labelCol": "cost"}}, "cost"),
        ({"space": {"LinearRegression.regParm": [0.1]}}, "regParm"),
        ({"parallelism": 0}, "parallelism must be a positive integer"),
    ],
)
def test_bad_input_gets_the_classic_errors(data, change, message):
    pipe, _ = pipeline()
    arguments = dict(
        space={"LinearRegression.regParam": [0.1]},
        evaluator={"labelCol": "price"},
        strategy="grid",
        tracking=False,
        progress=False,
    )
    arguments.update(change)
    arguments["evaluator"] = RegressionEvaluator(**arguments["evaluator"])
    with pytest.raises(ValidationError, match=message):
        sparktune.tune(pipe, arguments.pop("space"), data, arguments.pop("evaluator"), **arguments)


def test_xgboost_on_connect_names_the_version_it_needs(data):
    from xgboost.spark import SparkXGBRegressor

    xgb = SparkXGBRegressor(features_col="features", label_col="price", num_workers=1)
    stages = [VectorAssembler(inputCols=NUMERIC, outputCol="features"), xgb]
    with pytest.raises(ValidationError, match=r"from xgboost 3\.3"):
        sparktune.tune(
            Pipeline(stages=stages),
            {"SparkXGBRegressor.max_depth": [2, 3]},
            data,
            rmse(),
            strategy="grid",
            tracking=False,
            progress=False,
        )


def test_a_long_search_leaves_the_servers_model_cache_where_it_started(data, ml_cache_limit):
    # About five small models fit under this limit: a search that kept its candidates'
    # models (100 trials, 2 at a time) would overflow the cache and fail its trials.
    ml_cache_limit(40_000)
    result = search_reg_param(
        data, strategy="random", max_trials=100, train_ratio=0.75, train_metrics=False
    )
    errors = {t.error for t in result.trials if t.state is not TrialState.COMPLETE}
    assert len(result.trials) == 100 and not errors, errors
    assert result.best_model.transform(data).count() == 400


def test_a_job_spec_runs_on_the_server_it_names_and_logs_to_mlflow(connect_server, tmp_path):
    from mlflow import MlflowClient

    from sparktune.jobs import cli

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    overrides = {
        "spark.remote": connect_server.url,
        "data.limit": "600",
        "search.space.lr.regParam": "[0.1, 1.0]",
        "search.space.lr.elasticNetParam": "[0.0]",
        "evaluation.folds": "2",
        "tracking.uri": store,
        "output.model": str(tmp_path / "model"),
        "output.results": str(tmp_path / "results.csv"),
    }
    sets = [arg for key, value in overrides.items() for arg in ("--set", f"{key}={value}")]
    assert cli.main(["run", "conf/examples/diamonds_grid.yaml", *sets, "--no-progress"]) == 0
    assert (tmp_path / "results.csv").read_text().count("\n") == 3  # header + 2 trials
    client = MlflowClient(store)
    (parent,) = [
        run
        for run in client.search_runs(
            ["0", *[e.experiment_id for e in client.search_experiments()]]
        )
        if "mlflow.parentRunId" not in run.data.tags
    ]
    assert parent.data.params["spark.master"]  # read without a SparkContext
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} >= {"model", "results.csv"}
