"""Issue 2: sparktune.CrossValidator vs pyspark's, 4 featurizers + LinearRegression, 3x3 grid."""

from __future__ import annotations

import math

from pyspark.ml import tuning as pt

import sparktune
from bench.common import best_of, cv_grid, diamonds, session, warm_up

ROUNDS = 2


def run(scale: int, rounds: int = ROUNDS) -> dict[str, float]:
    """Time pyspark CV at parallelism 1 and 2 and sparktune at 2 on diamonds x ``scale``.

    Each is run ``rounds`` times, interleaved, and its fastest run counts (as ``timeit``
    does): every contender then runs on an equally warm JVM.
    """
    spark = session()
    data = diamonds(spark, scale)
    warm_up(data)
    common = cv_grid()
    print(f"diamonds x{scale}: {data.count()} rows, 9 param maps x 3 folds, local[2]")
    contenders = {
        "pyspark CrossValidator(parallelism=1)": lambda: pt.CrossValidator(
            parallelism=1, **common
        ).fit(data),
        "pyspark CrossValidator(parallelism=2)": lambda: pt.CrossValidator(
            parallelism=2, **common
        ).fit(data),
        "sparktune CrossValidator(parallelism=2)": lambda: sparktune.CrossValidator(
            parallelism=2, **common
        ).fit(data),
    }
    (t1, _), (t2, m2), (ts, ms) = best_of(contenders, rounds).values()
    worst = max(abs(a - b) / abs(b) for a, b in zip(ms.avgMetrics, m2.avgMetrics))
    out = {
        "rows": float(data.count()),
        "pyspark_p1_s": t1,
        "pyspark_p2_s": t2,
        "sparktune_p2_s": ts,
        "ratio_vs_p1": ts / t1,
        "ratio_vs_p2": ts / t2,
        "best_rmse_pyspark": min(m2.avgMetrics),
        "best_rmse_sparktune": min(ms.avgMetrics),
        "max_rel_metric_diff": worst,
    }
    assert math.isclose(out["best_rmse_pyspark"], out["best_rmse_sparktune"], rel_tol=1e-4)
    print(
        f"  ratio sparktune/pyspark: {out['ratio_vs_p1']:.2f}x of parallelism=1, "
        f"{out['ratio_vs_p2']:.2f}x of parallelism=2; best rmse {out['best_rmse_sparktune']:.2f} "
        f"vs {out['best_rmse_pyspark']:.2f} (max relative metric difference {worst:.1e})"
    )
    data.unpersist()
    return out


def main(scales: tuple[int, ...] = (1, 4)) -> dict[int, dict[str, float]]:
    """Run the comparison at each scale and return the figures."""
    return {scale: run(scale) for scale in scales}
