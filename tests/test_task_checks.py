"""Bad input a newcomer's first own run meets: a metric that does not suit the task, and string
columns fed to a scikit-learn estimator. Each is refused before any fit, naming the metric (or
column), the label and the estimator, from the Python API, the drop-ins and job specs alike.
"""

from __future__ import annotations

import copy
from pathlib import Path

import local_estimators
import numpy as np
import pandas as pd
import pytest
import yaml
from local_estimators import FitMarker, FitMarkerClassifier
from pyspark import cloudpickle
from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import (
    BinaryClassificationEvaluator,
    MulticlassClassificationEvaluator,
    RegressionEvaluator,
)
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.regression import LinearRegression
from pyspark.ml.tuning import ParamGridBuilder
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from stages import FITS, CountingStage

import sparktune
from sparktune import ValidationError
from sparktune.jobs import cli
from sparktune.spark.local_checks import check_feature_types

cloudpickle.register_pickle_by_value(local_estimators)


@pytest.fixture(scope="module")
def data(spark):
    """40 rows: two features, a continuous label y, a 0/1 label yb and a 3-class label y3."""
    rows = [(float(i), float(i % 7), 2.0 * i + 0.5, float(i % 2), float(i % 3)) for i in range(40)]
    schema = "x1 double, x2 double, y double, yb double, y3 double"
    return spark.createDataFrame(rows, schema).cache()


def pipeline(final):
    counter = CountingStage()
    assembler = VectorAssembler(inputCols=["x1", "x2"], outputCol="features")
    return Pipeline(stages=[counter, assembler, final]), counter


def tune_fails(data, final, evaluator, *needles, extra=()):
    """``tune`` refuses the pipeline ending in ``final`` scored by ``evaluator``, no fit run;
    the message names each of ``needles``."""
    pipe, counter = pipeline(final)
    FITS.clear()
    with pytest.raises(ValidationError) as info:
        sparktune.tune(
            pipe, {f"{final.uid}.maxIter": [1, 2]}, data, evaluator, extra_evaluators=list(extra),
            strategy="grid", num_folds=2, tracking=False, progress=False,
        )  # fmt: skip
    assert FITS[counter.uid] == 0, "a fit ran before the bad input was reported"
    message = str(info.value)
    for needle in needles:
        assert needle in message, message
    return message


# -- Spark pipelines: metric and task ------------------------------------------------------


def test_classification_metric_on_a_regressor(data):
    lr = LinearRegression(labelCol="y")._resetUid("lr")
    evaluator = MulticlassClassificationEvaluator(labelCol="y", metricName="accuracy")
    tune_fails(data, lr, evaluator, "'accuracy'", "'lr' (LinearRegression)", "label 'y'", "rmse")


def test_area_under_roc_on_a_regressor(data):
    lr = LinearRegression(labelCol="y")._resetUid("lr")
    evaluator = BinaryClassificationEvaluator(labelCol="y")
    tune_fails(data, lr, evaluator, "'areaUnderROC'", "is a regressor", "label 'y'")


def test_regression_metric_on_a_classifier(data):
    clf = LogisticRegression(labelCol="yb")._resetUid("clf")
    evaluator = RegressionEvaluator(labelCol="yb", metricName="rmse")
    tune_fails(data, clf, evaluator, "'rmse'", "'clf' (LogisticRegression)", "classifier")


def test_a_classification_extra_metric_on_a_regressor(data):
    lr = LinearRegression(labelCol="y")._resetUid("lr")
    extra = [MulticlassClassificationEvaluator(labelCol="y", metricName="f1")]
    tune_fails(data, lr, RegressionEvaluator(labelCol="y"), "'f1'", "'lr'", extra=extra)


def test_metric_input_column_the_pipeline_does_not_make(data):
    clf = LogisticRegression(labelCol="yb", rawPredictionCol="raw")._resetUid("clf")
    evaluator = BinaryClassificationEvaluator(labelCol="yb")
    tune_fails(
        data, clf, evaluator, "rawPredictionCol='rawPrediction'", "does not produce", "label 'yb'"
    )


def test_log_loss_without_a_probability_column(data):
    clf = LogisticRegression(labelCol="yb", probabilityCol="p")._resetUid("clf")
    evaluator = MulticlassClassificationEvaluator(labelCol="yb", metricName="logLoss")
    tune_fails(data, clf, evaluator, "'logLoss'", "probabilityCol='probability'")


