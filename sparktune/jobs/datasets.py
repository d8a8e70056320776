"""Bundled data sets: ggplot2's ``diamonds``, as a Spark DataFrame, optionally scaled up."""

from __future__ import annotations

from importlib import resources

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from sparktune.core.errors import ValidationError

DIAMONDS_SCHEMA = T.StructType(
    [
        T.StructField("carat", T.DoubleType()),
        T.StructField("cut", T.StringType()),
        T.StructField("color", T.StringType()),
        T.StructField("clarity", T.StringType()),
        T.StructField("depth", T.DoubleType()),
        T.StructField("table", T.DoubleType()),
        T.StructField("price", T.DoubleType()),
        T.StructField("x", T.DoubleType()),
        T.StructField("y", T.DoubleType()),
        T.StructField("z", T.DoubleType()),
    ]
)

#: Names accepted by :func:`load` (and by the job spec's ``data.dataset``).
DATASETS = ("diamonds",)


def diamonds_pandas() -> pd.DataFrame:
    """Read the bundled diamonds CSV (53,940 rows) into pandas."""
    path = resources.files("sparktune.jobs") / "data" / "diamonds.csv.gz"
    with resources.as_file(path) as local:
        frame = pd.read_csv(local, compression="gzip")
    return frame.astype(
        {f.name: "float64" for f in DIAMONDS_SCHEMA if f.dataType == T.DoubleType()}
    )


def load_diamonds(
    spark: SparkSession, scale: int = 1, jitter: float = 0.01, seed: int = 0
) -> DataFrame:
    """Return diamonds as a DataFrame; ``scale`` > 1 repeats it with small numeric jitter.

    Copy 0 is the original data; every further copy multiplies each numeric value by
    ``1 + u`` with ``u`` uniform in ``[-jitter, jitter]``, so benchmarks at N times the
    rows see realistic, not identical, rows.
    """
    if not isinstance(scale, int) or scale < 1:
        raise ValidationError(f"scale must be a positive integer, got {scale!r}.")
    df = spark.createDataFrame(diamonds_pandas(), schema=DIAMONDS_SCHEMA)
    if scale == 1:
        return df
    copies = spark.range(scale).withColumnRenamed("id", "_copy")
    scaled = df.crossJoin(copies)
    numeric = [f.name for f in DIAMONDS_SCHEMA if f.dataType == T.DoubleType()]
    for i, name in enumerate(numeric):
        noise = (F.rand(seed + i) * 2 - 1) * jitter
        scaled = scaled.withColumn(
            name, F.when(F.col("_copy") == 0, F.col(name)).otherwise(F.col(name) * (1 + noise))
        )
    return scaled.drop("_copy")


def load(spark: SparkSession, name: str, scale: int = 1) -> DataFrame:
    """Load a bundled data set by name."""
    if name != "diamonds":
        raise ValidationError(f"Unknown bundled data set {name!r}; choose one of {list(DATASETS)}.")
    return load_diamonds(spark, scale=scale)
