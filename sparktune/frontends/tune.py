"""``sparktune.tune``: search a pipeline's params by grid, random or TPE, k trials at a time.

A thin front end: it resolves the space (names -> Spark Params, before any Spark job),
describes the search once as :class:`~sparktune.core.settings.SearchSettings`, prepares
the checkpoint and the strategy, and hands the rest to
:func:`sparktune.lifecycle.search.run_search`, the same lifecycle the drop-ins use.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pyspark.ml.evaluation import Evaluator
from pyspark.ml.param import Params
from pyspark.sql import DataFrame

from sparktune.core.callbacks import Callback
from sparktune.core.errors import ValidationError
from sparktune.core.schedulers import Scheduler
from sparktune.core.settings import Budget, Checkpointing, ErrorPolicy, SearchSettings, Split
from sparktune.core.trial import Trial
from sparktune.frontends.common import prepare, unpacked
from sparktune.frontends.functions import tune_function
from sparktune.frontends.local import tune_local
from sparktune.frontends.scorers import is_function, scorer_arguments
from sparktune.lifecycle.result import TuneResult
from sparktune.lifecycle.search import SearchProblem, metrics_of, run_search
from sparktune.search import strategy_name
from sparktune.search.describe import describe_space
from sparktune.search.sklearn_space import is_sklearn_estimator
from sparktune.search.space import SearchSpace, resolve
from sparktune.spark import xgb
from sparktune.spark.local_data import MAX_COLLECT_ROWS
from sparktune.spark.pipeline import describe_estimator
from sparktune.spark.resources import resolve_scheduler
from sparktune.tracking import Tracking
from sparktune.tracking.settings import resolve as resolve_tracking

if TYPE_CHECKING:
    import optuna
    from optuna.samplers import BaseSampler


def tune(
    estimator: Params | Any,
    space: Mapping[Any, Any],
    data: DataFrame | Any = None,
    metric: Evaluator | str | Callable[..., Any] | None = None,
    *,
    extra_metrics: Sequence[Evaluator] = (),
    larger_is_better: bool | None = None,
    placement: str | None = None,
    evaluator: Evaluator | None = None,
    extra_evaluators: Sequence[Evaluator] = (),
    strategy: str | BaseSampler | optuna.Study = "tpe",
    scheduler: Scheduler | None = None,
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
    tracking: bool | str | Tracking | None = None,
    experiment: str | None = None,
    progress: bool = True,
    callbacks: Sequence[Callback] = (),
    cache_budget: int | None = None,
    checkpoint: str | os.PathLike[str] | Checkpointing | None = None,
    resume: bool = False,
    label: str | None = None,
    features: Sequence[str] | None = None,
    max_collect_rows: int = MAX_COLLECT_ROWS,
    split: Split | None = None,
    budget: Budget | None = None,
) -> TuneResult:
    """Search ``space`` for the params of ``estimator`` that score best on ``data``.

    - ``estimator``: a Spark ML estimator or pipeline, a scikit-learn-compatible estimator,
      or a training function ``fn(params)`` (below);
    - ``space``: name -> list of values or ``hp.*`` expression (see :mod:`sparktune.search.space`);
    - ``metric``: what is optimized. For Spark ML, an evaluator (its direction from
      ``isLargerBetter``); ``extra_metrics`` (evaluators) are recorded for every trial too.
      ``evaluator=`` and ``extra_evaluators=`` are the deprecated spellings;
    - ``strategy``: ``"grid"`` (every combination; ``max_trials`` defaults to all of them),
      ``"random"`` or ``"tpe"`` (``max_trials`` defaults to 20), or an Optuna sampler:
      ``"optuna-tpe"``, ``"cmaes"``, ``"qmc"`` or any ``optuna.samplers.BaseSampler``
      (:mod:`sparktune.search.optuna`), or an ``optuna.Study`` (its sampler, its storage,
      its direction: a study kept in a database continues across runs);
      ``points_to_evaluate`` (name -> value dicts) are tried first;
    - ``scheduler``: :class:`~sparktune.ASHA` or :class:`~sparktune.Hyperband` give every
      trial a small budget first (fewer iterations of the final estimator, or fewer rows)
      and the full budget only to those that rank well (:mod:`sparktune.core.schedulers`);
      the best trial is one that reached the full budget; :class:`~sparktune.Racing`
      (and :class:`~sparktune.MedianStopping`) run folds one at a time and drop a trial
      worse than the leader (the median) after its burn-in, on a k-fold split;
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
    - ``tracking``/``experiment``: MLflow tracking of the search (``sparktune.tracking.tracker``;
      by default on when MLflow is installed, ``True`` requires it, ``False`` turns it off);
    - ``progress`` shows a progress bar; ``callbacks`` receive the engine's hooks;
      ``cache_budget`` bounds the bytes of cached featurized folds;
    - ``checkpoint``: a JSON file rewritten after every finished trial
      (:mod:`sparktune.tracking.checkpoint`); with ``resume=True`` its finished trials are kept, not
      run again, and count toward ``max_trials``.

    Settings that belong together may be given as one object instead of flat keywords (the
    same objects ``tune_groups`` and the job spec take): ``split=Split(num_folds=5)`` or
    ``Split(train_ratio=0.8)``, ``budget=Budget(max_trials=50, timeout=600)``,
    ``checkpoint=Checkpointing("ckpt.json", resume=True)``, ``tracking=Tracking(...)``; a
    setting given both ways is refused.

    A scikit-learn-compatible ``estimator`` (``get_params``/``set_params``/``fit``) is tuned
    with each (trial x fold) as one Spark task (:mod:`sparktune.frontends.local`): the space
    uses its ``get_params`` names, ``evaluator`` is a scorer name or callable (the metric),
    ``data`` a pandas or (at most ``max_collect_rows`` rows) Spark DataFrame with the
    ``label`` column and ``features`` (all other columns by default).

    A function ``fn`` (any callable that is not an estimator) is called with a candidate's
    params dict and returns its loss, or a dict as hyperopt objectives return one (``loss``,
    or the entry named by ``metric``; optional ``status``; other numbers recorded as
    metrics); ``larger_is_better=True`` maximizes it. ``data`` is not used.
    ``placement="executors"`` (default) runs each trial as one Spark task, ``"driver"`` on
    driver threads (for an ``fn`` that runs Spark jobs itself); a scheduler's budget is
    passed in the params under its ``resource`` (:mod:`sparktune.frontends.functions`).

    Bad input raises :class:`ValidationError` before any Spark job; a search where no trial
    completes raises :class:`SearchFailedError`.
    """
    if split is not None or budget is not None or isinstance(checkpoint, Checkpointing):
        return tune(**unpacked(locals(), "tune"))
    metric, extra_metrics = scorer_arguments(metric, extra_metrics, evaluator, extra_evaluators)
    if is_function(estimator):
        return _tune_function(dict(locals()))
    given = [
        n
        for n, v in (("larger_is_better", larger_is_better), ("placement", placement))
        if v is not None
    ]
    if given:
        raise ValidationError(
            f"{given} apply to training functions only; an estimator's metric gives its "
            "direction, and its trials run where its kind of estimator runs."
        )
    if metric is None:
        raise ValidationError(
            "tune() of an estimator needs metric=: a Spark ML evaluator, or for a "
            "scikit-learn estimator a scorer name or callable."
        )
    if not isinstance(estimator, Params):
        return _tune_scikit_learn(dict(locals()))
    if label is not None or features is not None:
        raise ValidationError(
            "label= and features= are for scikit-learn estimators; a Spark pipeline reads "
            "its columns from its stages and the evaluator's labelCol."
        )
    resolved = resolve(estimator, space)
    resource = None
    if scheduler is not None:
        scheduler, resource = resolve_scheduler(scheduler, resolved.estimator, resolved.options)
    evaluators = [metric, *extra_metrics]
    metrics, larger_is_better = metrics_of(evaluators)
    _check_data(data, validation_data)
    settings = SearchSettings(
        entry_point="tune",
        strategy=strategy_name(strategy),
        metrics=metrics,
        larger_is_better=larger_is_better,
        split=Split.of(num_folds, train_ratio, validation_data is not None, fold_col),
        seed=seed,
        max_trials=max_trials,
        parallelism=parallelism,
        timeout=timeout,
        early_stopping=early_stopping,
        error_policy=error_policy,
        train_metrics=train_metrics,
        space=describe_space(space),
        estimator=describe_estimator(estimator),
        params=tuple(resolved.params),
        scheduler=scheduler,
        log_params=resolved.log_scaled(),
    )
    options = resolve_tracking(tracking, experiment)
    ready = prepare(
        settings,
        resolved,
        strategy,
        points_to_evaluate=points_to_evaluate,
        checkpoint=checkpoint,
        resume=resume,
        callbacks=callbacks,
    )
    problem = SearchProblem(
        data, resolved.estimator, resolved.options, evaluators, validation_data, resource
    )
    return run_search(
        ready.settings,
        problem,
        ready.search,
        refit=_refitter(resolved, data, scheduler, resource) if refit else None,
        tracking=options,
        callbacks=ready.callbacks,
        progress=progress,
        cache_budget=cache_budget,
        resumed=ready.resumed,
    )


def _refitter(
    resolved: SearchSpace, data: DataFrame, scheduler: Scheduler | None, resource: Any
) -> Callable[[Trial], Any]:
    """How the best trial is refit on ``data``: with its params, at the full budget."""
    full = {resource: int(scheduler.max_resource)} if resource is not None and scheduler else {}

    def refit_trial(best: Trial) -> Any:
        param_map = {**best.candidate.param_map, **full}
        return resolved.final_model(xgb.refit(resolved.estimator, data, param_map))

    return refit_trial


def _tune_scikit_learn(arguments: dict[str, Any]) -> TuneResult:
    """``tune``'s ``arguments`` for a scikit-learn-compatible estimator, passed on to
    :func:`~sparktune.frontends.local.tune_local` (those for Spark pipelines refused)."""
    if not is_sklearn_estimator(arguments["estimator"]):
        raise ValidationError(
            "The estimator must be a pyspark.ml Estimator or Pipeline, or scikit-learn "
            f"compatible (get_params, set_params and fit), got "
            f"{type(arguments['estimator']).__name__}."
        )
    spark_only = {
        "extra_metrics": bool(arguments["extra_metrics"]),
        "validation_data": arguments["validation_data"] is not None,
        "fold_col": arguments["fold_col"] is not None,
        "cache_budget": arguments["cache_budget"] is not None,
    }
    given = [name for name, on in spark_only.items() if on]
    if given:
        raise ValidationError(f"{given} apply to Spark ML estimators only.")
    keywords = {
        name: arguments[name]
        for name, parameter in inspect.signature(tune_local).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }
    positional = (arguments[name] for name in ("estimator", "space", "data", "metric"))
    return tune_local(*positional, **keywords)


def _tune_function(arguments: dict[str, Any]) -> TuneResult:
    """``tune``'s ``arguments`` for a training function, passed on to
    :func:`~sparktune.frontends.functions.tune_function` (those for estimators refused)."""
    estimator_only = {
        "data": arguments["data"] is not None,
        "extra_metrics": bool(arguments["extra_metrics"]),
        "validation_data": arguments["validation_data"] is not None,
        "fold_col": arguments["fold_col"] is not None,
        "num_folds": arguments["num_folds"] is not None,
        "train_ratio": arguments["train_ratio"] is not None,
        "cache_budget": arguments["cache_budget"] is not None,
        "label": arguments["label"] is not None,
        "features": arguments["features"] is not None,
    }
    given = [name for name, on in estimator_only.items() if on]
    if given:
        raise ValidationError(
            f"{given} apply to estimators only: a function reads its own data and does its "
            "own validation (it returns the loss)."
        )
    keywords = {
        name: arguments[name]
        for name, parameter in inspect.signature(tune_function).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name in arguments
    }
    return tune_function(arguments["estimator"], arguments["space"], **keywords)


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
