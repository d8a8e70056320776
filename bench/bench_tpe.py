"""Issue 3: hyperopt ``fmin`` with plain ``Trials`` against ``sparktune.tune`` TPE.

The diamonds featurizers + GBTRegressor, 24 trials of the same space on the same
train/validation split. The plain run is what users write today: an objective that fits
the whole pipeline for each trial, one trial at a time. sparktune fits the featurizers once,
caches the featurized split, and keeps 2 trials in flight.

The best of 24 trials of a stochastic search depends on its seed as much as on the
search (a random draw near the optimum or not), so both run with each of ``SEEDS``,
interleaved: the ratio is of the summed wall times, and the best metrics compared are
the means over the seeds (each seed's figures are printed too).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from hyperopt import Trials, fmin, hp, tpe
from pyspark.ml import Pipeline
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.regression import GBTRegressor
from pyspark.sql import DataFrame

import sparktune
from bench.common import diamonds, featurizers, session, timed, warm_up

TRIALS = 24
SEEDS = (7, 8, 9)
SPLIT_SEED = 7
MAX_ITER = 5

DEPTH = hp.quniform("maxDepth", 3, 6, 1)
STEP = hp.loguniform("stepSize", math.log(0.05), math.log(0.5))
#: The same space for both runs: sparktune names the params it sets ...
SPACE = {"GBTRegressor.maxDepth": DEPTH, "GBTRegressor.stepSize": STEP}
#: ... and the plain objective reads them by label.
PLAIN_SPACE = {"maxDepth": DEPTH, "stepSize": STEP}


def gbt(**params: float) -> GBTRegressor:
    """The tree model, ``MAX_ITER`` boosting rounds unless ``params`` say otherwise."""
    return GBTRegressor(featuresCol="features", labelCol="price", **{"maxIter": MAX_ITER, **params})


def plain_fmin(
    train: DataFrame, validation: DataFrame, evaluator: RegressionEvaluator, seed: int
) -> float:
    """hyperopt's ``fmin`` with plain ``Trials``: one whole-pipeline fit per trial."""

    def objective(params: dict[str, float]) -> float:
        model = gbt(maxDepth=int(params["maxDepth"]), stepSize=params["stepSize"])
        fitted = Pipeline(stages=featurizers() + [model]).fit(train)
        return evaluator.evaluate(fitted.transform(validation))

    trials = Trials()
    fmin(
        objective,
        PLAIN_SPACE,
        algo=tpe.suggest,
        max_evals=TRIALS,
        trials=trials,
        rstate=np.random.default_rng(seed),
        show_progressbar=False,
    )
    return float(min(trials.losses()))


def sparktune_tpe(
    train: DataFrame, validation: DataFrame, evaluator: RegressionEvaluator, seed: int
) -> float:
    """``sparktune.tune`` TPE at parallelism 2 on the same split."""
    result = sparktune.tune(
        Pipeline(stages=featurizers() + [gbt()]),
        SPACE,
        train,
        evaluator,
        validation_data=validation,
        strategy="tpe",
        max_trials=TRIALS,
        parallelism=2,
        seed=seed,
        refit=False,
        train_metrics=False,
        tracking=False,
        progress=False,
    )
    assert len(result.trials) == TRIALS and (result.results["state"] == "complete").all()
    return result.best_metric


def main() -> dict[str, float]:
    """Time both searches per seed, print wall times, ratio and best metrics, and return them."""
    spark = session()
    data = diamonds(spark)
    warm_up(data)
    train, validation = data.randomSplit([0.75, 0.25], seed=SPLIT_SEED)
    train, validation = train.cache(), validation.cache()
    print(f"diamonds: {train.count()} train / {validation.count()} validation rows, local[2]")
    print(f"featurizers + GBTRegressor(maxIter={MAX_ITER}), {TRIALS} TPE trials, seeds {SEEDS}")
    evaluator = RegressionEvaluator(labelCol="price", metricName="rmse")
    plain, ours = [], []
    for seed in SEEDS:
        plain.append(
            timed(
                f"hyperopt fmin, plain Trials, seed {seed}",
                functools.partial(plain_fmin, train, validation, evaluator, seed),
            )
        )
        ours.append(
            timed(
                f"sparktune.tune TPE, parallelism=2, seed {seed}",
                functools.partial(sparktune_tpe, train, validation, evaluator, seed),
            )
        )
        print(f"    best rmse, seed {seed}: {ours[-1][1]:.2f} vs {plain[-1][1]:.2f}")
    t_plain, t_ours = sum(t for t, _ in plain), sum(t for t, _ in ours)
    best_plain = float(np.mean([b for _, b in plain]))
    best_ours = float(np.mean([b for _, b in ours]))
    out = {
        "plain_s": t_plain,
        "sparktune_s": t_ours,
        "ratio": t_ours / t_plain,
        "best_rmse_plain": best_plain,
        "best_rmse_sparktune": best_ours,
        "best_rel_diff": (best_ours - best_plain) / best_plain,
    }
    print(
        f"  total {t_ours:.1f} s vs {t_plain:.1f} s: ratio sparktune/plain {out['ratio']:.2f}x "
        f"(target <= 0.5); mean best rmse {best_ours:.2f} vs {best_plain:.2f} "
        f"({100 * out['best_rel_diff']:+.2f}%, target: no worse than +1%)"
    )
    train.unpersist()
    validation.unpersist()
    return out


if __name__ == "__main__":
    main()
