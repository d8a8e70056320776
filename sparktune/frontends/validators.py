"""Drop-in replacements for ``pyspark.ml.tuning.CrossValidator`` and ``TrainValidationSplit``.

Same constructor, Params, setters and ``fit``; ``fit`` returns pyspark's own model classes
(as subclasses that also carry a ``results`` table and save as pyspark's classes). Inside,
the featurizer prefix is fitted once per fold and every (fold x param map) fit runs through
one pool of ``parallelism`` threads. ``errorPolicy`` chooses between recording a failing
param map (NaN metric, the default) and raising as pyspark does.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pyspark import keyword_only
from pyspark.ml import tuning as pyspark_tuning
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.tuning import _ValidatorSharedReadWrite
from pyspark.ml.util import DefaultParamsReader, MLReader, MLWriter
from pyspark.sql import DataFrame

from sparktune.core.engine import Callback, ErrorPolicy, check_limits
from sparktune.core.errors import ValidationError
from sparktune.core.trial import Candidate
from sparktune.lifecycle.runner import CandidateList, SearchRun, execute, readable_names
from sparktune.spark import pipeline, splits
from sparktune.spark.checks import check_param_maps
from sparktune.spark.xgb import refit
from sparktune.tracking import tracker as tracking

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
        self, dataset: DataFrame, folds: list[splits.Fold], callbacks: list[Callback]
    ) -> tuple[SearchRun, list[float], list[float], Any, tracking.MlflowTracker | None]:
        """Evaluate every param map on ``folds``; return metrics in param-map order and best."""
        est = self.getOrDefault("estimator")
        epm = self.getOrDefault("estimatorParamMaps")
        if not epm:
            raise ValidationError("estimatorParamMaps is empty: give at least one param map.")
        check_param_maps(epm)
        check_limits(self.getOrDefault("parallelism"))
        options = pipeline.options_of(epm)
        names = readable_names(est, list(options))
        candidates = [Candidate({names[p]: v for p, v in pm.items()}, dict(pm)) for pm in epm]
        tracker = tracking.validator_tracker(self, dataset)
        run = execute(
            dataset=dataset,
            estimator=est,
            options=options,
            folds=folds,
            evaluators=[self.getOrDefault("evaluator")],
            strategy=CandidateList(candidates),
            parallelism=self.getOrDefault("parallelism"),
            error_policy=self.getErrorPolicy(),
            callbacks=[*callbacks, tracker] if tracker else callbacks,
            keep_models=self.getOrDefault("collectSubModels"),
        )
        avg = [t.value for t in run.trials]
        std = [t.std() for t in run.trials]
        best = run.best()
        results = run.results()
        best_model = tracking.refit_best(
            lambda: refit(est, dataset, epm[best.number]),
            best,
            results,
            tracker,
            wrap=ErrorPolicy(self.getErrorPolicy()) is not ErrorPolicy.RAISE,
        )
        if tracker is not None:
            tracker.finish(tracking.Finished(best_model, best, results))
        return run, avg, std, best_model, tracker

    @staticmethod
    def _sub_models(run: SearchRun, num_folds: int) -> list[list[Any]]:
        by_fold: list[list[Any]] = [[None] * len(run.trials) for _ in range(num_folds)]
        for trial in run.trials:
            for fold in trial.folds:
                by_fold[fold.fold][trial.number] = fold.model
        return by_fold


class _Reader(MLReader):
    """Loads a saved sparktune validator as its own class (pyspark's reader hard-codes its own)."""

    def __init__(self, cls: type) -> None:
        super().__init__()
        self.cls = cls

    def load(self, path: str) -> Any:
        """Load the validator saved at ``path``."""
        metadata = DefaultParamsReader.loadMetadata(path, self.sparkSession)
        # pyspark decodes param maps as Python-written only for classes under "pyspark.ml.".
        as_python = {**metadata, "class": f"pyspark.ml.{metadata['class']}"}
        metadata, estimator, evaluator, epm = _ValidatorSharedReadWrite.load(
            path, self.sparkSession, as_python
        )
        instance = self.cls(estimator=estimator, estimatorParamMaps=epm, evaluator=evaluator)
        instance = instance._resetUid(metadata["uid"])
        DefaultParamsReader.getAndSetParams(instance, metadata, skipParams=["estimatorParamMaps"])
        return instance


class CrossValidatorModel(pyspark_tuning.CrossValidatorModel):
    """pyspark's CrossValidatorModel plus ``results``; it saves as pyspark's class."""

    results: pd.DataFrame | None = None

    def write(self) -> MLWriter:
        """Write as ``pyspark.ml.tuning.CrossValidatorModel`` so any pyspark can load it."""
        plain = pyspark_tuning.CrossValidatorModel(
            self.bestModel, self.avgMetrics, self.subModels, self.stdMetrics
        )
        plain = self._copyValues(plain)._resetUid(self.uid)
        return pyspark_tuning.CrossValidatorModelWriter(plain)


class TrainValidationSplitModel(pyspark_tuning.TrainValidationSplitModel):
    """pyspark's TrainValidationSplitModel plus ``results``; it saves as pyspark's class."""

    results: pd.DataFrame | None = None

    def write(self) -> MLWriter:
        """Write as ``pyspark.ml.tuning.TrainValidationSplitModel``."""
        plain = pyspark_tuning.TrainValidationSplitModel(
            self.bestModel, self.validationMetrics, self.subModels
        )
        plain = self._copyValues(plain)._resetUid(self.uid)
        return pyspark_tuning.TrainValidationSplitModelWriter(plain)


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

    fit = tracking.validator_fit

    @classmethod
    def read(cls) -> MLReader:
        """Returns an MLReader instance for this class."""
        return _Reader(cls)

    def write(self) -> MLWriter:
        """Python-side writer, so ``errorPolicy`` is kept (pyspark may switch to the JVM's)."""
        return pyspark_tuning.CrossValidatorWriter(self)

    def _fit(self, dataset: DataFrame) -> CrossValidatorModel:
        num_folds = self.getOrDefault(self.numFolds)
        fold_col = self.getOrDefault(self.foldCol) or None
        folds = splits.kfold(dataset, num_folds, self.getOrDefault(self.seed), fold_col)
        run, avg, std, best_model, tracker = self._search(
            dataset, folds, getattr(self, "callbacks", [])
        )
        sub_models = self._sub_models(run, num_folds) if self.getCollectSubModels() else None
        model = self._copyValues(CrossValidatorModel(best_model, avg, sub_models, std))
        model.results = run.results()
        tracking.annotate(model, tracker)
        return model


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

    fit = tracking.validator_fit

    @classmethod
    def read(cls) -> MLReader:
        """Returns an MLReader instance for this class."""
        return _Reader(cls)

    def write(self) -> MLWriter:
        """Python-side writer, so ``errorPolicy`` is kept (pyspark may switch to the JVM's)."""
        return pyspark_tuning.TrainValidationSplitWriter(self)

    def _fit(self, dataset: DataFrame) -> TrainValidationSplitModel:
        folds = splits.train_validation(
            dataset, self.getOrDefault(self.trainRatio), self.getOrDefault(self.seed)
        )
        run, avg, _, best_model, tracker = self._search(
            dataset, folds, getattr(self, "callbacks", [])
        )
        sub_models = self._sub_models(run, 1)[0] if self.getCollectSubModels() else None
        model = self._copyValues(TrainValidationSplitModel(best_model, avg, sub_models))
        model.results = run.results()
        tracking.annotate(model, tracker)
        return model
