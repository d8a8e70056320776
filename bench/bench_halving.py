"""Issue 16: successive halving (ASHA) against full-budget searches, four comparisons.

1. GBTRegressor on diamonds, the same 27 random candidates: ASHA over ``maxIter`` (budgets
   1, 3, 9, 27) against every candidate at the full 27 iterations, both sparktune at
   parallelism 2 on the same train/validation split: wall-time ratio and best rmse.
2. hyperopt ``fmin`` with plain ``Trials`` (24 trials at the full budget, the whole pipeline
   fitted per trial, one at a time, as in ``bench tpe``) against sparktune TPE + ASHA at
   parallelism 2 starting twice as many trials (most of them stop after one iteration),
   with ``bench tpe``'s seeds 7, 8 and 9: summed wall time, mean best rmse. Reported beside
   it: TPE + Hyperband (1..27) with 24 trials, a quarter of them at the full budget.
3. ``sparktune.HalvingCrossValidator`` on ``bench cv``'s grid (9 maps x 3 folds,
   LinearRegression, ``maxIter`` budgets 3, 10, 30) against pyspark's
   ``CrossValidator(parallelism=2)`` at ``maxIter=30``: ratio and best rmse.
   Then, to show why: depth-6 GBTs' rmse by ``stepSize`` at 3, 9 and 27 iterations.
4. The rows resource on diamonds x8: 9 GBT candidates (``maxIter=10``) fitted on 1/9, 1/3,
   then all of each training part, against all rows for every candidate: ratio and rmse.

Every contender runs once (once per seed in 2), after the JVM warm-up of ``bench.common``;
read ratios as +-0.05.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hyperopt.pyll import stochastic
from pyspark.ml import Pipeline
from pyspark.ml import tuning as pt
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.regression import GBTRegressor
from pyspark.sql import DataFrame

import sparktune
from bench.bench_tpe import PLAIN_SPACE, SEEDS, TRIALS, plain_fmin
from bench.common import (
    cv_grid,
    diamonds,
    featurizers,
    over_seeds,
    session,
    split,
    timed,
    warm_up,
)

CANDIDATES = 27
MAX_ITER = 27
SEED = 7
#: TPE + ASHA trials against plain's 24: most of them stop after one iteration.
ASHA_TRIALS = 2 * TRIALS
TARGET_2 = " (targets: <= 0.3x, within +1%)"
HORIZON_STEPS = (0.1, 0.2, 0.3, 0.4, 0.5)
HORIZON_ITERATIONS = (3, 9, 27)
ROWS_SCALE = 8

#: ``bench tpe``'s space (maxDepth 3..6, stepSize 0.05..0.5), by sparktune's names.
SPACE = {f"GBTRegressor.{label}": expression for label, expression in PLAIN_SPACE.items()}


def gbt_pipeline(max_iter: int) -> Pipeline:
    """The diamonds featurizers and a GBTRegressor of ``max_iter`` boosting rounds."""
    gbt = GBTRegressor(featuresCol="features", labelCol="price", maxIter=max_iter, seed=1)
    return Pipeline(stages=featurizers() + [gbt])


def candidates(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` points drawn at random from :data:`SPACE`, by space name."""
    rng = np.random.default_rng(seed)
    points = [stochastic.sample(SPACE, rng=rng) for _ in range(count)]
    return [{"GBTRegressor.maxDepth": int(p["GBTRegressor.maxDepth"]), **_step(p)} for p in points]


def _step(point: dict[str, Any]) -> dict[str, float]:
    return {"GBTRegressor.stepSize": float(point["GBTRegressor.stepSize"])}


def search(
    train: DataFrame,
    validation: DataFrame,
    points: list[dict[str, Any]] | None,
    scheduler: sparktune.ASHA | None,
    strategy: str = "random",
    max_trials: int = CANDIDATES,
    max_iter: int = MAX_ITER,
    seed: int = SEED,
) -> sparktune.TuneResult:
    """``sparktune.tune`` at parallelism 2 on the split, trying ``points`` first."""
    return sparktune.tune(
        gbt_pipeline(max_iter),
        SPACE,
        train,
        RegressionEvaluator(labelCol="price", metricName="rmse"),
        validation_data=validation,
        strategy=strategy,
        scheduler=scheduler,
        max_trials=max_trials,
        points_to_evaluate=points,
        parallelism=2,
        seed=seed,
        refit=False,
        train_metrics=False,
        tracking=False,
        progress=False,
    )


def report(label: str, ours: tuple[float, float], theirs: tuple[float, float], target: str) -> dict:
    """Print and return a comparison: seconds and best rmse of both sides, their ratios."""
    (t_ours, b_ours), (t_theirs, b_theirs) = ours, theirs
    out = {
        "seconds": t_ours,
        "baseline_seconds": t_theirs,
        "ratio": t_ours / t_theirs,
        "best_rmse": b_ours,
        "baseline_best_rmse": b_theirs,
        "best_rel_diff": (b_ours - b_theirs) / b_theirs,
    }
    print(
        f"  {label}: ratio {out['ratio']:.2f}x ({t_ours:.1f} s vs {t_theirs:.1f} s); best rmse "
        f"{b_ours:.2f} vs {b_theirs:.2f} ({100 * out['best_rel_diff']:+.2f}%){target}",
        flush=True,
    )
    return out


