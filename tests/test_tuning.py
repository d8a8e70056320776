"""The drop-in CrossValidator / TrainValidationSplit against pyspark's own, on real Spark."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import featurizers
from pyspark.ml import Pipeline
from pyspark.ml import tuning as pt
from pyspark.ml.classification import LogisticRegression, OneVsRest
from pyspark.ml.evaluation import MulticlassClassificationEvaluator, RegressionEvaluator
from pyspark.ml.feature import StandardScaler
from pyspark.ml.regression import LinearRegression
from pyspark.sql import functions as F
from stages import FITS, CountingStage, FailingStage

import sparktune
from sparktune import Callback, ValidationError


def persisted(spark) -> int:
    return spark.sparkContext._jsc.getPersistentRDDs().size()


def close(a, b, rel=1e-4):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert math.isclose(x, y, rel_tol=rel), (a, b)


def lr_pipeline(max_iter=5):
    lr = LinearRegression(featuresCol="features", labelCol="price", maxIter=max_iter)
    return Pipeline(stages=featurizers() + [lr]), lr


@pytest.fixture
def rmse():
    return RegressionEvaluator(labelCol="price", metricName="rmse")


@pytest.mark.parametrize("fold_col", [False, True])
def test_cv_metrics_match_pyspark(spark, diamonds, rmse, fold_col):
    pipe, lr = lr_pipeline()
    grid = (
        pt.ParamGridBuilder()
        .addGrid(lr.regParam, [0.0, 1.0])
        .addGrid(lr.elasticNetParam, [0.0, 0.5])
        .build()
    )
    data = diamonds.withColumn("fold", (F.abs(F.hash("x", "carat")) % 3).cast("int"))
    kwargs = dict(estimator=pipe, estimatorParamMaps=grid, evaluator=rmse, numFolds=3, seed=11)
    if fold_col:
        kwargs["foldCol"] = "fold"
    ours = sparktune.CrossValidator(parallelism=2, **kwargs).fit(data)
    theirs = pt.CrossValidator(parallelism=2, **kwargs).fit(data)
    assert isinstance(ours, pt.CrossValidatorModel)
    close(ours.avgMetrics, theirs.avgMetrics)
    close(ours.stdMetrics, theirs.stdMetrics, rel=1e-3)
    table = ours.results
    assert list(table["state"]) == ["complete"] * 4
    assert {"split0_val_rmse", "split2_val_rmse", "std_val_rmse", "fit_time"} <= set(table.columns)
    assert np.allclose(table["mean_val_rmse"], ours.avgMetrics)


def test_tvs_metrics_match_pyspark_with_nested_pipeline(spark, diamonds, rmse):
    lr = LinearRegression(featuresCol="features", labelCol="price", maxIter=5)
    pipe = Pipeline(stages=[Pipeline(stages=featurizers()), lr])
    grid = pt.ParamGridBuilder().addGrid(lr.regParam, [0.0, 0.5, 5.0]).build()
    kwargs = dict(estimator=pipe, estimatorParamMaps=grid, evaluator=rmse, trainRatio=0.7, seed=3)
    ours = sparktune.TrainValidationSplit(parallelism=2, collectSubModels=True, **kwargs).fit(
        diamonds
    )
    theirs = pt.TrainValidationSplit(parallelism=2, **kwargs).fit(diamonds)
    assert isinstance(ours, pt.TrainValidationSplitModel)
    close(ours.validationMetrics, theirs.validationMetrics)
    assert len(ours.subModels) == 3
    predicted = ours.subModels[0].transform(diamonds).select("prediction").count()
    assert predicted == diamonds.count()


def test_prefix_fitted_once_per_fold(spark, diamonds, rmse):
    counter = CountingStage()
    lr = LinearRegression(featuresCol="features", labelCol="price", maxIter=3)
    pipe = Pipeline(stages=[counter] + featurizers() + [lr])
    grid = (
        pt.ParamGridBuilder()
        .addGrid(lr.regParam, [0.0, 0.1, 1.0])
        .addGrid(lr.elasticNetParam, [0.0, 1.0])
        .build()
    )
    assert len(grid) == 6
    FITS.clear()
    kwargs = dict(estimator=pipe, estimatorParamMaps=grid, evaluator=rmse, numFolds=3, seed=1)
    sparktune.CrossValidator(parallelism=2, **kwargs).fit(diamonds)
    assert FITS[counter.uid] == 3 + 1
    FITS.clear()
    pt.CrossValidator(parallelism=2, **kwargs).fit(diamonds)
    assert FITS[counter.uid] == 19


def test_search_reaching_into_prefix_keys_cache_by_prefix_params(spark, diamonds, rmse):
    counter = CountingStage()
    stages = featurizers()
    scaler = stages[-1]
    assert isinstance(scaler, StandardScaler)
    lr = LinearRegression(featuresCol="features", labelCol="price", maxIter=3)
    pipe = Pipeline(stages=[counter] + stages + [lr])
    grid = (
        pt.ParamGridBuilder()
        .addGrid(scaler.withMean, [False, True])
        .addGrid(lr.regParam, [0.0, 1.0])
        .build()
    )
    kwargs = dict(estimator=pipe, estimatorParamMaps=grid, evaluator=rmse, numFolds=2, seed=5)
    FITS.clear()
    ours = sparktune.CrossValidator(parallelism=2, **kwargs).fit(diamonds)
    assert FITS[counter.uid] == 2 * 2 + 1
    theirs = pt.CrossValidator(parallelism=1, **kwargs).fit(diamonds)
    close(ours.avgMetrics, theirs.avgMetrics)


def test_params_valued_grid_over_one_vs_rest_classifier(spark, diamonds):
    data = diamonds.withColumn("label", (F.col("price") > 2400).cast("double"))
    first = LogisticRegression(featuresCol="features", maxIter=5)
    second = LogisticRegression(featuresCol="features", maxIter=10, regParam=0.3)
    ovr = OneVsRest(classifier=first, featuresCol="features")
    pipe = Pipeline(stages=featurizers() + [ovr])
    grid = pt.ParamGridBuilder().addGrid(ovr.classifier, [first, second]).build()
    evaluator = MulticlassClassificationEvaluator(metricName="accuracy")
    kwargs = dict(estimator=pipe, estimatorParamMaps=grid, evaluator=evaluator, seed=2)
    ours = sparktune.TrainValidationSplit(parallelism=2, **kwargs).fit(data)
    theirs = pt.TrainValidationSplit(parallelism=2, **kwargs).fit(data)
    close(ours.validationMetrics, theirs.validationMetrics)
    assert ours.results["param_OneVsRest.classifier"].str.startswith("LogisticRegression(").all()


class PersistWatcher(Callback):
    def __init__(self, spark):
        self.spark, self.seen = spark, []

    def on_trial_end(self, trial):
        self.seen.append(persisted(self.spark))


def test_nothing_left_persisted_after_success_or_failure(spark, diamonds, rmse):
    pipe, lr = lr_pipeline(max_iter=3)
    before = persisted(spark)
    cv = sparktune.CrossValidator(
        estimator=pipe,
        estimatorParamMaps=pt.ParamGridBuilder().addGrid(lr.regParam, [0.0, 1.0]).build(),
        evaluator=rmse,
        numFolds=2,
        parallelism=2,
    )
    watcher = PersistWatcher(spark)
    cv.callbacks.append(watcher)
    cv.fit(diamonds)
    assert max(watcher.seen) > before
    assert persisted(spark) == before

    failing = pt.ParamGridBuilder().addGrid(lr.regParam, [0.0, -1.0]).build()
    cv.setEstimatorParamMaps(failing).setErrorPolicy("raise")
    with pytest.raises(Exception, match="regParam"):
        cv.fit(diamonds)
    assert persisted(spark) == before


def test_failing_param_map_does_not_stop_the_others(spark, diamonds, rmse):
    pipe, lr = lr_pipeline(max_iter=3)
    grid = pt.ParamGridBuilder().addGrid(lr.regParam, [0.0, -1.0, 1.0]).build()
    model = sparktune.CrossValidator(
        estimator=pipe, estimatorParamMaps=grid, evaluator=rmse, numFolds=2, parallelism=2
    ).fit(diamonds)
    assert math.isnan(model.avgMetrics[1])
    assert not math.isnan(model.avgMetrics[0]) and not math.isnan(model.avgMetrics[2])
    failed = model.results.loc[1]
    assert failed["state"] == "failed"
    assert "regParam" in failed["error"]
    assert model.bestModel.stages[-1].getRegParam() in (0.0, 1.0)


def test_raise_policy_reproduces_pyspark(spark, diamonds, rmse):
    pipe, lr = lr_pipeline(max_iter=3)
    grid = pt.ParamGridBuilder().addGrid(lr.regParam, [0.0, -1.0]).build()
    kwargs = dict(estimator=pipe, estimatorParamMaps=grid, evaluator=rmse, numFolds=2)
    with pytest.raises(Exception) as theirs:
        pt.CrossValidator(**kwargs).fit(diamonds)
    with pytest.raises(Exception) as ours:
        sparktune.CrossValidator(errorPolicy="raise", **kwargs).fit(diamonds)
    assert type(ours.value) is type(theirs.value)
    assert "regParam" in str(ours.value)


def test_every_candidate_failing_names_the_first_failure(spark, diamonds, rmse):
    pipe, lr = lr_pipeline(max_iter=3)
    grid = pt.ParamGridBuilder().addGrid(lr.regParam, [-1.0, -2.0]).build()
    cv = sparktune.CrossValidator(estimator=pipe, estimatorParamMaps=grid, evaluator=rmse)
    with pytest.raises(sparktune.SearchFailedError, match=r"All 2 candidates failed.*regParam"):
        cv.fit(diamonds)


def test_a_failed_refit_raises_with_the_results_or_as_pyspark_under_raise(spark, diamonds, rmse):
    guard = FailingStage(
        maxRows=2500
    )  # the 1,500-row training folds fit; the 3,000-row refit fails
    lr = LinearRegression(featuresCol="features", labelCol="price", maxIter=3)
    grid = pt.ParamGridBuilder().addGrid(lr.regParam, [0.0, 1.0]).build()
    kwargs = dict(
        estimator=Pipeline(stages=[guard, *featurizers(), lr]),
        estimatorParamMaps=grid,
        evaluator=rmse,
        numFolds=2,
    )
    with pytest.raises(sparktune.RefitError, match="FailingStage got 3000 rows") as kept:
        sparktune.CrossValidator(**kwargs).fit(diamonds)
    assert len(kept.value.results) == 2 and (kept.value.results["state"] == "complete").all()
    assert set(kept.value.best_params) == {"LinearRegression.regParam"}
    with pytest.raises(Exception, match="FailingStage got 3000 rows") as raised:
        sparktune.CrossValidator(errorPolicy="raise", **kwargs).fit(diamonds)
    assert not isinstance(raised.value, sparktune.RefitError)


def test_estimator_and_model_save_and_load(spark, diamonds, rmse, tmp_path):
    pipe, lr = lr_pipeline(max_iter=3)
    grid = pt.ParamGridBuilder().addGrid(lr.regParam, [0.0, 1.0]).build()
    cv = sparktune.CrossValidator(
        estimator=pipe, estimatorParamMaps=grid, evaluator=rmse, numFolds=2, errorPolicy="raise"
    )
    cv.save(str(tmp_path / "cv"))
    loaded = sparktune.CrossValidator.load(str(tmp_path / "cv"))
    assert isinstance(loaded, sparktune.CrossValidator)
    assert loaded.getErrorPolicy() == "raise" and loaded.getNumFolds() == 2
    assert len(loaded.getEstimatorParamMaps()) == 2

    model = cv.setCollectSubModels(True).fit(diamonds)
    assert len(model.subModels) == 2 and len(model.subModels[0]) == 2
    model.write().option("persistSubModels", "true").save(str(tmp_path / "model"))
    back = pt.CrossValidatorModel.load(str(tmp_path / "model"))
    assert back.avgMetrics == pytest.approx(model.avgMetrics)
    expected = model.transform(diamonds).select("prediction").collect()
    assert back.transform(diamonds).select("prediction").collect() == expected


def test_tvs_model_saves_as_pyspark_class(spark, diamonds, rmse, tmp_path):
    pipe, lr = lr_pipeline(max_iter=3)
    grid = pt.ParamGridBuilder().addGrid(lr.regParam, [0.0, 1.0]).build()
    model = sparktune.TrainValidationSplit(
        estimator=pipe, estimatorParamMaps=grid, evaluator=rmse
    ).fit(diamonds)
    model.save(str(tmp_path / "tvs"))
    back = pt.TrainValidationSplitModel.load(str(tmp_path / "tvs"))
    assert type(back) is pt.TrainValidationSplitModel
    assert back.validationMetrics == pytest.approx(model.validationMetrics)


@pytest.mark.parametrize(
    "change, message",
    [
        ("metric", "metricName 'nonsense'"),
        ("folds", "numFolds must be an integer >= 2"),
        ("foldcol", "values outside \\[0, 3\\)"),
        ("empty", "empty"),
        ("foreign", "not a stage of the estimator"),
        ("label", "labelCol='no_such_label'"),
    ],
)
def test_bad_input_fails_before_any_fit(spark, diamonds, rmse, change, message):
    counter = CountingStage()
    lr = LinearRegression(featuresCol="features", labelCol="price", maxIter=3)
    pipe = Pipeline(stages=[counter] + featurizers() + [lr])
    grid = pt.ParamGridBuilder().addGrid(lr.regParam, [0.0, 1.0]).build()
    cv = sparktune.CrossValidator(estimator=pipe, estimatorParamMaps=grid, evaluator=rmse)
    data = diamonds
    if change == "metric":
        cv.setEvaluator(RegressionEvaluator(labelCol="price", metricName="nonsense"))
    elif change == "folds":
        cv.setNumFolds(1)
    elif change == "foldcol":
        data = diamonds.withColumn("fold", (F.col("price") % 5).cast("int"))
        cv.setFoldCol("fold")
    elif change == "empty":
        data = diamonds.limit(0)
    elif change == "foreign":
        other = LinearRegression()
        cv.setEstimatorParamMaps([{other.regParam: 0.1}])
    elif change == "label":
        cv.setEvaluator(RegressionEvaluator(labelCol="no_such_label"))
    FITS.clear()
    with pytest.raises(ValidationError, match=message):
        cv.fit(data)
    assert FITS[counter.uid] == 0
