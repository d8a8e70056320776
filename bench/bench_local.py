"""Issue 17: single-machine trials as Spark tasks, against hyperopt's ``SparkTrials`` and
scikit-learn's ``GridSearchCV(n_jobs=2)``.

The diamonds data on the driver (pandas, categorical columns as codes), a
``HistGradientBoostingRegressor``, 3-fold CV scored by RMSE:

- TPE: hyperopt ``fmin`` with ``SparkTrials(parallelism=2)`` (each trial one task running
  ``cross_val_score``) against ``sparktune.tune`` TPE with 2 (trial x fold) tasks in flight,
  the same ``TRIALS`` trials; wall time and best RMSE;
- grid: the same grid of 24 points through ``GridSearchCV(n_jobs=2)`` on this
  machine and through ``sparktune.tune(strategy="grid")``; wall time (identical metrics).

``BENCH_LOCAL_ROWS`` (default: all rows) and ``BENCH_LOCAL_TRIALS`` shrink it for a smoke run.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd
from hyperopt import SparkTrials, fmin, hp, tpe
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import GridSearchCV, cross_val_score

import sparktune
from bench.common import CATEGORICAL, session, timed
from sparktune.jobs.datasets import load_diamonds
from sparktune.spark.local_fit import fold_indices

TRIALS = int(os.environ.get("BENCH_LOCAL_TRIALS", "24"))
FOLDS = 3
SEED = 7
METRIC = "neg_root_mean_squared_error"
SPACE = {
    "max_depth": hp.quniform("max_depth", 2, 8, 1),
    "learning_rate": hp.loguniform("learning_rate", math.log(0.03), math.log(0.3)),
    "min_samples_leaf": hp.quniform("min_samples_leaf", 10, 60, 5),
}
GRID = {"max_depth": [3, 5, 7, None], "learning_rate": [0.05, 0.1, 0.2], "max_iter": [50, 100]}


def diamonds_frame(spark: object) -> pd.DataFrame:
    """Diamonds as pandas with the categorical columns as integer codes."""
    frame = load_diamonds(spark).toPandas()
    rows = int(os.environ.get("BENCH_LOCAL_ROWS", len(frame)))
    frame = frame.sample(n=min(rows, len(frame)), random_state=SEED).reset_index(drop=True)
    for column in CATEGORICAL:
        frame[column] = frame[column].astype("category").cat.codes
    return frame


def spark_trials(frame: pd.DataFrame) -> float:
    """hyperopt ``fmin`` + ``SparkTrials(parallelism=2)``; the best RMSE."""
    x, y = frame.drop(columns="price"), frame["price"]
    folds = fold_indices(len(frame), FOLDS, SEED)

    def objective(params: dict) -> float:
        model = HistGradientBoostingRegressor(
            max_depth=int(params["max_depth"]),
            learning_rate=params["learning_rate"],
            min_samples_leaf=int(params["min_samples_leaf"]),
            random_state=SEED,
        )
        return -float(np.mean(cross_val_score(model, x, y, scoring=METRIC, cv=folds)))

    trials = SparkTrials(parallelism=2)
    fmin(objective, SPACE, algo=tpe.suggest, max_evals=TRIALS, trials=trials,
         rstate=np.random.default_rng(SEED), show_progressbar=False)  # fmt: skip
    return float(min(trials.losses()))


def sparktune_search(frame: pd.DataFrame, strategy: str, space: dict) -> float:
    """``sparktune.tune`` with 2 tasks in flight; the best RMSE."""
    result = sparktune.tune(
        HistGradientBoostingRegressor(random_state=SEED), space, frame, METRIC, label="price",
        strategy=strategy, max_trials=None if strategy == "grid" else TRIALS, parallelism=2,
        num_folds=FOLDS, seed=SEED, refit=False, train_metrics=False, tracking=False,
        progress=False,
    )  # fmt: skip
    return -result.best_metric


def grid_search_cv(frame: pd.DataFrame) -> float:
    """scikit-learn's ``GridSearchCV(n_jobs=2)`` on this machine; the best RMSE."""
    search = GridSearchCV(
        HistGradientBoostingRegressor(random_state=SEED), GRID, scoring=METRIC, n_jobs=2,
        cv=fold_indices(len(frame), FOLDS, SEED), refit=False,
    )  # fmt: skip
    search.fit(frame.drop(columns="price"), frame["price"])
    return -float(search.best_score_)


def main() -> dict[str, float]:
    """Time the contenders, print wall times, ratios and best RMSEs, and return them."""
    spark = session()
    frame = diamonds_frame(spark)
    print(f"  {len(frame)} rows, {TRIALS} trials, {FOLDS} folds", flush=True)
    sparktune_search(frame.head(500), "random", SPACE)  # warm the Python workers, untimed
    t_hyperopt, b_hyperopt = timed("hyperopt fmin + SparkTrials(parallelism=2)",
                                   lambda: spark_trials(frame))  # fmt: skip
    t_tpe, b_tpe = timed("sparktune.tune tpe, parallelism=2",
                         lambda: sparktune_search(frame, "tpe", SPACE))  # fmt: skip
    t_sklearn, b_sklearn = timed("GridSearchCV(n_jobs=2)", lambda: grid_search_cv(frame))
    t_grid, b_grid = timed("sparktune.tune grid, parallelism=2",
                           lambda: sparktune_search(frame, "grid", GRID))  # fmt: skip
    print(
        f"  tpe: sparktune/SparkTrials {t_tpe / t_hyperopt:.2f}x, best rmse {b_tpe:.1f} / "
        f"{b_hyperopt:.1f}; grid: sparktune/GridSearchCV {t_grid / t_sklearn:.2f}x, best rmse "
        f"{b_grid:.1f} / {b_sklearn:.1f}",
        flush=True,
    )
    return {
        "sparktrials_s": t_hyperopt,
        "sparktune_tpe_s": t_tpe,
        "gridsearchcv_s": t_sklearn,
        "sparktune_grid_s": t_grid,
        "best_rmse_sparktrials": b_hyperopt,
        "best_rmse_sparktune_tpe": b_tpe,
        "best_rmse_gridsearchcv": b_sklearn,
        "best_rmse_sparktune_grid": b_grid,
    }
