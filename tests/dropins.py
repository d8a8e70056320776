"""The drop-ins against pyspark's own tuning classes, written once for both kinds of session.

``tests/test_dropins.py`` runs these on the classic session, ``tests/connect/
test_connect_dropins.py`` on Spark Connect. Each takes the session (and pytest's
``tmp_path`` / ``caplog``) and asserts what pyspark's classes do in the same case: save and
load fitted and unfitted, go on past a fold with no validation rows, and say "Fold number
must be in range" for a foldCol value out of range.
"""

from __future__ import annotations

import logging
import math

import pytest
from pyspark.ml import tuning as pt
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.linalg import Vectors
from pyspark.sql import functions as F

import sparktune
from sparktune import ValidationError


def six_rows(spark):
    """Six labelled rows: as small as pyspark's own tuning tests go."""
    rows = [(Vectors.dense([float(i), float(i % 3)]), float(i % 2)) for i in range(6)]
    return spark.createDataFrame(rows, ["features", "label"])


def thirty_rows(spark):
    """Thirty rows, enough for every fold of 2-3 folds to hold both labels."""
    rows = [(Vectors.dense([float(i % 7), float(i % 3)]), float(i % 2)) for i in range(30)]
    return spark.createDataFrame(rows, ["features", "label"]).cache()


def grid_of(lr):
    return pt.ParamGridBuilder().addGrid(lr.regParam, [0.0, 0.1, 1.0]).build()


def validators(lr):
    """Each drop-in, unfitted, with a non-default value of every Param of its own."""
    grid, evaluator = grid_of(lr), BinaryClassificationEvaluator()
    common = dict(estimator=lr, estimatorParamMaps=grid, evaluator=evaluator, seed=5)
    return {
        "CrossValidator": sparktune.CrossValidator(numFolds=2, errorPolicy="raise", **common),
        "TrainValidationSplit": sparktune.TrainValidationSplit(
            trainRatio=0.6, errorPolicy="raise", **common
        ),
        "HalvingCrossValidator": sparktune.HalvingCrossValidator(
            numFolds=2, factor=3, resource="maxIter", minResource=1, maxResource=3, **common
        ),
        "RacingCrossValidator": sparktune.RacingCrossValidator(
            numFolds=3, burnIn=2, alpha=0.1, test="win_loss", **common
        ),
    }


#: Every drop-in validator, by class name.
DROP_INS = [
    "CrossValidator",
    "TrainValidationSplit",
    "HalvingCrossValidator",
    "RacingCrossValidator",
]


def check_validator_round_trip(name, tmp_path):
    """An unfitted drop-in saves (twice: overwrite) and loads as its own class and Params."""
    lr = LogisticRegression(maxIter=3)
    validator = validators(lr)[name]
    path = str(tmp_path / name)
    validator.write().overwrite().save(path)
    validator.write().overwrite().save(path)  # the path exists now: overwrite replaces it
    loaded = type(validator).load(path)
    assert type(loaded) is type(validator)
    assert loaded.uid == validator.uid
    assert loaded.getEstimator().uid == lr.uid
    assert loaded.getEvaluator().uid == validator.getEvaluator().uid
    assert [{p.name: v for p, v in m.items()} for m in loaded.getEstimatorParamMaps()] == [
        {p.name: v for p, v in m.items()} for m in validator.getEstimatorParamMaps()
    ]
    for param in validator.params:
        if param.name in ("estimator", "evaluator", "estimatorParamMaps"):
            continue
        assert loaded.isDefined(param.name) == validator.isDefined(param)
        if validator.isDefined(param):
            assert loaded.getOrDefault(param.name) == validator.getOrDefault(param), param.name


