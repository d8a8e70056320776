"""Issue 15: sparktune.CrossValidator vs pyspark's on one Spark Connect session (bench cv's grid).

The Connect server is pyspark's own, started locally by ``SparkSession.builder.remote``
(local[2], as the classic benches). pyspark.ml picks classic or Connect for the whole
process, so this bench runs in a process of its own (``python -m bench`` starts one).
"""

from __future__ import annotations

import math
import os
import sys

from pyspark.ml import tuning as pt
from pyspark.sql import SparkSession

import sparktune
from bench.common import best_of, cv_grid, diamonds, warm_up

ROUNDS = 2


def connect_session() -> SparkSession:
    """A local Spark Connect server on 127.0.0.1 and a session on it."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (
        SparkSession.builder.remote("local[2]")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )


def main(rounds: int = ROUNDS) -> dict[str, float]:
    """Time pyspark's CrossValidator(parallelism=2) and sparktune's on the same session."""
    spark = connect_session()
    data = diamonds(spark)
    warm_up(data)
    common = dict(cv_grid(), parallelism=2)
    print(f"Spark Connect, diamonds: {data.count()} rows, 9 param maps x 3 folds, local[2]")
    contenders = {
        "pyspark CrossValidator(parallelism=2)": lambda: pt.CrossValidator(**common).fit(data),
        "sparktune CrossValidator(parallelism=2)": lambda: sparktune.CrossValidator(**common).fit(
            data
        ),
    }
    (tp, mp), (ts, ms) = best_of(contenders, rounds).values()
    out = {
        "pyspark_p2_s": tp,
        "sparktune_p2_s": ts,
        "ratio": ts / tp,
        "best_rmse_pyspark": min(mp.avgMetrics),
        "best_rmse_sparktune": min(ms.avgMetrics),
    }
    assert math.isclose(out["best_rmse_pyspark"], out["best_rmse_sparktune"], rel_tol=1e-4)
    print(
        f"  ratio sparktune/pyspark on Connect: {out['ratio']:.2f}x of parallelism=2; best rmse "
        f"{out['best_rmse_sparktune']:.2f} vs {out['best_rmse_pyspark']:.2f}"
    )
    data.unpersist()
    return out
