"""``tune()`` for scikit-learn-compatible estimators: each (trial x fold) one Spark task.

:func:`tune` hands a scikit-learn estimator here. The space is resolved against its
``get_params`` names, the data collected and split once on the driver, and the search
described as the same :class:`~sparktune.core.settings.SearchSettings` and run by the same
:func:`~sparktune.lifecycle.search.run_search` as a Spark pipeline's: strategies,
checkpoint, timeout, failure policy, progress bar, results table and MLflow are shared.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pyspark.sql import SparkSession

from sparktune.core.callbacks import Callback
from sparktune.core.errors import ValidationError
from sparktune.core.schedulers import Scheduler
from sparktune.core.settings import ErrorPolicy, SearchSettings, Split, fold_split
from sparktune.frontends.common import prepare
from sparktune.lifecycle.local import LocalProblem
from sparktune.lifecycle.result import TuneResult
from sparktune.lifecycle.search import run_search
from sparktune.search import strategy_name
from sparktune.search.describe import describe_space
from sparktune.search.sklearn_space import resolve_sklearn
from sparktune.spark.local_checks import check_feature_types, check_scorer
from sparktune.spark.local_data import (
    MAX_COLLECT_ROWS,
    LocalData,
    check_columns,
    collect,
    features_and_label,
)
from sparktune.spark.local_fit import ScorerFn, fit_candidate, fold_indices, resolve_scorer
from sparktune.spark.resources import resolve_sklearn_scheduler
from sparktune.tracking import Tracking
from sparktune.tracking.settings import resolve as resolve_tracking

if TYPE_CHECKING:
    import optuna
    from optuna.samplers import BaseSampler


def tune_local(
    estimator: Any,
    space: Mapping[Any, Any],
    data: Any,
    metric: str | ScorerFn,
    *,
    label: str | None,
    features: Sequence[str] | None = None,
    max_collect_rows: int = MAX_COLLECT_ROWS,
    strategy: str | BaseSampler | optuna.Study = "tpe",
    scheduler: Scheduler | None = None,
    max_trials: int | None = None,
    parallelism: int = 1,
    num_folds: int | None = None,
    train_ratio: float | None = None,
    seed: int = 0,
    timeout: float | None = None,
    early_stopping: int | None = None,
    points_to_evaluate: Sequence[Mapping[Any, Any]] | None = None,
    refit: bool = True,
    train_metrics: bool = True,
    error_policy: ErrorPolicy | str = "continue",
    tracking: bool | str | Tracking | None = None,
    experiment: str | None = None,
    progress: bool = True,
    callbacks: Sequence[Callback] = (),
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
) -> TuneResult:
    """Search ``space`` for the params of a scikit-learn ``estimator`` (see :func:`tune`).

    Every input is checked before any Spark task runs; the best candidate is refit on the
    driver on all the data and returned.
    """
    resolved = resolve_sklearn(estimator, space)
    resource = None
    if scheduler is not None:
        scheduler, resource = resolve_sklearn_scheduler(scheduler, estimator, resolved.params)
    scorer = resolve_scorer(metric)
    check_columns(data, label, features)
    split = fold_split(Split.of(num_folds, train_ratio), scheduler)
    frame = collect(data, max_collect_rows)
    x, y = features_and_label(frame, label, features)
    check_feature_types(x, estimator)
    check_scorer(metric, estimator, y)
    folds = fold_indices(len(frame), split.num_folds, seed, split.train_ratio, split.num_repeats)
    assert label is not None  # check_columns refused a missing label
    local = LocalData(frame[[*x.columns, label]], x, y, label, tuple(folds))
    settings = SearchSettings(
        entry_point="tune",
        strategy=strategy_name(strategy),
        metrics=(scorer.name,),
        larger_is_better=scorer.larger_is_better,
        split=split,
        seed=seed,
        max_trials=max_trials,
        parallelism=parallelism,
        timeout=timeout,
        early_stopping=early_stopping,
        error_policy=error_policy,
        train_metrics=train_metrics,
        space=describe_space(space),
        estimator=_describe(estimator),
        params=tuple(resolved.params),
        scheduler=scheduler,
        log_params=resolved.log_scaled(),
    )
    ready = prepare(
        settings,
        resolved,
        strategy,
        points_to_evaluate=points_to_evaluate,
        checkpoint=checkpoint,
        resume=resume,
        callbacks=callbacks,
    )
    spark = data.sparkSession if hasattr(data, "sparkSession") else _active_session()

    full = {resource: int(scheduler.max_resource)} if resource and scheduler else {}

    def refit_trial(best: Any) -> Any:
        return fit_candidate(estimator, {**best.candidate.param_map, **full}, x, y)

    return run_search(
        ready.settings,
        LocalProblem(spark, estimator, local, scorer, resource),
        ready.search,
        refit=refit_trial if refit else None,
        tracking=resolve_tracking(tracking, experiment),
        callbacks=ready.callbacks,
        progress=progress,
        resumed=ready.resumed,
    )


def _active_session() -> SparkSession:
    """The active SparkSession the trials run on, or a ValidationError saying to start one."""
    spark = SparkSession.getActiveSession()
    if spark is None:
        raise ValidationError(
            "A single-machine search runs its trials as Spark tasks: start a SparkSession "
            "first (or pass a Spark DataFrame as data)."
        )
    return spark


def _describe(estimator: Any) -> str:
    """A one-line rendering of a scikit-learn estimator (its repr on one line)."""
    return " ".join(repr(estimator).split())
