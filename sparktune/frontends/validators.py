"""Drop-in replacements for ``pyspark.ml.tuning.CrossValidator`` and ``TrainValidationSplit``.

Same constructor, Params, setters and ``fit``; ``fit`` returns pyspark's own model classes
(as subclasses that also carry a ``results`` table and save as pyspark's classes). Inside,
the featurizer prefix is fitted once per fold and every (fold x param map) fit runs through
one pool of ``parallelism`` threads. ``errorPolicy`` chooses between recording a failing
param map (NaN metric, the default) and raising as pyspark does.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pandas as pd
from pyspark import keyword_only
from pyspark.ml import Estimator
from pyspark.ml import tuning as pyspark_tuning
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import MLReader, MLWriter
from pyspark.sql import DataFrame

from sparktune.compat.pyspark import load_validator, validator_writer
from sparktune.core.callbacks import Callback
from sparktune.core.errors import ValidationError
from sparktune.core.schedulers import Scheduler
from sparktune.core.settings import ErrorPolicy, SearchSettings, Split, fold_split
from sparktune.core.trial import Candidate
from sparktune.lifecycle.result import TuneResult
from sparktune.lifecycle.search import SearchProblem, metrics_of, run_search
from sparktune.search.candidates import CandidateList
from sparktune.search.describe import describe_space
from sparktune.spark import pipeline
from sparktune.spark.checks import check_param_maps
from sparktune.spark.resources import resolve_scheduler
from sparktune.spark.xgb import refit
from sparktune.tracking.autolog import autolog_paused

__all__ = [
    "CrossValidator",
    "CrossValidatorModel",
    "TrainValidationSplit",
    "TrainValidationSplitModel",
]


class _SparktuneParams(Params):
    errorPolicy: Param[str] = Param(
        Params._dummy(),
        "errorPolicy",
        "what a failing param map does: 'continue' records it with a NaN metric and goes on; "
        "'raise' stops the fit and raises, as pyspark does",
        typeConverter=TypeConverters.toString,
    )

    def getErrorPolicy(self) -> str:
        """Gets the value of errorPolicy."""
        return self.getOrDefault(self.errorPolicy)

    def setErrorPolicy(self, value: str) -> Any:
        """Sets the value of :py:attr:`errorPolicy` ('continue' or 'raise')."""
        return self._set(errorPolicy=value)

    def _search(
        self, dataset: DataFrame, split: Split, scheduler: Scheduler | None = None
    ) -> TuneResult:
        """Evaluate every param map on the folds of ``split``; refit the best on ``dataset``.

        Under ``scheduler`` the maps get budgets rung by rung and the best is refit at the
        full budget.
        """
        est = self.getOrDefault("estimator")
        epm = self.getOrDefault("estimatorParamMaps")
        if not epm:
            raise ValidationError("estimatorParamMaps is empty: give at least one param map.")
        check_param_maps(epm)
        policy = ErrorPolicy.parse(self.getErrorPolicy(), "errorPolicy")
        evaluator = self.getOrDefault("evaluator")
        metrics, larger_is_better = metrics_of([evaluator])
        options = pipeline.options_of(epm)
        resource = None
        if scheduler is not None:
            scheduler, resource = resolve_scheduler(scheduler, est, options)
        full = {resource: int(scheduler.max_resource)} if resource is not None and scheduler else {}
        names = pipeline.readable_names(est, list(options))
        settings = SearchSettings(
            entry_point=type(self).__name__,
            strategy="grid",
            metrics=metrics,
            larger_is_better=larger_is_better,
            split=split,
            seed=self.getOrDefault(self.seed),
            max_trials=len(epm),
            parallelism=self.getOrDefault(self.parallelism),
            error_policy=policy,
            keep_models=self.getOrDefault(self.collectSubModels),
            space=describe_space({names[p]: values for p, values in options.items()}),
            estimator=pipeline.describe_estimator(est),
            params=tuple(names.values()),
            scheduler=scheduler,
        )
        candidates = [Candidate({names[p]: v for p, v in pm.items()}, dict(pm)) for pm in epm]
        return run_search(
            settings,
            SearchProblem(dataset, est, options, [evaluator], resource=resource),
            CandidateList(candidates),
            refit=lambda best: refit(est, dataset, {**epm[best.number], **full}),
            tracking=getattr(self, "tracking", None),
            callbacks=getattr(self, "callbacks", []),
            cache_budget=getattr(self, "cache_budget", None),
            raise_refit_error=policy is ErrorPolicy.RAISE,
        )

    @staticmethod
    def _sub_models(result: TuneResult, num_folds: int) -> list[list[Any]]:
        by_fold: list[list[Any]] = [[None] * len(result.trials) for _ in range(num_folds)]
        for trial in result.trials:
            for fold in trial.folds:
                by_fold[fold.fold][trial.number] = fold.model
        return by_fold

    @staticmethod
    def _finish(model: Any, result: TuneResult) -> Any:
        """Give a fitted model the results table and the MLflow run of its fit."""
        model.results = result.results
        model.run_id = result.run_id
        model.unlogged_trials = list(result.unlogged_trials)
        return model


def _fit(self: Any, dataset: DataFrame, params: Any = None) -> Any:
    """``Estimator.fit`` for the drop-ins; a tracked fit pauses ``mlflow.pyspark.ml`` autolog.

    Autologging's run for the validator (and a child run per param map) would duplicate
    sparktune's. (Assigned as ``fit`` in each class: pyspark's ``Estimator.fit`` comes before
    the mixin in their method order.)
    """
    tracked = getattr(self, "tracking", None) is not None
    with autolog_paused() if tracked else contextlib.nullcontext():
        return Estimator.fit(self, dataset, params)


class _Reader(MLReader):
    """Loads a saved sparktune validator as its own class (pyspark's reader hard-codes its own)."""

    def __init__(self, cls: type) -> None:
        super().__init__()
        self.cls = cls

    def load(self, path: str) -> Any:
        """Load the validator saved at ``path``."""
        return load_validator(path, self.sparkSession, self.cls)


class CrossValidatorModel(pyspark_tuning.CrossValidatorModel):
    """pyspark's CrossValidatorModel plus ``results``; it saves as pyspark's class."""

    results: pd.DataFrame | None = None

    def write(self) -> MLWriter:
        """Write as ``pyspark.ml.tuning.CrossValidatorModel`` so any pyspark can load it."""
        plain = pyspark_tuning.CrossValidatorModel(
            self.bestModel, self.avgMetrics, self.subModels, self.stdMetrics
        )
        plain = self._copyValues(plain)._resetUid(self.uid)
        return validator_writer(plain, pyspark_tuning.CrossValidatorModelWriter(plain))


class TrainValidationSplitModel(pyspark_tuning.TrainValidationSplitModel):
    """pyspark's TrainValidationSplitModel plus ``results``; it saves as pyspark's class."""

    results: pd.DataFrame | None = None

    def write(self) -> MLWriter:
        """Write as ``pyspark.ml.tuning.TrainValidationSplitModel``."""
        plain = pyspark_tuning.TrainValidationSplitModel(
            self.bestModel, self.validationMetrics, self.subModels
        )
        plain = self._copyValues(plain)._resetUid(self.uid)
        return validator_writer(plain, pyspark_tuning.TrainValidationSplitModelWriter(plain))


class CrossValidator(pyspark_tuning.CrossValidator, _SparktuneParams):
    """K-fold cross validation with the featurized-fold cache and one parallel pool.

    Use it exactly as ``pyspark.ml.tuning.CrossValidator``; ``parallelism`` bounds the
    number of (fold x param map) fits running at once across all folds.
    """

    @keyword_only
    def __init__(
        self,
        *,
        estimator: Any = None,
        estimatorParamMaps: Any = None,
        evaluator: Any = None,
        numFolds: int = 3,
        seed: int | None = None,
        parallelism: int = 1,
        collectSubModels: bool = False,
        foldCol: str = "",
        errorPolicy: str = "continue",
    ) -> None:
        kwargs = self._input_kwargs
        super().__init__()
        self._setDefault(errorPolicy=ErrorPolicy.CONTINUE.value)
        self._set(**kwargs)
        self.callbacks: list[Callback] = []
        self.cache_budget: int | None = None

    @keyword_only
    def setParams(
        self,
        *,
        estimator: Any = None,
        estimatorParamMaps: Any = None,
        evaluator: Any = None,
        numFolds: int = 3,
        seed: int | None = None,
        parallelism: int = 1,
        collectSubModels: bool = False,
        foldCol: str = "",
        errorPolicy: str = "continue",
    ) -> CrossValidator:
        """Sets params for cross validator."""
        return self._set(**self._input_kwargs)

    fit = _fit

    @classmethod
    def read(cls) -> MLReader:
        """Returns an MLReader instance for this class."""
        return _Reader(cls)

    def write(self) -> MLWriter:
        """Python-side writer, so ``errorPolicy`` is kept (pyspark may switch to the JVM's)."""
        return validator_writer(self, pyspark_tuning.CrossValidatorWriter(self))

    def _fit(self, dataset: DataFrame) -> CrossValidatorModel:
        return self._cross_validate(dataset, None)

    def _cross_validate(
        self, dataset: DataFrame, scheduler: Scheduler | None
    ) -> CrossValidatorModel:
        """Evaluate the grid on ``numFolds`` folds (under ``scheduler`` if given)."""
        num_folds = self.getOrDefault(self.numFolds)
        fold_col = self.getOrDefault(self.foldCol) or None
        split = Split("kfold", num_folds, fold_col=fold_col, allow_empty_validation=True)
        split = fold_split(split, scheduler)
        result = self._search(dataset, split, scheduler)
        avg = [t.value for t in result.trials]
        std = [t.std() for t in result.trials]
        subs = self._sub_models(result, split.total_folds) if self.getCollectSubModels() else None
        model = CrossValidatorModel(result.best_model, avg, subs, std)
        return self._finish(self._copyValues(model), result)


class TrainValidationSplit(pyspark_tuning.TrainValidationSplit, _SparktuneParams):
    """One train/validation split with the featurized cache and one parallel pool.

    Use it exactly as ``pyspark.ml.tuning.TrainValidationSplit``.
    """

    @keyword_only
    def __init__(
        self,
        *,
        estimator: Any = None,
        estimatorParamMaps: Any = None,
        evaluator: Any = None,
        trainRatio: float = 0.75,
        parallelism: int = 1,
        collectSubModels: bool = False,
        seed: int | None = None,
        errorPolicy: str = "continue",
    ) -> None:
        kwargs = self._input_kwargs
        super().__init__()
        self._setDefault(errorPolicy=ErrorPolicy.CONTINUE.value)
        self._set(**kwargs)
        self.callbacks: list[Callback] = []
        self.cache_budget: int | None = None

    @keyword_only
    def setParams(
        self,
        *,
        estimator: Any = None,
        estimatorParamMaps: Any = None,
        evaluator: Any = None,
        trainRatio: float = 0.75,
        parallelism: int = 1,
        collectSubModels: bool = False,
        seed: int | None = None,
        errorPolicy: str = "continue",
    ) -> TrainValidationSplit:
        """Sets params for the train validation split."""
        return self._set(**self._input_kwargs)

    fit = _fit

    @classmethod
    def read(cls) -> MLReader:
        """Returns an MLReader instance for this class."""
        return _Reader(cls)

    def write(self) -> MLWriter:
        """Python-side writer, so ``errorPolicy`` is kept (pyspark may switch to the JVM's)."""
        return validator_writer(self, pyspark_tuning.TrainValidationSplitWriter(self))

    def _fit(self, dataset: DataFrame) -> TrainValidationSplitModel:
        ratio = self.getOrDefault(self.trainRatio)
        split = Split("train_ratio", 1, train_ratio=ratio, allow_empty_validation=True)
        result = self._search(dataset, split)
        avg = [t.value for t in result.trials]
        subs = self._sub_models(result, 1)[0] if self.getCollectSubModels() else None
        model = TrainValidationSplitModel(result.best_model, avg, subs)
        return self._finish(self._copyValues(model), result)
