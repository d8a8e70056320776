"""Shared pieces of the benchmarks: the session, the diamonds pipeline, a timer, a report."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from pyspark.ml.feature import OneHotEncoder, StandardScaler, StringIndexer, VectorAssembler
from pyspark.sql import DataFrame, SparkSession

from sparktune.datasets import load_diamonds
from sparktune.session import get_session

logger = logging.getLogger("bench")

CATEGORICAL = ["cut", "color", "clarity"]
NUMERIC = ["carat", "depth", "table", "x", "y", "z"]


def session() -> SparkSession:
    """The benchmark session: local[2], as on the CI box."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return get_session(
        "local[2]", {"spark.sql.shuffle.partitions": "4"}, app_name="sparktune-bench"
    )


def diamonds(spark: SparkSession, scale: int = 1) -> DataFrame:
    """The bundled diamonds data at ``scale`` times its rows, cached and counted."""
    df = load_diamonds(spark, scale=scale).repartition(4).cache()
    df.count()
    return df


def featurizers() -> list[Any]:
    """StringIndexer -> OneHotEncoder -> VectorAssembler -> StandardScaler, into "features"."""
    idx = [f"{c}_idx" for c in CATEGORICAL]
    vec = [f"{c}_vec" for c in CATEGORICAL]
    return [
        StringIndexer(inputCols=CATEGORICAL, outputCols=idx),
        OneHotEncoder(inputCols=idx, outputCols=vec),
        VectorAssembler(inputCols=NUMERIC + vec, outputCol="raw"),
        StandardScaler(inputCol="raw", outputCol="features"),
    ]


def timed(label: str, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``fn`` once and return (seconds, result), logging the time."""
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    print(f"  {label:<44s} {seconds:8.1f} s", flush=True)
    return seconds, result