def test_classification_metric_on_a_continuous_label(data):
    clf = LogisticRegression(labelCol="y")._resetUid("clf")
    evaluator = MulticlassClassificationEvaluator(labelCol="y", metricName="f1")
    tune_fails(data, clf, evaluator, "'f1'", "label column 'y'", "non-integer", "'clf'")


def test_binary_metric_on_three_classes(data):
    clf = LogisticRegression(labelCol="y3")._resetUid("clf")
    evaluator = BinaryClassificationEvaluator(labelCol="y3")
    tune_fails(data, clf, evaluator, "'areaUnderROC'", "labels 0 and 1", "'y3'", "(e.g. 2.0)")


def test_drop_in_classification_metric_on_a_regressor(data):
    lr = LinearRegression(labelCol="y")._resetUid("lr")
    pipe, counter = pipeline(lr)
    FITS.clear()
    validator = sparktune.CrossValidator(
        estimator=pipe,
        estimatorParamMaps=ParamGridBuilder().addGrid(lr.regParam, [0.1]).build(),
        evaluator=MulticlassClassificationEvaluator(labelCol="y", metricName="accuracy"),
        numFolds=2,
    )
    with pytest.raises(ValidationError, match=r"'accuracy'.*'lr' \(LinearRegression\)"):
        validator.fit(data)
    assert FITS[counter.uid] == 0


# -- scikit-learn estimators: scorer and task, string columns -------------------------------


@pytest.fixture
def frame():
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "a": rng.normal(size=30),
            "b": rng.normal(size=30),
            "city": [f"c{i % 3}" for i in range(30)],
            "y": rng.normal(size=30),
            "yb": [i % 2 for i in range(30)],
        }
    )


def local_fails(spark, tmp_path, estimator, frame, scoring, *needles, **kwargs):
    """``tune`` with a scikit-learn estimator is refused naming ``needles``; nothing fitted
    (the FitMarker steps write ``fits.txt`` when fitted)."""
    with pytest.raises(ValidationError) as info:
        sparktune.tune(
            estimator, {"fitmarker__alpha" if hasattr(estimator, "steps") else "alpha": [1.0]},
            frame, scoring, strategy="grid", num_folds=2, tracking=False, progress=False,
            **kwargs,
        )  # fmt: skip
    assert not (tmp_path / "fits.txt").exists(), "a fit ran before the bad input was reported"
    message = str(info.value)
    for needle in needles:
        assert needle in message, message
    return message


def test_sklearn_classification_scorer_on_a_regressor(spark, tmp_path, frame):
    model = FitMarker(mark=str(tmp_path / "fits.txt"))
    features = ["a", "b"]
    local_fails(
        spark, tmp_path, model, frame, "accuracy", "'accuracy'", "FitMarker is a regressor",
        "label 'y'", label="y", features=features,
    )  # fmt: skip


def test_sklearn_regression_scorer_on_a_classifier(spark, tmp_path, frame):
    model = FitMarkerClassifier(mark=str(tmp_path / "fits.txt"))
    local_fails(
        spark, tmp_path, model, frame, "r2", "'r2'", "classifier", "label 'yb'",
        label="yb", features=["a", "b"],
    )  # fmt: skip


def test_sklearn_classification_scorer_on_a_continuous_label(spark, tmp_path, frame):
    model = FitMarkerClassifier(mark=str(tmp_path / "fits.txt"))
    local_fails(
        spark, tmp_path, model, frame, "f1", "'f1'", "label column 'y'", "non-integer",
        label="y", features=["a", "b"],
    )  # fmt: skip


def test_sklearn_string_feature_column(spark, tmp_path, frame):
    pipe = make_pipeline(StandardScaler(), FitMarker(mark=str(tmp_path / "fits.txt")))
    local_fails(
        spark, tmp_path, pipe, frame, "r2", "['city']", "StandardScaler", "OneHotEncoder",
        "features=", label="y", features=["a", "city"],
    )  # fmt: skip


def test_sklearn_string_feature_to_a_gradient_booster(spark, tmp_path, frame):
    with pytest.raises(ValidationError, match=r"\['city'\].*HistGradientBoostingRegressor"):
        sparktune.tune(
            HistGradientBoostingRegressor(), {"max_depth": [2]}, frame.drop(columns=["yb"]),
            "r2", label="y", strategy="grid", tracking=False, progress=False,
        )  # fmt: skip


