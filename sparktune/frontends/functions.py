"""``tune()`` for a training function: ``fn(params)`` returns the loss (or a hyperopt dict).

:func:`tune` hands a plain callable here. The space's names are ``fn``'s params, the search
is described as the same :class:`~sparktune.core.settings.SearchSettings` and run by the
same :func:`~sparktune.lifecycle.search.run_search` as an estimator's: strategies,
schedulers (the budget is passed in ``fn``'s params under the scheduler's ``resource``),
timeout, early stopping, checkpoint, failure policy, progress bar, results and MLflow.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pyspark.sql import SparkSession

from sparktune.core.callbacks import Callback, Strategy
from sparktune.core.errors import ValidationError
from sparktune.core.schedulers import ASHA, ROWS
from sparktune.core.settings import ErrorPolicy, SearchSettings, Split
from sparktune.core.stopping import Stopper
from sparktune.frontends.common import prepare
from sparktune.lifecycle.functions import FunctionProblem
from sparktune.lifecycle.result import TuneResult
from sparktune.lifecycle.search import run_search
from sparktune.search import strategy_name
from sparktune.search.describe import describe_space
from sparktune.search.functions import FunctionSpace
from sparktune.spark.function_checks import check_picklable, check_signature
from sparktune.spark.function_objective import PLACEMENTS
from sparktune.tracking import Tracking
from sparktune.tracking.settings import resolve as resolve_tracking

if TYPE_CHECKING:
    import optuna
    from optuna.samplers import BaseSampler


def tune_function(
    fn: Callable[[Any], Any],
    space: Mapping[Any, Any] | FunctionSpace,
    *,
    metric: str | None = None,
    larger_is_better: bool | None = None,
    placement: str | None = None,
    spark: SparkSession | None = None,
    strategy: str | BaseSampler | optuna.Study = "tpe",
    scheduler: ASHA | None = None,
    max_trials: int | None = None,
    parallelism: int = 1,
    seed: int = 0,
    timeout: float | None = None,
    early_stopping: int | None = None,
    points_to_evaluate: Sequence[Mapping[Any, Any]] | None = None,
    error_policy: ErrorPolicy | str = "continue",
    tracking: bool | str | Tracking = True,
    experiment: str | None = None,
    progress: bool = True,
    callbacks: Sequence[Callback] = (),
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
    stoppers: Sequence[Stopper] = (),
    search: Strategy | None = None,
) -> TuneResult:
    """Search ``space`` for the params of ``fn`` with the lowest loss (see :func:`tune`).

    ``metric`` names the entry of ``fn``'s dict that is optimized (``"loss"`` by default);
    ``larger_is_better`` says it is maximized. ``placement``: ``"executors"`` (default, each
    trial one Spark task) or ``"driver"`` (driver threads, for an ``fn`` that runs Spark
    jobs). Every input is checked before any Spark job. ``stoppers`` are added to the
    search's limits and ``search`` replaces the strategy built from ``strategy`` (both for
    the hyperopt drop-in, :mod:`sparktune.frontends.fmin`).
    """
    check_signature(fn)
    place = "executors" if placement is None else placement
    if place not in PLACEMENTS:
        raise ValidationError(f"placement must be one of {list(PLACEMENTS)}, got {place!r}.")
    name = "loss" if metric is None else metric
    if not isinstance(name, str) or not name:
        raise ValidationError(
            "For a function, metric names the entry of fn's returned dict to optimize "
            f"(default 'loss'), got {metric!r}."
        )
    if larger_is_better is not None and not isinstance(larger_is_better, bool):
        raise ValidationError(f"larger_is_better must be True or False, got {larger_is_better!r}.")
    larger = bool(larger_is_better)
    resolved = space if isinstance(space, FunctionSpace) else FunctionSpace(space)
    resource = _resource(scheduler, resolved)
    if scheduler is not None:
        scheduler = _completed(scheduler)
    session = spark if spark is not None else _active_session()
    if place == "executors":
        check_picklable(fn)
    settings = SearchSettings(
        entry_point="tune",
        strategy=strategy_name(strategy),
        metrics=(name,),
        larger_is_better=larger,
        split=Split("function", 1),
        seed=seed,
        max_trials=max_trials,
        parallelism=parallelism,
        timeout=timeout,
        early_stopping=early_stopping,
        error_policy=error_policy,
        space=describe_space(space) if isinstance(space, Mapping) else "",
        estimator=f"function {getattr(fn, '__qualname__', type(fn).__name__)} on {place}",
        params=tuple(resolved.params),
        scheduler=scheduler,
    )
    ready = prepare(
        settings,
        resolved,
        strategy,
        points_to_evaluate=points_to_evaluate,
        checkpoint=checkpoint,
        resume=resume,
        callbacks=callbacks,
        search=search,
    )
    problem = FunctionProblem(session, fn, resolved.argument, place, resource, tuple(stoppers))
    return run_search(
        ready.settings,
        problem,
        ready.search,
        refit=None,
        tracking=resolve_tracking(tracking, experiment),
        callbacks=ready.callbacks,
        progress=progress,
        resumed=ready.resumed,
    )


def _resource(scheduler: ASHA | None, space: FunctionSpace) -> str | None:
    """The name under which ``fn`` receives a scheduler's budget (checked before any job)."""
    if scheduler is None:
        return None
    if not isinstance(scheduler, ASHA):
        raise ValidationError(
            "scheduler must be sparktune.ASHA(...) or sparktune.Hyperband(...), "
            f"got {type(scheduler).__name__}."
        )
    if scheduler.resource is None or scheduler.resource == ROWS:
        raise ValidationError(
            "A function's scheduler needs resource= (the name under which fn reads its budget, "
            "e.g. ASHA(resource='epochs', max_resource=27)); fn has no rows sparktune could cut."
        )
    if scheduler.max_resource is None:
        raise ValidationError(
            f"A function's scheduler needs max_resource= (the full budget of "
            f"{scheduler.resource!r}): sparktune cannot read a default off a function."
        )
    if scheduler.resource in space.params:
        raise ValidationError(
            f"The scheduler's resource {scheduler.resource!r} is also in the search space: the "
            "scheduler sets it rung by rung; remove it from the space."
        )
    return scheduler.resource


def _completed(scheduler: ASHA) -> ASHA:
    """The scheduler with its defaults filled in (its resource and max_resource are given)."""
    assert scheduler.resource is not None and scheduler.max_resource is not None
    return scheduler.completed(scheduler.resource, scheduler.max_resource)


def _active_session() -> SparkSession:
    """The active SparkSession trials run on, or a ValidationError saying to start one."""
    session = SparkSession.getActiveSession()
    if session is None:
        raise ValidationError(
            "A function's trials run on a SparkSession: start one first (or pass spark=)."
        )
    return session
