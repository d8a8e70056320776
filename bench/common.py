"""Shared pieces of the benchmarks: the session, the diamonds pipeline, a timer, a report."""

from __future__ import annotations

import functools
import logging
import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from pyspark.ml.feature import OneHotEncoder, StandardScaler, StringIndexer, VectorAssembler
from pyspark.sql import DataFrame, SparkSession

from sparktune.jobs.datasets import load_diamonds
from sparktune.spark.session import get_session

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


def cv_grid(**lr_params: Any) -> dict[str, Any]:
    """``bench cv``'s search as validator kwargs: featurizers + LinearRegression(maxIter=30),
    regParam x elasticNetParam (3 x 3), rmse, 3 folds, seed 7."""
    from pyspark.ml import Pipeline
    from pyspark.ml import tuning as pt
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.regression import LinearRegression

    lr = LinearRegression(featuresCol="features", labelCol="price", maxIter=30, **lr_params)
    grid = (
        pt.ParamGridBuilder()
        .addGrid(lr.regParam, [0.01, 0.1, 1.0])
        .addGrid(lr.elasticNetParam, [0.0, 0.5, 1.0])
        .build()
    )
    return dict(
        estimator=Pipeline(stages=featurizers() + [lr]),
        estimatorParamMaps=grid,
        evaluator=RegressionEvaluator(labelCol="price", metricName="rmse"),
        numFolds=3,
        seed=7,
    )


def split(data: DataFrame, seed: int) -> tuple[DataFrame, DataFrame]:
    """A cached 75/25 train/validation split of ``data``, its sizes printed."""
    train, validation = data.randomSplit([0.75, 0.25], seed=seed)
    train, validation = train.cache(), validation.cache()
    print(f"diamonds: {train.count()} train / {validation.count()} validation rows, local[2]")
    return train, validation


_warm = False


def warm_up(data: DataFrame) -> None:
    """Run pyspark's and sparktune's CrossValidator once on a sample, untimed, once per process.

    A fresh JVM runs its first Spark jobs much slower than later ones (class loading, JIT);
    without this the first contender timed would pay for both.
    """
    global _warm
    if _warm:
        return
    from pyspark.ml import Pipeline
    from pyspark.ml import tuning as pt
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.regression import LinearRegression

    import sparktune

    sample = data.sample(fraction=0.1, seed=1)
    lr = LinearRegression(featuresCol="features", labelCol="price", maxIter=10)
    grid = pt.ParamGridBuilder().addGrid(lr.regParam, [0.1, 1.0]).build()
    common = dict(
        estimator=Pipeline(stages=featurizers() + [lr]),
        estimatorParamMaps=grid,
        evaluator=RegressionEvaluator(labelCol="price"),
        numFolds=2,
        parallelism=2,
    )
    start = time.perf_counter()
    for cls in (pt.CrossValidator, sparktune.CrossValidator):
        cls(**common).fit(sample)
    print(f"  (JVM warm-up, untimed: {time.perf_counter() - start:.1f} s)", flush=True)
    _warm = True


def timed(label: str, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``fn`` once and return (seconds, result), logging the time."""
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    print(f"  {label:<44s} {seconds:8.1f} s", flush=True)
    return seconds, result


def best_of(contenders: dict[str, Callable[[], Any]], rounds: int) -> dict[str, tuple[float, Any]]:
    """Run every contender ``rounds`` times, interleaved; keep each one's fastest run.

    Interleaving spreads the machine's drift over all contenders, the order rotates from
    round to round so that no contender always runs first, and the fastest run is the
    least disturbed one; each run's time is printed. Returns in ``contenders``' order.
    """
    best: dict[str, tuple[float, Any]] = {label: (math.inf, None) for label in contenders}
    labels = list(contenders)
    for round_number in range(1, rounds + 1):
        shift = (round_number - 1) % len(labels)
        for label in labels[shift:] + labels[:shift]:
            fn = contenders[label]
            seconds, result = timed(f"{label} [run {round_number}]", fn)
            if seconds < best[label][0]:
                best[label] = (seconds, result)
    for label, (seconds, _) in best.items():
        print(f"  {label:<44s} {seconds:8.1f} s (best of {rounds})", flush=True)
    return best


def over_seeds(
    seeds: tuple[int, ...], contenders: dict[str, Callable[[int], float]]
) -> dict[str, tuple[float, float]]:
    """Run every contender (a search taking a seed, returning its best metric) once per seed,
    the order rotating from seed to seed; return each one's summed seconds and mean best.

    The best of a few dozen mostly random trials varies by more than 1% from seed to seed,
    so one seed says little about a metric target.
    """
    runs: dict[str, list[tuple[float, float]]] = {label: [] for label in contenders}
    labels = list(contenders)
    for turn, seed in enumerate(seeds):
        shift = turn % len(labels)
        for label in labels[shift:] + labels[:shift]:
            search = functools.partial(contenders[label], seed)
            runs[label].append(timed(f"{label}, seed {seed}", search))
        bests = ", ".join(f"{runs[label][-1][1]:.2f}" for label in labels)
        print(f"    best, seed {seed}: {bests}", flush=True)
    return {
        label: (sum(t for t, _ in done), sum(b for _, b in done) / len(seeds))
        for label, done in runs.items()
    }
