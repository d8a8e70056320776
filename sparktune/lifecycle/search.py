"""One search, start to end, for every front end: check, evaluate, pick the best, refit, log.

``tune()``, the drop-in validators and job specs each describe their search once, as a
:class:`~sparktune.core.settings.SearchSettings` and a :class:`SearchProblem` (the Spark
objects), and call :func:`run_search`. The tracker's params, the results table and the
refit all come from there, so no entry point repeats any of it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.ml.evaluation import Evaluator
from pyspark.ml.param import Param, Params
from pyspark.sql import DataFrame, SparkSession

from sparktune.core.callbacks import Callback, Strategy
from sparktune.core.engine import Engine, Outcome
from sparktune.core.errors import CheckpointError, SearchFailedError
from sparktune.core.progress import ProgressBar
from sparktune.core.results import results_frame
from sparktune.core.schedulers import ROWS
from sparktune.core.settings import SearchSettings
from sparktune.core.trial import Trial, TrialState
from sparktune.lifecycle.functions import FunctionProblem
from sparktune.lifecycle.local import LocalProblem
from sparktune.lifecycle.refit import refit_best
from sparktune.lifecycle.result import TuneResult
from sparktune.spark import pipeline, slots, splits
from sparktune.spark.cache import FoldCache
from sparktune.spark.checks import (
    check_columns,
    check_evaluator,
    check_folds,
    check_labels,
    check_not_empty,
    output_columns,
)
from sparktune.spark.objective import PipelineObjective, name_evaluators
from sparktune.spark.port import ClassicPort, ConnectPort, port_for
from sparktune.spark.tasks import check_task
from sparktune.tracking import MlflowTracker, Tracking

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchProblem:
    """The Spark side of a search: data, estimator, what the space may set, evaluators.

    ``options`` names every Param the search may set, with the values it may take where
    they are known (needed for Params-valued params): it decides where the pipeline splits.
    ``resource`` is the iteration Param a scheduler's budget sets (None: none, or rows).
    """

    data: DataFrame
    estimator: Params
    options: Mapping[Param, Sequence[Any]]
    evaluators: Sequence[Evaluator]
    validation_data: DataFrame | None = None
    resource: Param | None = None

    @property
    def spark(self) -> SparkSession:
        """The session of the data."""
        return self.data.sparkSession

    @property
    def label(self) -> str | None:
        """The label column the primary evaluator reads, if it has one."""
        evaluator = self.evaluators[0]
        return evaluator.getOrDefault("labelCol") if evaluator.hasParam("labelCol") else None


def metrics_of(evaluators: Sequence[Evaluator]) -> tuple[tuple[str, ...], bool]:
    """Check ``evaluators``; return their metric names (primary first) and its direction."""
    for evaluator in evaluators:
        check_evaluator(evaluator)
    return tuple(name_evaluators(evaluators)), bool(evaluators[0].isLargerBetter())


def run_search(
    settings: SearchSettings,
    problem: SearchProblem | LocalProblem | FunctionProblem,
    strategy: Strategy,
    *,
    refit: Callable[[Trial], Any] | None,
    tracking: Tracking | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool = False,
    cache_budget: int | None = None,
    resumed: Sequence[Trial] = (),
    raise_refit_error: bool = False,
) -> TuneResult:
    """Evaluate what ``strategy`` asks for, then refit the best trial with ``refit``.

    Raises SearchFailedError when no trial completed; a failed refit raises RefitError with
    the results (``raise_refit_error``: the refit's own error, as pyspark's validators do).
    ``resumed`` are trials finished earlier (a checkpoint), kept without running again.
    A :class:`LocalProblem` (a scikit-learn estimator) is evaluated one Spark task per
    (candidate x fold), a :class:`FunctionProblem` one call of the function per trial;
    everything else is the same.
    """
    tracker = None
    if tracking is not None:
        tracker = MlflowTracker(
            tracking, settings, spark=problem.spark, data=problem.data, label=problem.label
        )
    hooks = list(callbacks)
    if progress:
        desc = f"sparktune {settings.strategy}"
        hooks.append(ProgressBar(settings.max_trials, settings.larger_is_better, desc))
    hooks += [tracker] if tracker is not None else []
    try:
        if isinstance(problem, LocalProblem | FunctionProblem):
            outcome = problem.evaluate(settings, strategy, hooks, resumed)
        else:
            outcome = evaluate(settings, problem, strategy, hooks, cache_budget, resumed)
    except CheckpointError as exc:  # keep the trials, as a table, on the error
        exc.results = results_frame(exc.trials, settings.metrics, settings.larger_is_better)
        if tracker is not None:
            tracker.close("FAILED")
        raise
    try:
        return _conclude(settings, outcome, refit, tracker, raise_refit_error)
    except BaseException as exc:  # the parent run never stays open (a no-op once closed)
        if tracker is not None:
            tracker.close("FAILED" if isinstance(exc, Exception) else "KILLED")
        raise


def _conclude(
    settings: SearchSettings,
    outcome: Outcome,
    refit: Callable[[Trial], Any] | None,
    tracker: MlflowTracker | None,
    raise_refit_error: bool,
) -> TuneResult:
    """Pick the best trial, refit it, build the result and finish the tracker."""
    best = best_trial(outcome, settings.larger_is_better)
    results = results_frame(outcome.trials, settings.metrics, settings.larger_is_better)
    results.attrs["parallelism"] = outcome.parallelism
    results.attrs["log_params"] = list(settings.log_params)
    model = None
    if refit is not None:
        wrap = not raise_refit_error
        model = refit_best(lambda: refit(best), best, results, tracker, wrap=wrap)
    logger.info(
        "search ended (%s) after %d trials in %.1f s; best %s = %.6g with %s",
        outcome.stop_reason,
        len(outcome.trials),
        outcome.elapsed,
        settings.primary,
        best.value,
        dict(best.params),
    )
    result = TuneResult(
        best_params=dict(best.params),
        best_metric=best.value,
        best_model=model,
        best_trial=best,
        results=results,
        trials=outcome.trials,
        metric=settings.primary,
        larger_is_better=settings.larger_is_better,
        stop_reason=outcome.stop_reason,
        elapsed=outcome.elapsed,
    )
    if tracker is not None:
        tracker.finish(
            best, results, model, stop_reason=outcome.stop_reason, elapsed=outcome.elapsed
        )
        result.run_id, result.unlogged_trials = tracker.run_id, list(tracker.unlogged_trials)
    return result


def evaluate(
    settings: SearchSettings,
    problem: SearchProblem,
    strategy: Strategy,
    callbacks: Sequence[Callback],
    cache_budget: int | None,
    resumed: Sequence[Trial],
) -> Outcome:
    """Check the data against the pipeline and folds, then run the engine on cached folds."""
    named = name_evaluators(problem.evaluators)
    data = problem.data
    folds = splits.make_folds(data, settings.split, settings.seed, problem.validation_data)
    options = dict(problem.options)
    scheduler = settings.scheduler
    if problem.resource is not None and scheduler is not None:
        options[problem.resource] = sorted(
            {int(b) for rungs in scheduler.brackets() for b in rungs}
        )
    plan = pipeline.plan(problem.estimator, options)
    stages = pipeline.flatten(problem.estimator, [])
    check_columns(data, stages, named)
    check_not_empty(data)
    check_labels(data, [*stages, *named.values()])
    check_task(data, stages, named, {c for s in stages for c in output_columns(s)})
    check_folds(folds, settings.split.allow_empty_validation)
    spark = data.sparkSession
    concurrency = slots.plan_concurrency(spark, plan.stages, options, settings.parallelism)
    port = port_for(spark)
    objective = PipelineObjective(
        plan,
        folds,
        named,
        fold_cache(port, cache_budget, len(folds)),
        train_metrics=settings.train_metrics,
        keep_models=settings.keep_models,
        columns=pipeline.referenced_columns([*plan.suffix, *named.values()], options),
        session=port.candidate_session(),
        resource=problem.resource if problem.resource is not None else ROWS,
        allow_empty_validation=settings.split.allow_empty_validation,
    )
    logger.info(
        "search: %d prefix stage(s) fitted once per fold, %d suffix stage(s) per candidate",
        len(plan.prefix),
        len(plan.suffix),
    )
    hooks = [*callbacks, *port.leftovers()]
    engine = Engine(
        objective, port, concurrency.parallelism, settings.error_policy, hooks, scheduler
    )
    with port.searching():
        return engine.run(concurrency.guard(strategy), settings.stoppers(), resumed)


def fold_cache(port: ClassicPort | ConnectPort, cache_budget: int | None, folds: int) -> FoldCache:
    """The fold cache: memory from what Spark has free (at most ``cache_budget``), local disk
    beyond it; a ``cache_budget`` given bounds memory and disk together."""
    memory = port.cache_budget()
    if cache_budget is not None:
        return FoldCache(cache_budget, memory_bytes=min(memory, cache_budget), num_folds=folds)
    disk = port.disk_budget()
    total = None if disk is None else memory + disk
    return FoldCache(total, memory_bytes=memory, num_folds=folds)


def best_trial(outcome: Outcome, larger_is_better: bool) -> Trial:
    """The complete trial with the best mean primary metric, or SearchFailedError."""
    complete = [t for t in outcome.trials if t.state is TrialState.COMPLETE and t.value == t.value]
    if not complete:
        states = dict(Counter(t.state.value for t in outcome.trials))
        raise SearchFailedError(
            f"No trial completed with a metric (stop reason: {outcome.stop_reason}; "
            f"trials by state: {states}). Raise the timeout or max_trials, or see the errors."
        )
    pick = max if larger_is_better else min
    return pick(complete, key=lambda t: t.value)
