"""sparktune's core install plus a cluster's pyspark, nothing else (``make test`` builds that
environment in ``.venv-core`` and runs this folder there; the other runs leave it out).

The drop-ins and an untracked ``tune()`` work; asking for what an extra brings names the
extra, before any Spark job.
"""

from __future__ import annotations

import importlib.util
import logging

import pyspark
import pytest
from hyperopt import hp
from pyspark.ml import tuning as pt
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.linalg import Vectors

import sparktune
from sparktune.compat.extras import MissingExtraError

OPTIONAL = ["mlflow", "optuna", "cmaes", "xgboost", "sklearn", "matplotlib"]


@pytest.fixture(scope="module")
def data(spark):
    rows = [(Vectors.dense([float(i % 7), float(i % 3)]), float(i % 2)) for i in range(30)]
    return spark.createDataFrame(rows, ["features", "label"]).cache()


def test_this_is_the_core_install_on_a_clusters_pyspark():
    assert [m for m in OPTIONAL if importlib.util.find_spec(m) is not None] == []
    assert pyspark.__version__.startswith("3.5.")
    assert sparktune.PYSPARK_VERSION == pyspark.__version__


def test_the_drop_in_cross_validator_fits(data):
    lr = LogisticRegression(maxIter=3)
    grid = pt.ParamGridBuilder().addGrid(lr.regParam, [0.0, 0.5]).build()
    model = sparktune.CrossValidator(
        estimator=lr,
        estimatorParamMaps=grid,
        evaluator=BinaryClassificationEvaluator(),
        numFolds=2,
        seed=3,
        parallelism=2,
    ).fit(data)
    assert isinstance(model, pt.CrossValidatorModel)
    assert len(model.avgMetrics) == 2 and model.results["state"].eq("complete").all()


def test_tune_untracked_by_default_and_tracking_names_the_extra(data, caplog):
    lr = LogisticRegression(maxIter=3)
    space = {"LogisticRegression.regParam": hp.uniform("reg", 0.0, 1.0)}
    evaluator = BinaryClassificationEvaluator()
    with pytest.raises(MissingExtraError, match=r"pip install 'sparktune\[mlflow\]'"):
        sparktune.tune(lr, space, data, evaluator, tracking=True, max_trials=2, progress=False)
    with caplog.at_level(logging.WARNING, logger="sparktune"):
        result = sparktune.tune(
            lr,
            space,
            data,
            evaluator,
            strategy="random",
            max_trials=2,
            num_folds=2,
            progress=False,
        )
    assert result.run_id is None and len(result.results) == 2
    with pytest.raises(MissingExtraError, match=r"pip install 'sparktune\[plots\]'"):
        result.plot()
    with pytest.raises(MissingExtraError, match=r"pip install 'sparktune\[optuna\]'"):
        sparktune.tune(lr, space, data, evaluator, strategy="optuna-tpe", progress=False)