def check_model_round_trip(name, spark, tmp_path):
    """A fitted drop-in's model saves as pyspark's class and loads with the same metrics
    and predictions (sub-models too, when collected)."""
    data = thirty_rows(spark)
    validator = validators(LogisticRegression(maxIter=3))[name].setCollectSubModels(True)
    model = validator.fit(data)
    tvs = name == "TrainValidationSplit"
    plain = pt.TrainValidationSplitModel if tvs else pt.CrossValidatorModel
    assert isinstance(model, plain)
    path = str(tmp_path / f"{name}-model")
    model.write().overwrite().option("persistSubModels", "true").save(path)
    model.write().overwrite().save(path)
    loaded = plain.load(path)
    assert type(loaded) is plain
    metrics = "validationMetrics" if tvs else "avgMetrics"
    assert getattr(loaded, metrics) == pytest.approx(getattr(model, metrics), nan_ok=True)
    assert loaded.bestModel.uid == model.bestModel.uid
    assert loaded.subModels is not None
    expected = model.transform(data).select("prediction").collect()
    assert loaded.transform(data).select("prediction").collect() == expected
    data.unpersist()


def seed_with_an_empty_fold(data, num_folds):
    """A seed whose ``rand(seed)`` k-fold (pyspark's cut) leaves some fold with no rows while
    every fold's training part holds both labels (so pyspark's own fit succeeds)."""
    seeds = range(100)
    rows = data.select("label", *[F.rand(seed).alias(f"r{seed}") for seed in seeds]).collect()
    for seed in seeds:
        folds = [int(row[f"r{seed}"] * num_folds) for row in rows]
        if all(f in folds for f in range(num_folds)):
            continue
        training = [{row.label for row, f in zip(rows, folds) if f != k} for k in range(num_folds)]
        if all(labels == {0.0, 1.0} for labels in training):
            return seed
    raise AssertionError("no seed in 0..99 leaves a fold empty")


def check_empty_fold_goes_on(spark, caplog):
    """Six rows, three folds, one fold empty: pyspark goes on, so do the drop-ins (with a
    warning and pyspark's metrics); tune() still refuses, naming the fold."""
    data = six_rows(spark)
    seed = seed_with_an_empty_fold(data, 3)
    lr = LogisticRegression(maxIter=3)
    kwargs = dict(
        estimator=lr,
        estimatorParamMaps=grid_of(lr),
        evaluator=BinaryClassificationEvaluator(),
        numFolds=3,
        seed=seed,
    )
    theirs = pt.CrossValidator(**kwargs).fit(data)
    with caplog.at_level(logging.WARNING, logger="sparktune"):
        ours = sparktune.CrossValidator(**kwargs).fit(data)
    assert any("no validation rows" in r.getMessage() for r in caplog.records)
    assert len(ours.avgMetrics) == len(theirs.avgMetrics)
    for a, b in zip(ours.avgMetrics, theirs.avgMetrics):
        assert math.isclose(a, b, rel_tol=1e-6) or (math.isnan(a) and math.isnan(b))
    with pytest.raises(ValidationError, match="has no validation rows"):
        sparktune.tune(
            lr,
            {"LogisticRegression.regParam": [0.0, 0.1]},
            data,
            BinaryClassificationEvaluator(),
            num_folds=3,
            seed=seed,
            tracking=False,
            progress=False,
        )


def check_fold_col_out_of_range(spark):
    """A foldCol value >= numFolds: pyspark's words inside sparktune's clearer message;
    a fold with no rows: pyspark's "The validation data at fold 3 is empty"."""
    data = six_rows(spark).withColumn("fold", (F.monotonically_increasing_id() % 3).cast("int"))
    lr = LogisticRegression(maxIter=3)
    evaluator = BinaryClassificationEvaluator()
    kwargs = dict(estimator=lr, estimatorParamMaps=grid_of(lr), evaluator=evaluator)
    words = r"Fold number must be in range \[0, 2\), but got 2"
    with pytest.raises(Exception, match=words):
        pt.CrossValidator(numFolds=2, foldCol="fold", **kwargs).fit(data)
    with pytest.raises(ValidationError, match=words) as raised:
        sparktune.CrossValidator(numFolds=2, foldCol="fold", **kwargs).fit(data)
    assert "foldCol 'fold'" in str(raised.value)
    empty = "The validation data at fold 3 is empty"
    with pytest.raises(Exception, match=empty):
        pt.CrossValidator(numFolds=4, foldCol="fold", **kwargs).fit(data)
    with pytest.raises(ValidationError, match=empty):
        sparktune.CrossValidator(numFolds=4, foldCol="fold", **kwargs).fit(data)
