"""One real local SparkSession for the whole test session, small and quiet.

The Spark Connect tests (``tests/connect``) need a pytest process of their own (a Connect
session switches ``pyspark.ml`` to Connect for the whole process): a run not pointed at
that folder does not collect it, and ``make test`` runs it as a second process.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from pyspark.ml import Pipeline
from pyspark.ml.feature import OneHotEncoder, StandardScaler, StringIndexer, VectorAssembler

from sparktune.jobs.datasets import load_diamonds
from sparktune.spark.session import get_session

os.environ["PYSPARK_PYTHON"] = sys.executable

CONNECT_DIR = Path(__file__).parent / "connect"
#: Tests for the core install alone (``make test`` runs them in ``.venv-core``).
CORE_ONLY_DIR = Path(__file__).parent / "core_only"


def _targets(config, folder: Path) -> bool:
    """Whether this run was pointed at ``folder`` (or something inside it)."""
    base = config.invocation_params.dir
    for arg in config.args:
        path = (base / arg.split("::")[0]).resolve()
        if path == folder or folder in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path, config):
    """Leave ``tests/connect`` and ``tests/core_only`` out of runs not pointed at them."""
    for folder in (CONNECT_DIR, CORE_ONLY_DIR):
        if collection_path == folder and not _targets(config, folder):
            return True
    return None


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    events = tmp_path_factory.mktemp("spark-events")
    session = get_session(
        "local[2]",
        {
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.driver.memory": "2g",
            "spark.eventLog.enabled": "true",
            "spark.eventLog.dir": str(events),
            "spark.eventLog.compress": "false",  # plain JSON lines, readable by tests
        },
        app_name="sparktune-tests",
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def diamonds(spark):
    """A 3,000-row sample of the bundled diamonds data, cached for the session."""
    df = load_diamonds(spark).sample(fraction=0.06, seed=7).limit(3000).cache()
    df.count()
    return df


def featurizers(label: str = "price"):
    """The featurizer stages of the diamonds regression pipeline (fresh objects each call)."""
    cats = ["cut", "color", "clarity"]
    return [
        StringIndexer(inputCols=cats, outputCols=[f"{c}_idx" for c in cats]),
        OneHotEncoder(inputCols=[f"{c}_idx" for c in cats], outputCols=[f"{c}_vec" for c in cats]),
        VectorAssembler(
            inputCols=["carat", "depth", "table", "x", "y", "z"] + [f"{c}_vec" for c in cats],
            outputCol="raw",
        ),
        StandardScaler(inputCol="raw", outputCol="features"),
    ]


def persisted_count(spark) -> int:
    """Persisted RDDs plus cached DataFrames (the session's own fixtures excluded by callers)."""
    return spark.sparkContext._jsc.getPersistentRDDs().size()


@pytest.fixture
def regression_pipeline():
    from pyspark.ml.regression import LinearRegression

    lr = LinearRegression(featuresCol="features", labelCol="price", maxIter=20)
    return Pipeline(stages=featurizers() + [lr]), lr
