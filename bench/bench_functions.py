"""Issue 22: a user's training function tuned by three Spark searches, the same function.

The function: scikit-learn ``LogisticRegression`` on ``ROWS`` (50,000) synthetic rows x 20
features (``make_classification``, made in the task), 3-fold ROC AUC; the loss is -AUC.
The space: ``C`` log-uniform in [1e-4, 1e2] and ``fit_intercept`` in {True, False}.
``TRIALS`` (32) TPE trials, 2 task slots, for each of ``SEEDS`` (3 seeds):

- ``sparktune.tune(fn, space, parallelism=2)``: each trial one Spark task (executors);
- MLflow 3's ``MlflowSparkStudy(...).optimize(n_jobs=2)``: one Spark job of 2 tasks, each
  an Optuna loop against ``MlflowStorage`` (a sqlite store in a temporary folder);
- hyperopt ``fmin`` with ``SparkTrials(parallelism=2)``.

Reported per contender: wall time (the mean over seeds), the ratio of sparktune's time to
each other's, the best loss per seed, and the per-trial overhead: the slot-seconds a trial
costs beyond the function's own time, ``(2 x wall - sum of the function's times) / trials``.
``BENCH_FN_ROWS``, ``BENCH_FN_TRIALS`` and ``BENCH_FN_SEEDS`` shrink it for a smoke run.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from typing import Any

import numpy as np
from pyspark import cloudpickle

import sparktune
from bench.common import session

ROWS = int(os.environ.get("BENCH_FN_ROWS", "50000"))
TRIALS = int(os.environ.get("BENCH_FN_TRIALS", "32"))
SEEDS = tuple(range(int(os.environ.get("BENCH_FN_SEEDS", "3"))))
SLOTS = 2

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def auc_loss(c: float, fit_intercept: bool, rows: int = ROWS) -> tuple[float, float]:
    """The function every contender tunes: (-AUC, its own seconds)."""
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    started = time.perf_counter()
    x, y = make_classification(n_samples=rows, n_features=20, n_informative=8, random_state=0)
    model = LogisticRegression(C=c, fit_intercept=fit_intercept, max_iter=200)
    auc = float(np.mean(cross_val_score(model, x, y, cv=3, scoring="roc_auc")))
    return -auc, time.perf_counter() - started


def objective(params: dict[str, Any]) -> dict[str, Any]:
    """hyperopt's and sparktune's form: the loss and the function's own time."""
    loss, seconds = auc_loss(params["C"], params["fit_intercept"])
    return {"loss": loss, "status": "ok", "own_time": seconds}


def hyperopt_space() -> dict[str, Any]:
    from hyperopt import hp

    return {
        "C": hp.loguniform("C", math.log(1e-4), math.log(1e2)),
        "fit_intercept": hp.choice("fit_intercept", [True, False]),
    }


def run_sparktune(seed: int, trials: int = TRIALS) -> tuple[float, float, float]:
    """(wall seconds, best loss, the function's summed seconds) for sparktune."""
    started = time.perf_counter()
    result = sparktune.tune(
        objective, hyperopt_space(), strategy="tpe", max_trials=trials, parallelism=SLOTS,
        seed=abs(seed), tracking=False, progress=False,
    )  # fmt: skip
    wall = time.perf_counter() - started
    own = float(result.results["split0_own_time"].sum())
    return wall, result.best_metric, own


def run_hyperopt(seed: int, trials: int = TRIALS) -> tuple[float, float, float]:
    """(wall seconds, best loss, the function's summed seconds) for SparkTrials."""
    from hyperopt import SparkTrials, fmin, tpe

    found = SparkTrials(parallelism=SLOTS)
    started = time.perf_counter()
    fmin(objective, hyperopt_space(), algo=tpe.suggest, max_evals=trials, trials=found,
         rstate=np.random.default_rng(abs(seed)), show_progressbar=False)  # fmt: skip
    wall = time.perf_counter() - started
    own = sum(r.get("own_time", 0.0) for r in found.results)
    return wall, float(min(x for x in found.losses() if x is not None)), own


def run_mlflow(seed: int, folder: str, trials: int = TRIALS) -> tuple[float, float, float]:
    """(wall seconds, best loss, the function's summed seconds) for MlflowSparkStudy."""
    import mlflow
    from mlflow.optuna.storage import MlflowStorage
    from mlflow.pyspark.optuna.study import MlflowSparkStudy
    from optuna.samplers import TPESampler

    mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
    experiment = mlflow.create_experiment(f"bench-functions-{seed}-{time.time_ns()}")

    def study_objective(trial: Any) -> float:
        c = trial.suggest_float("C", 1e-4, 1e2, log=True)
        fit_intercept = trial.suggest_categorical("fit_intercept", [True, False])
        loss, seconds = auc_loss(c, fit_intercept)
        trial.set_user_attr("own_time", seconds)
        return loss

    study = MlflowSparkStudy(
        f"bench-{seed}", MlflowStorage(experiment_id=experiment), sampler=TPESampler(seed=abs(seed))
    )
    started = time.perf_counter()
    study.optimize(study_objective, n_trials=trials, n_jobs=SLOTS)
    wall = time.perf_counter() - started
    done = [t for t in study.trials if t.value is not None]
    own = sum(t.user_attrs.get("own_time", 0.0) for t in done)
    return wall, min(t.value for t in done), own


def main() -> dict[str, float]:
    """Run the three contenders per seed, interleaved; print the table and return it."""
    session()
    print(f"  {ROWS} rows, {TRIALS} TPE trials, {SLOTS} slots, seeds {list(SEEDS)}", flush=True)
    with tempfile.TemporaryDirectory() as folder:  # warm every contender's workers, untimed
        run_sparktune(-1, trials=2)
        run_mlflow(-1, folder, trials=2)
        run_hyperopt(-1, trials=2)
    runs: dict[str, list[tuple[float, float, float]]] = {"sparktune": [], "mlflow": [],
                                                          "hyperopt": []}  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        for seed in SEEDS:
            order = ["sparktune", "mlflow", "hyperopt"]
            order = order[seed % 3 :] + order[: seed % 3]  # no contender always first
            for name in order:
                if name == "sparktune":
                    out = run_sparktune(seed)
                elif name == "mlflow":
                    out = run_mlflow(seed, folder)
                else:
                    out = run_hyperopt(seed)
                runs[name].append(out)
                print(f"  seed {seed} {name:<10s} {out[0]:7.1f} s  best loss {out[1]:.5f}",
                      flush=True)  # fmt: skip
    summary: dict[str, float] = {}
    for name, found in runs.items():
        wall = float(np.mean([w for w, _, _ in found]))
        overhead = float(np.mean([(SLOTS * w - own) / TRIALS for w, _, own in found]))
        summary[f"{name}_s"] = wall
        summary[f"{name}_overhead_s"] = overhead
        summary[f"{name}_best_loss"] = float(np.mean([b for _, b, _ in found]))
        print(f"  {name:<10s} mean {wall:6.1f} s, per-trial overhead {overhead:5.2f} s, best "
              f"losses {[round(b, 5) for _, b, _ in found]}", flush=True)  # fmt: skip
    for other in ("mlflow", "hyperopt"):
        ratio = summary["sparktune_s"] / summary[f"{other}_s"]
        summary[f"ratio_vs_{other}"] = ratio
        print(f"  sparktune / {other}: {ratio:.2f}x", flush=True)
    return summary


if __name__ == "__main__":
    main()
