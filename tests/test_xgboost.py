"""xgboost.spark estimators in a search: parity with pyspark, slot-aware concurrency, early
stopping without leakage, and the best pipeline saved, loaded and logged to MLflow."""

from __future__ import annotations

import logging
import math
import threading

import mlflow
import mlflow.spark
import pytest
from conftest import featurizers
from hyperopt import hp
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml import tuning as pt
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.sql import functions as F
from xgboost.spark import SparkXGBClassifier, SparkXGBRegressor

import sparktune
from sparktune import ValidationError
from sparktune.core.settings import SearchSettings, Split
from sparktune.core.trial import Candidate
from sparktune.lifecycle.search import SearchProblem, evaluate
from sparktune.search.candidates import CandidateList
from sparktune.spark import splits
from sparktune.spark.slots import check_barrier_conf, check_classic, cluster_slots, fit_slots

SEED = 11


@pytest.fixture(scope="module")
def data(diamonds):
    """A few hundred diamonds with a row id, cached for this module."""
    df = diamonds.limit(360).withColumn("id", F.monotonically_increasing_id()).cache()
    df.count()
    yield df
    df.unpersist()


def regressor(**kwargs):
    defaults = dict(
        features_col="features", label_col="price", n_estimators=10, num_workers=1, verbosity=0
    )
    return SparkXGBRegressor(**{**defaults, **kwargs})


def rmse():
    return RegressionEvaluator(labelCol="price", metricName="rmse")


def validator(xgb_stage, grid, **kwargs):
    pipe = Pipeline(stages=featurizers() + [xgb_stage])
    params = dict(estimator=pipe, estimatorParamMaps=grid, evaluator=rmse(), numFolds=2, seed=SEED)
    return sparktune.CrossValidator(**{**params, **kwargs})


@pytest.fixture(scope="module")
def searched(data):
    """sparktune's and pyspark's CrossValidator over max_depth x learning_rate, same seed."""
    stage = regressor()
    grid = (
        pt.ParamGridBuilder()
        .addGrid(stage.max_depth, [2, 4])
        .addGrid(stage.learning_rate, [0.1, 0.5])
        .build()
    )
    ours = validator(stage, grid, parallelism=2).fit(data)
    theirs = pt.CrossValidator(
        estimator=ours.getEstimator(),
        estimatorParamMaps=grid,
        evaluator=rmse(),
        numFolds=2,
        seed=SEED,
        parallelism=2,
    ).fit(data)
    return ours, theirs


def test_grid_over_xgboost_matches_pyspark(searched):
    ours, theirs = searched
    for a, b in zip(ours.avgMetrics, theirs.avgMetrics):
        assert math.isclose(a, b, rel_tol=1e-4), (ours.avgMetrics, theirs.avgMetrics)
    assert len(set(ours.avgMetrics)) == 4  # the params really reached XGBoost
    assert list(ours.results["param_SparkXGBRegressor.max_depth"]) == [2, 2, 4, 4]
    assert ours.results.attrs["parallelism"] == 2


def test_num_workers_above_the_slots_fails_before_any_fit(spark, data):
    assert cluster_slots(spark) == 2  # local[2]
    stage = regressor(num_workers=3)
    grid = pt.ParamGridBuilder().addGrid(stage.max_depth, [2, 3]).build()
    with pytest.raises(ValidationError, match=r"num_workers=3.*offers only 2 task slot"):
        validator(stage, grid, parallelism=2).fit(data)
    assert spark.sparkContext.statusTracker().getActiveJobsIds() == []


def test_searched_num_workers_are_checked_up_front(spark, data):
    stage = regressor()
    grid = pt.ParamGridBuilder().addGrid(stage.num_workers, [1, 4]).build()
    with pytest.raises(ValidationError, match=r"num_workers=4.*2 task slot"):
        validator(stage, grid).fit(data)


