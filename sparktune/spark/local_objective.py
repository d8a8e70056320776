"""The single-machine objective: each (candidate x fold) is one Spark task on an executor.

The training data and the folds' row indices are broadcast once per search; each
evaluation runs a one-partition job (``parallelize([fold], 1).map(...)``) from one of the
engine's driver threads, under that trial's job tags, so k evaluations are k tasks in
flight, a timeout cancels a trial's task by tag, and the driver only proposes and records.
"""

from __future__ import annotations

import logging
from typing import Any

from pyspark.sql import SparkSession

from sparktune.core.errors import ValidationError
from sparktune.core.trial import Candidate, FoldResult
from sparktune.spark.local_data import LocalData
from sparktune.spark.local_fit import FitError, Scorer, guarded_fold
from sparktune.spark.port import is_connect

logger = logging.getLogger(__name__)


class LocalObjective:
    """Evaluates candidates of a scikit-learn estimator, one Spark task per (candidate, fold)."""

    def __init__(
        self,
        spark: SparkSession,
        estimator: Any,
        data: LocalData,
        scorer: Scorer,
        train_metrics: bool = False,
    ) -> None:
        if is_connect(spark):
            raise ValidationError(
                "Single-machine (scikit-learn) estimators run one Spark task per trial and "
                "need a classic session; Spark Connect is not supported for them yet."
            )
        self.primary = scorer.name
        self.larger_is_better = scorer.larger_is_better
        self.estimator = estimator
        self.scorer = scorer
        self.train_metrics = train_metrics
        self._folds = len(data.folds)
        self._sc = spark.sparkContext
        self._shipped = self._sc.broadcast((data.x, data.y, data.folds))
        logger.info(
            "single-machine search: %d rows x %d features broadcast once, %d fold(s)",
            len(data.x),
            data.x.shape[1],
            self._folds,
        )

    @property
    def num_folds(self) -> int:
        """How many folds each candidate is evaluated on."""
        return self._folds

    def evaluate(self, candidate: Candidate, fold_index: int, budget: Any = None) -> FoldResult:
        """Fit and score ``candidate`` on fold ``fold_index`` in one Spark task."""
        if budget is not None:
            raise ValidationError("Single-machine searches do not take a budget (no schedulers).")
        shipped, estimator, scorer = self._shipped, self.estimator, self.scorer
        params, train_metrics = dict(candidate.param_map), self.train_metrics

        def task(fold: int) -> dict[str, Any]:
            x, y, folds = shipped.value
            return guarded_fold(estimator, params, x, y, folds[fold], scorer, train_metrics)

        (out,) = self._sc.parallelize([fold_index], 1).map(task).collect()
        if "error" in out:
            logger.debug("trial task failed:\n%s", out["traceback"])
            raise FitError(out["error"])
        return FoldResult(
            fold_index, out["metrics"], out["train_metrics"], out["fit_time"], info=out["info"]
        )

    def close(self) -> None:
        """Drop the broadcast data from the executors and the driver."""
        self._shipped.destroy()
