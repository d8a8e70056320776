"""``sparktune.tune``: search a pipeline's params by grid, random or TPE, k trials at a time.

``tune`` resolves the space (names -> Spark Params, before any Spark job), builds the folds
and the strategy, and runs the search through :func:`sparktune.lifecycle.runner.execute`, the same
checks, featurized-fold cache and engine as the drop-in ``CrossValidator``. The best
candidate is then refit on the whole data.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
from pyspark.ml import Model
from pyspark.ml.evaluation import Evaluator
from pyspark.ml.param import Params
from pyspark.sql import DataFrame

from sparktune.core.engine import Callback, ErrorPolicy, Strategy, check_limits
from sparktune.core.errors import SearchFailedError, ValidationError
from sparktune.core.progress import ProgressBar
from sparktune.core.settings import DEFAULT_FOLDS, DEFAULT_TRIALS
from sparktune.core.trial import Trial
from sparktune.lifecycle.runner import SearchRun, execute
from sparktune.search import GridSearch, make_strategy
from sparktune.search.space import resolve
from sparktune.spark import splits, xgb
from sparktune.spark.checks import check_evaluator
from sparktune.spark.objective import name_evaluators
from sparktune.tracking import checkpoint as checkpointing
from sparktune.tracking.tracker import refit_best, search_tracker

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from sparktune.tracking.tracker import Tracking

logger = logging.getLogger(__name__)



@dataclass
class TuneResult:
    """What a search found: the best params, metric and refit model, and every trial.

    ``results`` has one row per trial: ``param_<name>``, ``mean_/std_/split{k}_`` of every
    metric on ``val`` (and ``train``), fit time, state, error and rank.
    """

    best_params: dict[str, Any]
    best_metric: float
    best_model: Model | None
    best_trial: Trial
    results: pd.DataFrame
    trials: tuple[Trial, ...]
    metric: str
    larger_is_better: bool
    stop_reason: str
    elapsed: float
    run_id: str | None = None
    unlogged_trials: list[int] = field(default_factory=list)

    def plot(self) -> Figure:
        """The metric of every trial with the best so far, and each param against it.

        The same plots as the PNG artifacts of the search's MLflow run, in one figure.
        """
        from sparktune.tracking import plots

        return plots.overview(self.results, self.metric, self.larger_is_better)


def tune(
    estimator: Params,
    space: Mapping[Any, Any],
    data: DataFrame,
    evaluator: Evaluator,
    *,
    extra_evaluators: Sequence[Evaluator] = (),
    strategy: str = "tpe",
    max_trials: int | None = None,
    parallelism: int = 1,
    num_folds: int | None = None,
    train_ratio: float | None = None,
    validation_data: DataFrame | None = None,
    fold_col: str | None = None,
    seed: int = 0,
    timeout: float | None = None,
    early_stopping: int | None = None,
    points_to_evaluate: Sequence[Mapping[Any, Any]] | None = None,
    refit: bool = True,
    train_metrics: bool = True,
    error_policy: ErrorPolicy | str = "continue",
    tracking: bool | str | Tracking = True,
    experiment: str | None = None,
    progress: bool = True,
    callbacks: Sequence[Callback] = (),
    cache_budget: int | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
) -> TuneResult:
    """Search ``space`` for the params of ``estimator`` that score best on ``data``.

    - ``space``: name -> list of values or ``hp.*`` expression (see :mod:`sparktune.search.space`);
    - ``evaluator`` gives the metric optimized and its direction (``isLargerBetter``);
      ``extra_evaluators`` are recorded for every trial too;
    - ``strategy``: ``"grid"`` (every combination; ``max_trials`` defaults to all of them),
      ``"random"`` or ``"tpe"`` (``max_trials`` defaults to 20); ``points_to_evaluate``
      (name -> value dicts) are tried first;
    - ``parallelism`` trials (x folds) run at once from driver threads;
    - folds: ``num_folds`` (k-fold, 3 by default; by ``fold_col`` if given), or
      ``train_ratio`` (one random split), or ``validation_data`` (a DataFrame to score on;
      the refit then uses ``data`` only);
    - ``timeout`` (seconds) cancels the Spark jobs of unfinished trials and ends the search
      (the refit runs after it); ``early_stopping`` ends it after that many finished trials
      without improvement;
    - ``error_policy``: ``"continue"`` records a failing trial (its error in ``results``) and
      goes on; ``"raise"`` stops and raises;
    - ``train_metrics`` also scores each trial on its training folds;
    - ``tracking``/``experiment``: MLflow tracking of the search (``sparktune.tracking.tracker``);
    - ``progress`` shows a progress bar; ``callbacks`` receive the engine's hooks;
      ``cache_budget`` bounds the bytes of cached featurized folds;
    - ``checkpoint``: a JSON file rewritten after every finished trial
      (:mod:`sparktune.tracking.checkpoint`); with ``resume=True`` its finished trials are kept, not
      run again, and count toward ``max_trials``.

    Bad input raises :class:`ValidationError` before any Spark job; a search where no trial
    completes raises :class:`SearchFailedError`.
    """
    resolved = resolve(estimator, space)
    evaluators = [evaluator, *extra_evaluators]
    for each in evaluators:
        check_evaluator(each)
    larger_is_better = bool(evaluator.isLargerBetter())
    _check_data(data, validation_data)
    if not isinstance(strategy, str):
        raise ValidationError(f"strategy must be one of 'grid', 'random', 'tpe'; got {strategy!r}.")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValidationError(f"seed must be an integer, got {seed!r}.")
    check_limits(parallelism, max_trials, timeout, early_stopping)
    search = make_strategy(
        strategy,
        resolved,
        seed=seed,
        larger_is_better=larger_is_better,
        points_to_evaluate=points_to_evaluate or (),
    )
    limit = _trial_limit(search, max_trials)
    restored, saver = checkpointing.prepare(
        checkpoint,
        resume,
        resolved,
        checkpointing.describe(
            strategy=strategy,
            seed=seed,
            params=sorted(resolved.params),
            metrics=list(name_evaluators(evaluators)),
            split=[num_folds, train_ratio, fold_col, validation_data is not None],
        ),
        next(iter(name_evaluators(evaluators))),
    )
    hooks = _callbacks_for(
        [*callbacks, *([saver] if saver else [])], progress, limit, larger_is_better, strategy
    )
    tracker = search_tracker(
        tracking,
        experiment,
        estimator=estimator,
        space=space,
        data=data,
        evaluator=evaluator,
        train_ratio=train_ratio,
        fold_col=fold_col,
        validation_data=validation_data,
        strategy=strategy,
        max_trials=limit,
        seed=seed,
        timeout=timeout,
        early_stopping=early_stopping,
    )
    if tracker is not None:
        hooks.append(tracker)
    folds = _folds(data, seed, num_folds, train_ratio, validation_data, fold_col)
    run = execute(
        dataset=data,
        estimator=resolved.estimator,
        options=resolved.options,
        folds=folds,
        evaluators=evaluators,
        strategy=search,
        parallelism=parallelism,
        error_policy=error_policy,
        callbacks=hooks,
        max_trials=limit,
        timeout=timeout,
        early_stopping=early_stopping,
        train_metrics=train_metrics,
        cache_budget=cache_budget,
        resumed=restored,
    )
    best = _best(run)  # with no complete trial, the tracker has closed its run already
    results = run.results()
    model = None
    if refit:
        model = refit_best(
            lambda: resolved.final_model(
                xgb.refit(resolved.estimator, data, best.candidate.param_map)
            ),
            best,
            results,
            tracker,
        )
    logger.info(
        "search ended (%s) after %d trials in %.1f s; best %s = %.6g with %s",
        run.outcome.stop_reason,
        len(run.trials),
        run.outcome.elapsed,
        best.primary,
        best.value,
        dict(best.params),
    )
    result = TuneResult(
        best_params=dict(best.params),
        best_metric=best.value,
        best_model=model,
        best_trial=best,
        results=results,
        trials=run.trials,
        metric=run.metrics[0],
        larger_is_better=larger_is_better,
        stop_reason=run.outcome.stop_reason,
        elapsed=run.outcome.elapsed,
    )
    if tracker is not None:
        tracker.finish(result)
        result.run_id, result.unlogged_trials = tracker.run_id, list(tracker.unlogged_trials)
    return result


def _callbacks_for(
    callbacks: Sequence[Callback],
    progress: bool,
    total: int | None,
    larger_is_better: bool,
    strategy: str,
) -> list[Callback]:
    """The engine hooks of one search: the user's callbacks, the release of data left by
    interrupted fits, then the progress bar."""
    hooks = list(callbacks)
    for hook in hooks:
        if not isinstance(hook, Callback):
            raise ValidationError(
                f"callbacks must be sparktune.Callback instances, got {type(hook).__name__}."
            )
    if progress:
        hooks.append(ProgressBar(total, larger_is_better, desc=f"sparktune {strategy}"))
    return hooks


def _trial_limit(search: Strategy, max_trials: int | None) -> int | None:
    """``max_trials``, or all of a grid, or :data:`DEFAULT_TRIALS`."""
    if max_trials is not None:
        if isinstance(search, GridSearch) and isinstance(max_trials, int):
            return min(max_trials, search.size)
        return max_trials  # the engine checks it
    return search.size if isinstance(search, GridSearch) else DEFAULT_TRIALS


def _check_data(data: DataFrame, validation_data: DataFrame | None) -> None:
    if not isinstance(data, DataFrame):
        raise ValidationError(f"data must be a Spark DataFrame, got {type(data).__name__}.")
    if validation_data is None:
        return
    if not isinstance(validation_data, DataFrame):
        raise ValidationError(
            f"validation_data must be a Spark DataFrame, got {type(validation_data).__name__}."
        )
    missing = [c for c in data.columns if c not in validation_data.columns]
    if missing:
        raise ValidationError(
            f"validation_data lacks column(s) {missing} of data; score on data of the same shape."
        )


def _folds(
    data: DataFrame,
    seed: int,
    num_folds: int | None,
    train_ratio: float | None,
    validation_data: DataFrame | None,
    fold_col: str | None,
) -> list[splits.Fold]:
    """k-fold (the default), a train/validation split, or the given validation data."""
    given = [
        name
        for name, value in (
            ("num_folds", num_folds),
            ("train_ratio", train_ratio),
            ("validation_data", validation_data),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise ValidationError(
            f"Give one of num_folds, train_ratio and validation_data, not {given}."
        )
    if fold_col is not None and given and given != ["num_folds"]:
        raise ValidationError(f"fold_col assigns k-fold folds; it cannot be used with {given[0]}.")
    if validation_data is not None:
        return splits.given(data, validation_data)
    if train_ratio is not None:
        return splits.train_validation(data, train_ratio, seed)
    return splits.kfold(data, DEFAULT_FOLDS if num_folds is None else num_folds, seed, fold_col)


def _best(run: SearchRun) -> Trial:
    """The best complete trial, or SearchFailedError naming what happened to the others."""
    try:
        return run.best()
    except ValueError:
        states = dict(Counter(t.state.value for t in run.trials))
        raise SearchFailedError(
            f"No trial completed with a metric (stop reason: {run.outcome.stop_reason}; "
            f"trials by state: {states}). Raise the timeout or max_trials, or see the errors."
        ) from None