def test_a_candidate_the_space_did_not_list_is_checked_before_its_fit(spark, data):
    """Values a space cannot list up front (a distribution) are checked as they are asked."""
    stage = regressor()
    pipe = Pipeline(stages=featurizers() + [stage])
    asked = Candidate({"num_workers": 5}, {stage.num_workers: 5, stage.max_depth: 2})
    with pytest.raises(ValidationError, match=r"num_workers=5.*2 task slot"):
        evaluate(
            SearchSettings("test", "grid", ("rmse",), False, Split("kfold", 2), seed=SEED),
            SearchProblem(data, pipe, {stage.max_depth: [2]}, [rmse()]),
            CandidateList([asked]),
            callbacks=(),
            cache_budget=2**26,
            resumed=(),
        )


def test_two_workers_at_parallelism_four_run_one_at_a_time(spark, data, caplog):
    stage = regressor(num_workers=2)
    grid = pt.ParamGridBuilder().addGrid(stage.max_depth, [2, 3]).build()
    with caplog.at_level(logging.WARNING, logger="sparktune.spark.slots"):
        model = validator(stage, grid, parallelism=4).fit(data)
    assert model.results.attrs["parallelism"] == 1
    assert (model.results["state"] == "complete").all()
    assert all(math.isfinite(m) for m in model.avgMetrics)
    assert "parallelism lowered from 4 to 1" in caplog.text
    assert "num_workers=2" in caplog.text


def test_slots_needed_follow_the_candidate_and_nested_choices():
    small, big = regressor(num_workers=1), SparkXGBClassifier(num_workers=2)
    inner = Pipeline(stages=[small])
    assert fit_slots([inner], {}) == (1, small)
    assert fit_slots([inner], {inner.stages: [[small], [big]]}) == (2, big)
    assert fit_slots([small], {small.num_workers: [3]}) == (3, small)
    assert fit_slots(featurizers(), {}) == (1, None)


def test_barrier_mode_refuses_dynamic_allocation_and_spark_connect(spark):
    on = {"spark.dynamicAllocation.enabled": "true"}
    with pytest.raises(ValidationError, match="spark.dynamicAllocation.enabled"):
        check_barrier_conf(on, is_local=False)
    check_barrier_conf(on, is_local=True)  # local masters ignore dynamic allocation
    check_barrier_conf({}, is_local=False)
    check_classic(spark)
    with pytest.raises(ValidationError, match=r"from xgboost 3\.3, but xgboost 3\.\d+ is"):
        check_classic(spark.sparkContext)


class RecordingXGBRegressor(SparkXGBRegressor):
    """A real SparkXGBRegressor that records, per fit, the row ids it trains and early-stops on."""

    fits: list[tuple[frozenset, frozenset]] = []
    lock = threading.Lock()

    def _fit(self, dataset):
        indicator = self.getOrDefault("validationIndicatorCol")
        rows = dataset.select("id", F.col(indicator).alias("es")).collect()
        with self.lock:
            self.fits.append(
                (
                    frozenset(r.id for r in rows if not r.es),
                    frozenset(r.id for r in rows if r.es),
                )
            )
        return super()._fit(dataset)


def test_early_stopping_set_comes_from_the_training_part_only(spark, data):
    stage = RecordingXGBRegressor(
        features_col="features",
        label_col="price",
        n_estimators=40,
        learning_rate=0.9,
        early_stopping_rounds=2,
        num_workers=1,
        verbosity=0,
    )
    RecordingXGBRegressor.fits.clear()
    grid = pt.ParamGridBuilder().addGrid(stage.max_depth, [2, 4]).build()
    model = validator(stage, grid, numFolds=3, parallelism=2).fit(data)

    everything = {r.id for r in data.select("id").collect()}
    folds = [
        (
            {r.id for r in f.train.select("id").collect()},
            {r.id for r in f.validation.select("id").collect()},
        )
        for f in splits.kfold(data, 3, SEED)
    ]
    assert len(RecordingXGBRegressor.fits) == 2 * 3 + 1  # every (candidate x fold), then refit
    seen_folds = set()
    for trained, stopping in RecordingXGBRegressor.fits:
        assert stopping, "every fit early-stops on a non-empty set"
        if trained | stopping == everything:
            continue  # the final refit of the best candidate on all the data
        (k,) = [k for k, (train, _) in enumerate(folds) if trained <= train]
        train, validation = folds[k]
        seen_folds.add(k)
        assert not stopping & validation, f"fold {k} early-stops on rows it is scored on"
        assert trained | stopping == train
        assert 0.02 < len(stopping) / len(train) < 0.25
    assert seen_folds == {0, 1, 2}

    results = model.results
    for k in range(3):
        best = results[f"split{k}_best_iteration"]
        assert ((best >= 0) & (best < 40)).all(), best
    assert isinstance(model.bestModel, PipelineModel)


