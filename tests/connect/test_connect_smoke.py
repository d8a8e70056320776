"""The Connect test infrastructure works: pyspark's own CrossValidator fits on the suite's
Spark Connect server (the anchor sparktune's drop-ins are compared with there)."""

from __future__ import annotations

import math

import pytest
from pyspark.ml import Pipeline
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.regression import LinearRegression
from pyspark.ml.tuning import CrossValidator, CrossValidatorModel, ParamGridBuilder
from pyspark.sql.connect.session import SparkSession as ConnectSession
from pyspark.sql.utils import is_remote

pytestmark = pytest.mark.connect


def test_pyspark_cross_validator_fits_on_connect(spark, small_diamonds):
    assert is_remote() and isinstance(spark, ConnectSession)
    lr = LinearRegression(featuresCol="features", labelCol="price", maxIter=10)
    pipeline = Pipeline(
        stages=[VectorAssembler(inputCols=["carat", "depth", "table"], outputCol="features"), lr]
    )
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 0.5]).build()
    cv = CrossValidator(
        estimator=pipeline,
        estimatorParamMaps=grid,
        evaluator=RegressionEvaluator(labelCol="price", metricName="rmse"),
        numFolds=2,
        parallelism=2,
        seed=3,
    )
    model = cv.fit(small_diamonds)
    assert isinstance(model, CrossValidatorModel)
    assert len(model.avgMetrics) == len(grid)
    assert all(math.isfinite(m) and m > 0 for m in model.avgMetrics)
