"""Wire one search together: checks, folds, split plan, cache, objective and engine.

Both the drop-in tuning classes and :func:`sparktune.tune` call :func:`execute`, so
every entry point shares the same checks, evaluation, failure policy and cleanup.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pyspark.ml.evaluation import Evaluator
from pyspark.ml.param import Param, Params
from pyspark.sql import DataFrame, SparkSession

from sparktune.core.engine import Callback, Engine, ErrorPolicy, Outcome, Strategy, check_limits
from sparktune.core.results import results_frame
from sparktune.core.trial import Candidate, Trial, TrialState
from sparktune.spark import pipeline, slots
from sparktune.spark.cache import FoldCache
from sparktune.spark.checks import (
    check_columns,
    check_evaluator,
    check_folds,
    check_labels,
    check_not_empty,
)
from sparktune.spark.cleanup import ReleaseLeftovers
from sparktune.spark.objective import PipelineObjective, name_evaluators
from sparktune.spark.session import interpreted_session
from sparktune.spark.splits import Fold

logger = logging.getLogger(__name__)


def default_cache_budget(spark: SparkSession) -> int:
    """Half of the storage memory Spark reports across the driver and executors."""
    status = spark.sparkContext._jsc.sc().getExecutorMemoryStatus()
    values = status.values().iterator()
    total = 0
    while values.hasNext():
        total += int(values.next()._1())
    return max(total // 2, 64 * 2**20)


@dataclass(frozen=True)
class SearchRun:
    """A finished search: its trials, metric names and direction, and the split it used."""

    outcome: Outcome
    metrics: tuple[str, ...]
    larger_is_better: bool
    plan: pipeline.SplitPlan

    @property
    def trials(self) -> tuple[Trial, ...]:
        """Every trial, in the order it was asked."""
        return self.outcome.trials

    @property
    def parallelism(self) -> int:
        """How many trials ran at once (lower than asked when barrier fits lacked slots)."""
        return self.outcome.parallelism

    def results(self) -> pd.DataFrame:
        """The results table of this search; ``attrs["parallelism"]`` is the parallelism used."""
        frame = results_frame(self.trials, self.metrics, self.larger_is_better)
        frame.attrs["parallelism"] = self.parallelism
        return frame

    def best(self) -> Trial:
        """The complete trial with the best mean primary metric."""
        complete = [t for t in self.trials if t.state is TrialState.COMPLETE]
        values = np.array([t.value for t in complete], dtype=float)
        if not complete or np.all(np.isnan(values)):
            raise ValueError("No trial completed, so there is no best trial.")
        index = np.nanargmax(values) if self.larger_is_better else np.nanargmin(values)
        return complete[int(index)]


def readable_names(estimator: Params, params: Sequence[Param]) -> dict[Param, str]:
    """Name params as ``Class.param``, or ``uid.param`` where two stages share a class."""
    options = {p: [] for p in params}
    owners: dict[str, Params] = {}
    for stage in pipeline.flatten(estimator, []):
        owners.update(pipeline.reachable(stage, options))
    classes: dict[str, int] = {}
    for obj in owners.values():
        classes[type(obj).__name__] = classes.get(type(obj).__name__, 0) + 1
    names = {}
    for param in params:
        owner = owners.get(param.parent)
        cls = type(owner).__name__ if owner is not None else param.parent
        prefix = cls if owner is not None and classes[cls] == 1 else param.parent
        names[param] = f"{prefix}.{param.name}"
    return names


def execute(
    *,
    dataset: DataFrame,
    estimator: Params,
    options: Mapping[Param, Sequence[Any]],
    folds: Sequence[Fold],
    evaluators: Sequence[Evaluator],
    strategy: Strategy,
    parallelism: int = 1,
    error_policy: ErrorPolicy | str = ErrorPolicy.CONTINUE,
    callbacks: Sequence[Callback] = (),
    max_trials: int | None = None,
    timeout: float | None = None,
    early_stopping: int | None = None,
    train_metrics: bool = False,
    keep_models: bool = False,
    cache_budget: int | None = None,
    resumed: Sequence[Trial] = (),
) -> SearchRun:
    """Check the input, then evaluate what ``strategy`` asks for on ``folds``.

    ``options`` names every param the search may set, with the values it may take
    where they are known (needed for Params-valued params): it decides the split.
    ``resumed`` are trials finished earlier (a checkpoint), kept without running again.
    """
    check_limits(parallelism, max_trials, timeout, early_stopping)
    for evaluator in evaluators:
        check_evaluator(evaluator)
    named = name_evaluators(evaluators)
    plan = pipeline.plan(estimator, options)
    stages = pipeline.flatten(estimator, [])
    check_columns(dataset, stages, named)
    check_not_empty(dataset)
    check_labels(dataset, [*stages, *named.values()])
    check_folds(folds)
    spark = dataset.sparkSession
    concurrency = slots.plan_concurrency(spark, plan.stages, options, parallelism)
    budget = cache_budget if cache_budget is not None else default_cache_budget(spark)
    objective = PipelineObjective(
        plan,
        folds,
        named,
        FoldCache(budget),
        train_metrics=train_metrics,
        keep_models=keep_models,
        columns=pipeline.referenced_columns([*plan.suffix, *named.values()], options),
        session=interpreted_session(spark),
    )
    logger.info(
        "search: %d prefix stage(s) fitted once per fold, %d suffix stage(s) per candidate",
        len(plan.prefix),
        len(plan.suffix),
    )
    hooks = [*callbacks, ReleaseLeftovers()]
    engine = Engine(objective, spark, concurrency.parallelism, error_policy, hooks)
    outcome = engine.run(
        concurrency.guard(strategy),
        max_trials=max_trials,
        timeout=timeout,
        early_stopping=early_stopping,
        resumed=resumed,
    )
    return SearchRun(outcome, tuple(named), objective.larger_is_better, plan)


class CandidateList:
    """The simplest strategy: a fixed list of candidates, asked in order."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        self._candidates = list(candidates)
        self._next = 0

    def ask(self) -> Candidate | None:
        """The next candidate, or None once all were asked."""
        if self._next >= len(self._candidates):
            return None
        self._next += 1
        return self._candidates[self._next - 1]

    def tell(self, trial: Trial) -> None:
        """A fixed list learns nothing from results."""