def test_best_xgboost_pipeline_saves_loads_and_logs_to_mlflow(searched, data, tmp_path):
    best = searched[0].bestModel
    assert isinstance(best, PipelineModel)
    expected = [r.prediction for r in best.transform(data).orderBy("id").collect()]

    best.write().overwrite().save(str(tmp_path / "model"))
    loaded = PipelineModel.load(str(tmp_path / "model"))
    assert type(loaded.stages[-1]).__name__ == "SparkXGBRegressorModel"
    again = [r.prediction for r in loaded.transform(data).orderBy("id").collect()]
    assert again == pytest.approx(expected, rel=1e-6)

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    try:
        experiment = mlflow.create_experiment("xgb", artifact_location=str(tmp_path / "artifacts"))
        with mlflow.start_run(experiment_id=experiment) as run:
            mlflow.spark.log_model(
                best, artifact_path="model", pip_requirements=["pyspark", "xgboost"]
            )
        from_mlflow = mlflow.spark.load_model(f"runs:/{run.info.run_id}/model")
    finally:
        mlflow.set_tracking_uri(previous)
    assert isinstance(from_mlflow, PipelineModel)
    logged = [r.prediction for r in from_mlflow.transform(data).orderBy("id").collect()]
    assert logged == pytest.approx(expected, rel=1e-6)


SPACES = {
    "grid": {
        "SparkXGBRegressor.max_depth": [2, 4],
        "SparkXGBRegressor.learning_rate": [0.1, 0.4],
        "SparkXGBRegressor.n_estimators": [6, 12],
    },
    "random": {
        "SparkXGBRegressor.max_depth": hp.quniform("depth", 2, 6, 1),
        "SparkXGBRegressor.learning_rate": hp.loguniform("eta", math.log(0.05), math.log(0.5)),
        "SparkXGBRegressor.n_estimators": hp.quniform("trees", 5, 15, 1),
    },
}
SPACES["tpe"] = SPACES["random"]


@pytest.mark.parametrize("strategy", ["grid", "random", "tpe"])
def test_tune_strategies_search_xgboost_params_as_ints(spark, data, strategy):
    pipe = Pipeline(stages=featurizers() + [regressor()])
    result = sparktune.tune(
        pipe,
        SPACES[strategy],
        data,
        rmse(),
        strategy=strategy,
        max_trials=3,
        parallelism=2,
        train_ratio=0.7,
        seed=3,
        refit=strategy == "tpe",
        train_metrics=False,
        tracking=False,
        progress=False,
    )
    assert len(result.trials) == 3
    assert all(t.state.value == "complete" for t in result.trials)
    for trial in result.trials:
        for name in ("max_depth", "n_estimators"):
            value = trial.params[f"SparkXGBRegressor.{name}"]
            assert type(value) is int, (name, value)
    assert len({tuple(t.params.values()) for t in result.trials}) == 3
    assert result.results.attrs["parallelism"] == 2
    if result.best_model is not None:
        booster = result.best_model.stages[-1].get_booster()
        assert booster.num_boosted_rounds() == result.best_params["SparkXGBRegressor.n_estimators"]


def test_tune_with_early_stopping_records_best_iteration_and_refits(spark, data):
    stage = regressor(n_estimators=40, early_stopping_rounds=2)
    result = sparktune.tune(
        Pipeline(stages=featurizers() + [stage]),
        {"SparkXGBRegressor.learning_rate": [0.5, 0.9]},
        data,
        rmse(),
        strategy="grid",
        parallelism=2,
        num_folds=2,
        tracking=False,
        progress=False,
    )
    for k in range(2):
        assert result.results[f"split{k}_best_iteration"].between(0, 39).all()
    booster = result.best_model.stages[-1].get_booster()
    assert booster.best_iteration < 40
    assert result.best_model.transform(data).count() == data.count()
