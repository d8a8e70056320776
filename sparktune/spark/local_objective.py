"""The single-machine objective: each (candidate x fold) is one Spark task on an executor.

The training data and the folds are shipped to the cluster once per search; each evaluation
then runs a one-task job from one of the engine's driver threads, under that trial's job
tags, so k evaluations are k tasks in flight, a timeout cancels a trial's task by tag, and
the driver only proposes and records. How the data is shipped depends on the session:

- classic: a broadcast of the features, label and fold indices; the job is
  ``parallelize([fold], 1).map(...)``;
- Spark Connect (no broadcast, no RDDs): the data, with each row's validation fold as a
  column, is cached on the cluster as a DataFrame; the job is ``coalesce(1).mapInPandas``
  over it, one task reading the cached rows (training rows in row order).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession

from sparktune.core.schedulers import ROWS
from sparktune.core.trial import Candidate, FoldResult
from sparktune.spark.local_data import LocalData
from sparktune.spark.local_fit import FitError, Scorer, guarded_fold
from sparktune.spark.port import is_connect

logger = logging.getLogger(__name__)

#: A fold task: (features, label, fold indices) -> run_fold's plain result.
FoldTask = Callable[[Any, Any, Any], dict[str, Any]]

#: Columns the Connect shipping adds to the data (row order, validation fold).
ROW, FOLD = "__sparktune_row", "__sparktune_fold"


class LocalObjective:
    """Evaluates candidates of a scikit-learn estimator, one Spark task per (candidate, fold)."""

    def __init__(
        self,
        spark: SparkSession,
        estimator: Any,
        data: LocalData,
        scorer: Scorer,
        train_metrics: bool = False,
        resource: str = ROWS,
    ) -> None:
        self.primary = scorer.name
        self.larger_is_better = scorer.larger_is_better
        self.estimator = estimator
        self.scorer = scorer
        self.train_metrics = train_metrics
        self.resource = resource
        self._folds = len(data.folds)
        shipping = _CachedFrame if is_connect(spark) else _Broadcast
        self._shipped = shipping(spark, data)
        logger.info(
            "single-machine search: %d rows x %d features shipped once (%s), %d fold(s)",
            len(data.x),
            data.x.shape[1],
            shipping.__name__.strip("_"),
            self._folds,
        )

    @property
    def num_folds(self) -> int:
        """How many folds each candidate is evaluated on."""
        return self._folds

    def evaluate(
        self, candidate: Candidate, fold_index: int, budget: float | None = None
    ) -> FoldResult:
        """Fit and score ``candidate`` on fold ``fold_index`` in one Spark task.

        Under a scheduler, ``budget`` sets the ``resource`` param, or (rows) keeps that
        seeded fraction of the fold's training rows; the validation rows stay whole.
        """
        estimator, scorer = self.estimator, self.scorer
        params, train_metrics = dict(candidate.param_map), self.train_metrics
        fraction = 1.0
        if budget is not None and self.resource != ROWS:
            params[self.resource] = int(budget)
        elif budget is not None:
            fraction = budget

        def task(x: Any, y: Any, folds: Any) -> dict[str, Any]:
            train, validation = folds[fold_index]
            if fraction < 1:
                keep = np.random.default_rng(fold_index).random(len(train)) < fraction
                train = train[keep]
            fold = (train, validation)
            return guarded_fold(estimator, params, x, y, fold, scorer, train_metrics)

        out = self._shipped.run(task)
        if "error" in out:
            logger.debug("trial task failed:\n%s", out["traceback"])
            raise FitError(out["error"])
        return FoldResult(
            fold_index, out["metrics"], out["train_metrics"], out["fit_time"], info=out["info"]
        )

    def close(self) -> None:
        """Release the shipped data on the cluster."""
        self._shipped.close()


class _Broadcast:
    """Classic session: the data as one broadcast, each evaluation a one-partition RDD job."""

    def __init__(self, spark: SparkSession, data: LocalData) -> None:
        self._sc = spark.sparkContext
        self._value = self._sc.broadcast((data.x, data.y, data.folds))

    def run(self, task: FoldTask) -> dict[str, Any]:
        value = self._value

        def in_task(_: int) -> dict[str, Any]:
            return task(*value.value)

        (out,) = self._sc.parallelize([0], 1).map(in_task).collect()
        return out

    def close(self) -> None:
        self._value.destroy()


class _CachedFrame:
    """Spark Connect: the data cached on the cluster once, read whole by one task per evaluation."""

    def __init__(self, spark: Any, data: LocalData) -> None:
        fold_of = np.full(len(data.x), -1)
        for index, (_, validation) in enumerate(data.folds):
            fold_of[validation] = index
        frame = data.x.reset_index(drop=True).assign(
            **{data.label: data.y.to_numpy(), ROW: np.arange(len(data.x)), FOLD: fold_of}
        )
        self._features = list(data.x.columns)
        self._label = data.label
        self._num_folds = len(data.folds)
        self._frame = spark.createDataFrame(frame).cache()
        self._frame.count()

    def run(self, task: FoldTask) -> dict[str, Any]:
        features, label, num_folds = self._features, self._label, self._num_folds

        def in_task(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            frame = pd.concat(list(batches)).sort_values(ROW).reset_index(drop=True)
            fold_of = frame[FOLD].to_numpy()
            folds = [
                (np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k))
                for k in range(num_folds)
            ]
            out = task(frame[features], frame[label], folds)
            yield pd.DataFrame({"result": [json.dumps(out)]})

        (row,) = self._frame.coalesce(1).mapInPandas(in_task, "result string").collect()
        return json.loads(row["result"])

    def close(self) -> None:
        self._frame.unpersist()
