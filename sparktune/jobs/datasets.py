"""Bundled data sets: ggplot2's ``diamonds``, as a Spark DataFrame, optionally scaled up."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd
from pyspark.errors import PySparkException
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

#: Rows in the bundled diamonds CSV.
DIAMONDS_ROWS = 53940

#: Names accepted by :func:`load` (and by the job spec's ``data.dataset``).
DATASETS = ("diamonds",)


def diamonds_pandas() -> pd.DataFrame:
    """Read the bundled diamonds CSV (53,940 rows) into pandas."""
    with resources.as_file(_diamonds_resource()) as local:
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

    On a local master (``local[...]``, ``local-cluster[...]``) Spark reads the bundled
    CSV file itself, so a scan's tasks carry a file path rather than the data (a
    DataFrame made from pandas ships its rows inside every task: 1.7 MiB each, and a
    "task of very large size" warning per stage). Executors of any other master may not
    see the driver's file system, and a package installed as a zip has no file to read:
    there, and on Spark Connect, the rows are sent from the driver as before. Either
    way the rows, their values and their order are the same.
    """
    if not isinstance(scale, int) or scale < 1:
        raise ValidationError(f"scale must be a positive integer, got {scale!r}.")
    path = diamonds_path()
    if path is not None and _reads_driver_files(spark):
        df = _read_diamonds_csv(spark, path)
    else:
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


def diamonds_path() -> Path | None:
    """The bundled diamonds CSV as a file on the driver's disk; None if it is not a plain file.

    A package imported from a zip or an egg has no such file (its data is readable only
    through :mod:`importlib.resources`), and Spark reads a path lazily, at every scan.
    """
    path = _diamonds_resource()
    return path if isinstance(path, Path) and path.is_file() else None


def _diamonds_resource():  # a Traversable
    return resources.files("sparktune.jobs") / "data" / "diamonds.csv.gz"


def _reads_driver_files(spark: SparkSession) -> bool:
    """Whether the executors of ``spark`` share the driver's file system (a local master)."""
    try:
        master = spark.sparkContext.master
    except (AttributeError, PySparkException):  # Spark Connect has no SparkContext
        return False
    return master.startswith("local")


def _read_diamonds_csv(spark: SparkSession, path: Path) -> DataFrame:
    """Read the CSV with the explicit schema, in the partitions ``createDataFrame`` makes.

    A gzipped file is one split, so one task would hold every row and the folds and fits
    would use one core. The rows go to ``defaultParallelism`` contiguous, equal slices
    (row ``r`` of ``N`` to slice ``i`` with ``floor(i*N/n) <= r < floor((i+1)*N/n)``,
    as ``parallelize`` cuts a local collection), in file order. Partitions and order are
    deterministic and the same as before, so ``rand(seed)`` folds and tuned results
    stay the same too; a sampled range partitioning would move its bounds run to run.
    """
    frame = spark.read.csv(path.as_uri(), schema=DIAMONDS_SCHEMA, header=True, mode="FAILFAST")
    slices = spark.sparkContext.defaultParallelism
    if slices <= 1:
        return frame
    keys = _partition_keys(spark, slices)
    # Row numbers 0..N-1: one split, so monotonically_increasing_id counts from 0 up.
    row = F.monotonically_increasing_id()
    index = F.floor(((row + 1) * slices - 1) / F.lit(DIAMONDS_ROWS))
    key = F.element_at(F.array(*[F.lit(k).cast("long") for k in keys]), index.cast("int") + 1)
    column = "__sparktune_slice"
    return frame.withColumn(column, key).repartition(slices, column).drop(column)


def _partition_keys(spark: SparkSession, partitions: int) -> list[int]:
    """For each partition ``p``, a long key that hash partitioning sends to ``p``.

    Hash partitioning puts a row in ``pmod(hash(key), n)``; asking Spark for the hash
    keeps this right for any Spark version (one small local job).
    """
    candidates = spark.range(64 * partitions).select(
        "id", F.pmod(F.hash("id"), F.lit(partitions)).alias("p")
    )
    keys: dict[int, int] = {}
    for row in candidates.collect():
        keys.setdefault(row["p"], row["id"])
    if len(keys) < partitions:  # practically impossible with 64 candidates per partition
        raise RuntimeError(f"no hash key for some of {partitions} partitions")
    return [keys[p] for p in range(partitions)]


def load(spark: SparkSession, name: str, scale: int = 1) -> DataFrame:
    """Load a bundled data set by name."""
    if name != "diamonds":
        raise ValidationError(f"Unknown bundled data set {name!r}; choose one of {list(DATASETS)}.")
    return load_diamonds(spark, scale=scale)