def test_an_encoding_first_step_takes_string_columns(frame):
    encode = make_column_transformer((OneHotEncoder(), ["city"]), remainder="passthrough")
    check_feature_types(frame[["a", "city"]], make_pipeline(encode, FitMarker()))
    check_feature_types(frame[["a", "b"]], HistGradientBoostingRegressor())
    with pytest.raises(ValidationError, match="city"):
        check_feature_types(frame[["a", "city"]], HistGradientBoostingRegressor())


# -- job specs: `sparktune validate` (no Spark) and `run` -------------------------------------

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "conf" / "examples"


def spec_fails(capsys, tmp_path, raw, *needles, command="validate"):
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    status = cli.main([command, str(path)])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


def example(name):
    return yaml.safe_load((EXAMPLES / name).read_text())


def test_spec_classification_metric_on_a_regression_pipeline(tmp_path, capsys):
    raw = example("diamonds_grid.yaml")
    raw["evaluation"]["metric"] = "accuracy"
    spec_fails(capsys, tmp_path, raw, "evaluation.metric", "'accuracy'", "'lr'", "'price'")


def test_spec_area_under_roc_on_a_regression_pipeline(tmp_path, capsys):
    raw = example("diamonds_grid.yaml")
    raw["evaluation"]["metric"] = {"binary": "areaUnderROC"}
    spec_fails(capsys, tmp_path, raw, "evaluation.metric", "'areaUnderROC'", "regressor")


def test_spec_regression_extra_metric_on_a_classifier(tmp_path, capsys):
    raw = example("diamonds_cut_classification.yaml")
    raw["evaluation"]["extra_metrics"] = ["accuracy", "rmse"]
    spec_fails(capsys, tmp_path, raw, "evaluation.extra_metrics[1]", "'rmse'", "'rf'", "classifier")


def test_spec_run_refuses_a_mismatched_metric_before_spark(tmp_path, capsys):
    raw = example("diamonds_grid.yaml")
    raw["evaluation"]["metric"] = "f1"
    raw["output"] = {"results": str(tmp_path / "out" / "results.csv")}
    spec_fails(capsys, tmp_path, raw, "'f1'", command="run")
    assert not (tmp_path / "out").exists()


def test_spec_classification_scorer_on_a_regressor_estimator(tmp_path, capsys):
    raw = example("diamonds_sklearn.yaml")
    raw["evaluation"]["scoring"] = "roc_auc"
    spec_fails(
        capsys, tmp_path, raw, "evaluation.scoring", "'roc_auc'", "HistGradientBoostingRegressor"
    )


def test_spec_estimator_with_a_string_feature_column(spark, tmp_path, capsys):
    csv = tmp_path / "homes.csv"
    rows = [f"{i},{['north', 'south'][i % 2]},{100 + 3 * i}" for i in range(30)]
    csv.write_text("rooms,area,price\n" + "\n".join(rows) + "\n")
    raw = copy.deepcopy(example("diamonds_sklearn.yaml"))
    raw["data"] = {"path": str(csv), "label": "price"}
    raw["search"] = {"strategy": "grid", "space": {"max_depth": [2]}}
    raw["tracking"] = {"enabled": False}
    raw["output"] = {"results": str(tmp_path / "out" / "results.csv")}
    spec_fails(capsys, tmp_path, raw, "['area']", "HistGradientBoostingRegressor", command="run")
    assert not (tmp_path / "out").exists()


def test_per_group_string_feature_and_scorer_are_checked_before_any_task(spark, tmp_path, frame):
    from sparktune import tune_groups

    df = spark.createDataFrame(frame.assign(store=["a", "b"] * 15))
    mark = str(tmp_path / "fits.txt")
    common = dict(group_by=["store"], label="y", strategy="grid", max_trials=1, tracking=False)
    with pytest.raises(ValidationError, match=r"\['city'\].*StandardScaler"):
        tune_groups(
            df, estimator=make_pipeline(StandardScaler(), FitMarker(mark=mark)),
            space={"fitmarker__alpha": [1.0]}, metric="r2", **common,
        )  # fmt: skip
    with pytest.raises(ValidationError, match=r"'accuracy'.*FitMarker is a regressor.*'y'"):
        tune_groups(
            df, estimator=FitMarker(mark=mark), space={"alpha": [1.0]}, metric="accuracy",
            features=["a", "b"], **common,
        )  # fmt: skip
    assert not (tmp_path / "fits.txt").exists()