def same_candidates(train: DataFrame, validation: DataFrame) -> dict:
    """1: ASHA against the full budget on the same 27 candidates."""
    points = candidates(CANDIDATES, SEED)
    asha = sparktune.ASHA(min_resource=1, max_resource=MAX_ITER)
    t_full, full = timed(
        f"full budget: {CANDIDATES} candidates x maxIter={MAX_ITER}",
        lambda: search(train, validation, points, None),
    )
    t_asha, halved = timed(
        f"ASHA over maxIter 1..{MAX_ITER}, same candidates",
        lambda: search(train, validation, points, asha),
    )
    rungs = halved.results["rung"].value_counts().sort_index().to_dict()
    print(f"    trials by last rung: {rungs}")
    return report(
        "1. ASHA / full budget",
        (t_asha, halved.best_metric),
        (t_full, full.best_metric),
        " (targets: <= 0.4x, within +1%)",
    )


def against_hyperopt(train: DataFrame, validation: DataFrame) -> dict:
    """2: sparktune TPE + ASHA (and, reported, TPE + Hyperband) against hyperopt fmin with
    plain Trials at the full budget, over ``bench tpe``'s three seeds (summed time, mean best).
    """
    evaluator = RegressionEvaluator(labelCol="price", metricName="rmse")
    asha = sparktune.ASHA(min_resource=1, max_resource=MAX_ITER)
    hyperband = sparktune.Hyperband(min_resource=1, max_resource=MAX_ITER)
    plain, ours, hedged = over_seeds(
        SEEDS,
        {
            f"hyperopt fmin, plain Trials, {TRIALS} trials at maxIter={MAX_ITER}": lambda seed: (
                plain_fmin(train, validation, evaluator, seed, max_iter=MAX_ITER)
            ),
            f"sparktune TPE + ASHA, {ASHA_TRIALS} trials": lambda seed: (
                search(train, validation, None, asha, "tpe", ASHA_TRIALS, seed=seed).best_metric
            ),
            f"sparktune TPE + Hyperband, {TRIALS} trials": lambda seed: (
                search(train, validation, None, hyperband, "tpe", TRIALS, seed=seed).best_metric
            ),
        },
    ).values()
    out = report(f"2. TPE + ASHA / plain fmin, seeds {SEEDS}", ours, plain, TARGET_2)
    out["hyperband"] = report("2b. TPE + Hyperband / plain fmin", hedged, plain, "")
    return out


def horizon(train: DataFrame, validation: DataFrame) -> dict:
    """Why halving over ``maxIter`` favours large step sizes: the rmse of depth-6 GBTs by
    ``stepSize`` at 3, 9 and 27 iterations (the featurized split cached, one fit at a time).
    """
    featurized = Pipeline(stages=featurizers()).fit(train)
    fit_part, score_part = (
        featurized.transform(part).select("features", "price").cache()
        for part in (train, validation)
    )
    evaluator = RegressionEvaluator(labelCol="price", metricName="rmse")
    table = {}
    for step in HORIZON_STEPS:
        table[step] = [
            evaluator.evaluate(
                GBTRegressor(
                    featuresCol="features",
                    labelCol="price",
                    maxDepth=6,
                    stepSize=step,
                    maxIter=iterations,
                    seed=1,
                )
                .fit(fit_part)
                .transform(score_part)
            )
            for iterations in HORIZON_ITERATIONS
        ]
        row = ", ".join(f"{i} it: {r:.1f}" for i, r in zip(HORIZON_ITERATIONS, table[step]))
        print(f"    stepSize {step}: {row}", flush=True)
    fit_part.unpersist()
    score_part.unpersist()
    return table


def halving_cv(data: DataFrame) -> dict:
    """3: HalvingCrossValidator against pyspark's CrossValidator on bench cv's grid."""
    common = dict(cv_grid(), parallelism=2)
    t_pyspark, theirs = timed(
        "pyspark CrossValidator(parallelism=2)", lambda: pt.CrossValidator(**common).fit(data)
    )
    t_ours, ours = timed(
        "sparktune HalvingCrossValidator(parallelism=2)",
        lambda: sparktune.HalvingCrossValidator(
            factor=3, minResource=3, maxResource=30, **common
        ).fit(data),
    )
    best_ours = float(ours.results.loc[ours.results["state"] == "complete", "mean_val_rmse"].min())
    return report(
        "3. HalvingCrossValidator / pyspark CrossValidator",
        (t_ours, best_ours),
        (t_pyspark, min(theirs.avgMetrics)),
        "",
    )


def rows_resource(spark: Any) -> dict:
    """4: the rows resource on diamonds x8 against all rows for every candidate."""
    data = diamonds(spark, ROWS_SCALE)
    train, validation = data.randomSplit([0.75, 0.25], seed=SEED)
    train, validation = train.cache(), validation.cache()
    print(f"  diamonds x{ROWS_SCALE}: {train.count()} train / {validation.count()} validation rows")
    points = candidates(9, SEED + 1)
    rows = sparktune.ASHA("rows", min_resource=1 / 9, max_resource=1.0)
    t_full, full = timed(
        "all rows: 9 candidates x maxIter=10",
        lambda: search(train, validation, points, None, max_trials=9, max_iter=10),
    )
    t_rows, halved = timed(
        "ASHA over rows 1/9, 1/3, 1: same candidates",
        lambda: search(train, validation, points, rows, max_trials=9, max_iter=10),
    )
    for frame in (train, validation, data):
        frame.unpersist()
    return report(
        "4. rows resource / all rows", (t_rows, halved.best_metric), (t_full, full.best_metric), ""
    )


def main() -> dict[str, dict]:
    """Run the four comparisons on diamonds (local[2]) and return their figures."""
    spark = session()
    data = diamonds(spark)
    warm_up(data)
    train, validation = split(data, SEED)
    out = {
        "same_candidates": same_candidates(train, validation),
        "against_hyperopt": against_hyperopt(train, validation),
        "horizon": horizon(train, validation),
        "halving_cv": halving_cv(data),
        "rows": rows_resource(spark),
    }
    train.unpersist()
    validation.unpersist()
    return out
