"""Issue 23: racing over folds vs the full k-fold search, on diamonds.

A 27-map grid (LinearRegression regParam x elasticNetParam x maxIter, 3 x 3 x 3) after the
four featurizers, 10 folds, parallelism 2: pyspark's ``CrossValidator``, sparktune's
``CrossValidator`` and ``RacingCrossValidator`` (burn-in 3, paired t-test, alpha 0.05),
each run ``runs`` times in rotating order; the median times give the ratios. Racing must
pick the full search's best map, or one whose full-search metric is within one standard
error (over the folds) of the best; the share of (map x fold) fits it skipped is reported.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from pyspark.ml import Pipeline
from pyspark.ml import tuning as pt
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.regression import LinearRegression

import sparktune
from bench.common import diamonds, featurizers, session, timed, warm_up

RUNS = 3
FOLDS = 10


def grid_search() -> dict[str, Any]:
    """The validators' shared kwargs: 27 maps, rmse, 10 folds, seed 7, parallelism 2."""
    lr = LinearRegression(featuresCol="features", labelCol="price")
    grid = (
        pt.ParamGridBuilder()
        .addGrid(lr.regParam, [0.1, 10.0, 1000.0])
        .addGrid(lr.elasticNetParam, [0.0, 0.5, 1.0])
        .addGrid(lr.maxIter, [2, 5, 30])
        .build()
    )
    return dict(
        estimator=Pipeline(stages=featurizers() + [lr]),
        estimatorParamMaps=grid,
        evaluator=RegressionEvaluator(labelCol="price", metricName="rmse"),
        numFolds=FOLDS,
        seed=7,
        parallelism=2,
    )


def medians(contenders: dict[str, Callable[[], Any]], runs: int) -> dict[str, tuple[float, Any]]:
    """Run every contender ``runs`` times, the order rotating each round; each one's median
    time and its last result."""
    times: dict[str, list[float]] = {label: [] for label in contenders}
    last: dict[str, Any] = {}
    labels = list(contenders)
    for round_number in range(runs):
        shift = round_number % len(labels)
        for label in labels[shift:] + labels[:shift]:
            seconds, last[label] = timed(f"{label} [run {round_number + 1}]", contenders[label])
            times[label].append(seconds)
    out = {label: (statistics.median(times[label]), last[label]) for label in labels}
    for label, (seconds, _) in out.items():
        print(f"  {label:<44s} {seconds:8.1f} s (median of {runs})", flush=True)
    return out


def main(runs: int = RUNS, pyspark: bool = True) -> dict[str, float]:
    """Time the three searches on diamonds and check racing's pick; return the figures.

    ``pyspark=False`` leaves pyspark's ``CrossValidator`` out (on a busy box it takes most
    of the time): only racing against sparktune's full search is measured.
    """
    spark = session()
    data = diamonds(spark)
    warm_up(data)
    common = grid_search()
    maps = len(common["estimatorParamMaps"])
    print(f"diamonds: {data.count()} rows, {maps} param maps x {FOLDS} folds, local[2]")
    contenders = {
        "pyspark CrossValidator": lambda: pt.CrossValidator(**common).fit(data),
    }
    if not pyspark:
        contenders.clear()
    contenders |= {
        "sparktune CrossValidator": lambda: sparktune.CrossValidator(**common).fit(data),
        "sparktune RacingCrossValidator": lambda: sparktune.RacingCrossValidator(
            burnIn=3, alpha=0.05, test="anova", **common
        ).fit(data),
    }
    timings = medians(contenders, runs)
    tp, mp = timings.get("pyspark CrossValidator", (float("nan"), None))
    (ts, ms), (tr, mr) = (
        timings["sparktune CrossValidator"],
        timings["sparktune RacingCrossValidator"],
    )
    full = list(ms.avgMetrics)
    best = min(range(maps), key=full.__getitem__)
    picked = min(range(maps), key=_racing_key(mr))
    standard_error = ms.stdMetrics[best] / FOLDS**0.5
    run_folds = int(mr.results["folds_run"].sum())
    out = {
        "pyspark_s": tp,
        "sparktune_cv_s": ts,
        "racing_s": tr,
        "ratio_vs_pyspark": tr / tp,
        "ratio_vs_sparktune_cv": tr / ts,
        "skipped_share": 1 - run_folds / (maps * FOLDS),
        "best_full": best,
        "best_racing": picked,
        "gap_in_standard_errors": (full[picked] - full[best]) / standard_error,
        "pyspark_best": min(range(maps), key=list(mp.avgMetrics).__getitem__) if mp else -1,
    }
    same = picked == best or out["gap_in_standard_errors"] <= 1
    print(
        f"  racing/pyspark {out['ratio_vs_pyspark']:.2f}x (target <= 0.20), "
        f"racing/sparktune CV {out['ratio_vs_sparktune_cv']:.2f}x (target <= 0.5); "
        f"{out['skipped_share']:.0%} of {maps * FOLDS} fits skipped; racing picked map "
        f"{picked}, the full search {best} (pyspark {out['pyspark_best']}): "
        f"{out['gap_in_standard_errors']:.2f} standard errors apart "
        f"({'ok' if same else 'NOT within one standard error'})",
        flush=True,
    )
    data.unpersist()
    return out


def _racing_key(model: Any) -> Callable[[int], float]:
    """Rank maps as the racing search does: survivors (complete) by their mean, others last."""
    states = list(model.results.sort_values("trial")["state"])
    metrics = list(model.avgMetrics)
    return lambda i: metrics[i] if states[i] == "complete" else float("inf")
