"""The black-box adapter: (candidate, fold) -> metrics, fitting only what the candidate changes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any

from pyspark.ml import PipelineModel
from pyspark.ml.evaluation import Evaluator
from pyspark.ml.param import Param
from pyspark.sql import DataFrame, SparkSession

from sparktune.compat.pyspark import release_remote_model
from sparktune.core.errors import ValidationError
from sparktune.core.trial import Candidate, FoldResult
from sparktune.spark.cache import Entry, FoldCache, lineage_free
from sparktune.spark.pipeline import SplitPlan
from sparktune.spark.splits import Fold
from sparktune.spark.xgb import carve_early_stopping

logger = logging.getLogger(__name__)


def metric_name(evaluator: Evaluator) -> str:
    """The name a metric is reported under: the evaluator's metricName, else its class."""
    if evaluator.hasParam("metricName"):
        return str(evaluator.getOrDefault("metricName"))
    return type(evaluator).__name__


def name_evaluators(evaluators: Sequence[Evaluator]) -> dict[str, Evaluator]:
    """Name each evaluator by its metric, disambiguating repeats; the first is the primary."""
    named: dict[str, Evaluator] = {}
    for evaluator in evaluators:
        base = metric_name(evaluator)
        name, n = base, 2
        while name in named:
            name, n = f"{base}_{n}", n + 1
        named[name] = evaluator
    return named


class PipelineObjective:
    """Evaluates candidates of one estimator on fixed folds, through the featurized-fold cache.

    The prefix of the :class:`SplitPlan` is fitted on a fold's training part only and its
    output persisted for every candidate sharing the prefix setting (only ``columns``, when
    given: those the suffix and evaluators may read); each candidate then fits just the
    suffix and is scored by every evaluator. The persisted folds are handed to the suffix
    in ``session`` (default: the data's own; the runner passes an interpreted clone).

    Under a scheduler, a rung's ``budget`` sets ``resource`` (an iteration Param of the final
    estimator) for the fit, or, with ``resource="rows"``, keeps that fraction of the fold's
    training part (a seeded sample: a larger fraction keeps every row of a smaller one);
    the validation part stays whole, so every rung is scored on the same rows.
    """

    def __init__(
        self,
        plan: SplitPlan,
        folds: Sequence[Fold],
        evaluators: Mapping[str, Evaluator],
        cache: FoldCache,
        train_metrics: bool = False,
        keep_models: bool = False,
        columns: frozenset[str] | None = None,
        session: SparkSession | None = None,
        resource: Param | str | None = None,
        allow_empty_validation: bool = False,
    ) -> None:
        if not evaluators:
            raise ValidationError("At least one evaluator is needed to score candidates.")
        self.plan = plan
        self.folds = list(folds)
        self.evaluators = dict(evaluators)
        self.primary = next(iter(self.evaluators))
        self.larger_is_better = self.evaluators[self.primary].isLargerBetter()
        self.cache = cache
        self.train_metrics = train_metrics
        self.keep_models = keep_models
        self.columns = columns
        self.session = session
        self.resource = resource
        self.allow_empty_validation = allow_empty_validation

    @property
    def num_folds(self) -> int:
        """How many folds each candidate is evaluated on."""
        return len(self.folds)

    @property
    def fold_major_window(self) -> int | None:
        """How many trials the engine may keep in flight, their fits ordered fold-major, when
        the cache's plan is fold-major (not every fold fits); None otherwise."""
        plan = self.cache.plan
        return plan.window if plan is not None and plan.kind == "fold-major" else None

    def _featurize(self, fold: Fold, param_map: Mapping[Any, Any]) -> Entry:
        prefix_model = self.plan.fit_prefix(fold.train, param_map) if self.plan.prefix else None
        train, validation = fold.train, fold.validation
        if prefix_model is not None:
            train, validation = prefix_model.transform(train), prefix_model.transform(validation)
        if self.columns is not None:
            kept = [c for c in train.columns if c in self.columns]
            train, validation = train.select(*kept), validation.select(*kept)
        persisted = [self.cache.persist(train), self.cache.persist(validation)]
        entry = Entry(train, validation, prefix_model, frames=persisted)
        try:  # the counts materialize the cache
            train, validation = (lineage_free(frame, self.session) for frame in persisted)
            entry.train, entry.validation = train, validation
            if train.count() == 0:
                raise ValidationError(f"Fold {fold.index} has no training rows.")
            if validation.count() == 0 and not self.allow_empty_validation:
                raise ValidationError(
                    f"Fold {fold.index} has no validation rows; use fewer folds or more data."
                )
        except BaseException:
            entry.unpersist()
            raise
        return entry

    def evaluate(
        self, candidate: Candidate, fold_index: int, budget: float | None = None
    ) -> FoldResult:
        """Fit ``candidate`` on fold ``fold_index`` (at ``budget``) and score it."""
        fold = self.folds[fold_index]
        param_map = candidate.param_map
        prefix = self.plan.prefix_key(param_map)

        def ahead() -> Iterator[tuple[Any, Callable[[], Entry]]]:
            for later in range(fold_index + 1, len(self.folds)):
                yield (later, prefix), partial(self._featurize, self.folds[later], param_map)

        build = partial(self._featurize, fold, param_map)
        with self.cache.use((fold_index, prefix), build, ahead) as entry:
            train, budgeted = entry.train, dict(param_map)
            if budget is not None and isinstance(self.resource, Param):
                budgeted[self.resource] = int(budget)
            elif budget is not None and budget < 1:
                train = train.sample(fraction=budget, seed=fold_index)
            train, fit_map = carve_early_stopping(
                train, self.plan.suffix, budgeted, seed=fold_index
            )
            start = time.perf_counter()
            model = self.plan.fit_suffix(train, fit_map)
            fit_time = time.perf_counter() - start
            metrics = self._score(model, entry.validation, param_map)
            train_metrics = self._score(model, entry.train, param_map) if self.train_metrics else {}
            prefix_model: PipelineModel | None = entry.prefix_model
        info = model_info(model)
        full = self.plan.assemble(prefix_model, model) if self.keep_models else None
        if full is None:
            release(model)
        return FoldResult(fold_index, metrics, train_metrics, fit_time, full, info=info)

    def _score(self, model: Any, data: DataFrame, param_map: Mapping[Any, Any]) -> dict[str, float]:
        predictions = model.transform(data, dict(param_map))
        return {name: float(ev.evaluate(predictions)) for name, ev in self.evaluators.items()}

    def close(self) -> None:
        """Release every persisted fold."""
        self.cache.close()


def release(model: Any) -> None:
    """Free a scored model's server-side copy now (Spark Connect); nothing on a classic session.

    A Spark Connect server keeps every fitted model in a per-session cache of bounded size
    until the client lets go of it; a search fits one model per (candidate x fold), so it
    must not wait for the garbage collector to do that.
    """
    if isinstance(model, PipelineModel):
        for stage in model.stages:
            release(stage)
        return
    release_remote_model(model)


def model_info(model: Any) -> dict[str, Any]:
    """Facts about a fitted model worth keeping with its trial (e.g. XGBoost's best iteration)."""
    stages = model.stages if isinstance(model, PipelineModel) else [model]
    info: dict[str, Any] = {}
    for stage in stages:
        booster = getattr(stage, "get_booster", None)
        if callable(booster):
            best = getattr(booster(), "best_iteration", None)
            if best is not None:
                info["best_iteration"] = int(best)
    return info
