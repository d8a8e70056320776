"""Fitting and scoring one scikit-learn candidate on one fold: what a Spark task runs.

Everything here is plain Python on arrays, so the same code runs inside an executor task
(one (trial x fold) of :mod:`sparktune.spark.local_objective`, or a group's whole search in
:mod:`sparktune.lifecycle.groups`) and on the driver; the metric is a scikit-learn scorer
(``scorer(estimator, X, y)``, larger is better), by name or as a callable.
"""

from __future__ import annotations

import difflib
import os
import socket
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sparktune.core.errors import ValidationError

#: A scikit-learn scorer: (fitted estimator, X, y) -> score, larger is better.
ScorerFn = Callable[[Any, Any, Any], float]


class FitError(RuntimeError):
    """A candidate's fit or scoring raised in its task (the message is the task's error)."""


@dataclass(frozen=True)
class Scorer:
    """The metric of a single-machine search: its name and its scorer (larger is better)."""

    name: str
    score: ScorerFn
    larger_is_better: bool = True


def resolve_scorer(metric: str | ScorerFn) -> Scorer:
    """A scorer name (``sklearn.metrics.get_scorer``) or a scorer callable, as a :class:`Scorer`.

    Names keep scikit-learn's sign (``"neg_root_mean_squared_error"`` is larger-is-better);
    an unknown name raises :class:`ValidationError` with close matches.
    """
    from sklearn.metrics import get_scorer, get_scorer_names

    if isinstance(metric, str):
        try:
            return Scorer(metric, get_scorer(metric))
        except ValueError:
            close = difflib.get_close_matches(metric, get_scorer_names(), n=5, cutoff=0.5)
            hint = f" Close matches: {close}." if close else ""
            raise ValidationError(
                f"metric {metric!r} is not a scikit-learn scorer name "
                f"(sklearn.metrics.get_scorer_names()).{hint}"
            ) from None
    if callable(metric):
        return Scorer(getattr(metric, "__name__", type(metric).__name__), metric)
    raise ValidationError(
        "metric must be a scikit-learn scorer name (e.g. 'neg_root_mean_squared_error') or a "
        f"scorer callable (estimator, X, y) -> float, got {type(metric).__name__}."
    )


def fold_indices(
    n_rows: int,
    num_folds: int | None = None,
    seed: int = 0,
    train_ratio: float | None = None,
    num_repeats: int = 1,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, validation) row indices: seeded shuffled ``KFold``, or one ``train_ratio`` split.

    The same indices passed as ``cv=`` to scikit-learn's ``GridSearchCV`` give its folds.
    ``num_repeats`` repeats the k-fold, repeat r shuffled with seed ``seed + r``.
    """
    from sklearn.model_selection import KFold, ShuffleSplit

    if train_ratio is not None:
        if not 0 < train_ratio < 1:
            raise ValidationError(f"train_ratio must be in (0, 1), got {train_ratio!r}.")
        splitter: Any = ShuffleSplit(n_splits=1, train_size=train_ratio, random_state=seed)
    else:
        folds = 3 if num_folds is None else num_folds
        if not isinstance(folds, int) or folds < 2:
            raise ValidationError(f"num_folds must be an integer >= 2, got {num_folds!r}.")
        if n_rows < folds:
            raise ValidationError(
                f"{n_rows} row(s) cannot make {folds} folds; use fewer folds or more data."
            )
        return [
            (train, val)
            for r in range(num_repeats)
            for train, val in KFold(folds, shuffle=True, random_state=seed + r).split(
                np.zeros((n_rows, 1))
            )
        ]
    return [(train, val) for train, val in splitter.split(np.zeros((n_rows, 1)))]


def rows(data: Any, index: np.ndarray) -> Any:
    """The rows ``index`` of a pandas frame/series or an array."""
    return data.iloc[index] if hasattr(data, "iloc") else data[index]


def fit_candidate(estimator: Any, params: Mapping[str, Any], x: Any, y: Any) -> Any:
    """A fresh clone of ``estimator`` with ``params`` set, fitted on ``x``, ``y``."""
    from sklearn.base import clone

    return clone(estimator).set_params(**dict(params)).fit(x, y)


def run_fold(
    estimator: Any,
    params: Mapping[str, Any],
    x: Any,
    y: Any,
    fold: tuple[np.ndarray, np.ndarray],
    scorer: Scorer,
    train_metrics: bool = False,
) -> dict[str, Any]:
    """Fit a candidate on a fold's training rows and score it on its validation rows.

    Returns plain values: metrics, fit time, and where and when it ran (executor, start and
    end times), which the results table shows per fold.
    """
    started = time.time()
    train, val = fold
    x_train, y_train = rows(x, train), rows(y, train)
    clock = time.perf_counter()
    model = fit_candidate(estimator, params, x_train, y_train)
    fit_time = time.perf_counter() - clock
    metrics = {scorer.name: float(scorer.score(model, rows(x, val), rows(y, val)))}
    train_side = (
        {scorer.name: float(scorer.score(model, x_train, y_train))} if train_metrics else {}
    )
    info = {"executor": _executor_id(), "started": started, "ended": time.time()}
    return {"metrics": metrics, "train_metrics": train_side, "fit_time": fit_time, "info": info}


def guarded_fold(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """:func:`run_fold`, with an exception returned as ``{"error", "traceback"}`` instead.

    A failing candidate is the search's to record, not a failed Spark task to retry.
    """
    try:
        return run_fold(*args, **kwargs)
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}


def _executor_id() -> str:
    """The executor running this task ("driver" outside a task)."""
    from pyspark import TaskContext

    context = TaskContext.get()
    if context is None:
        return "driver"
    # A Python worker is forked by its executor's one daemon: host and daemon name it.
    return os.environ.get("SPARK_EXECUTOR_ID") or f"{socket.gethostname()}:{os.getppid()}"
