"""The evaluation step of a single-machine search, for ``run_search``.

A :class:`LocalProblem` is what :class:`~sparktune.lifecycle.search.SearchProblem` is for
Spark pipelines: the data (a pandas frame on the driver), the estimator and the scorer.
Its :meth:`LocalProblem.evaluate` runs the shared engine with a
:class:`~sparktune.spark.local_objective.LocalObjective`; everything around it (tracker,
progress bar, checkpoint, best trial, refit, result) is run_search's, as for pipelines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pyspark.sql import SparkSession

from sparktune.core.callbacks import Callback, Strategy
from sparktune.core.engine import Engine, Outcome
from sparktune.core.schedulers import ROWS
from sparktune.core.settings import SearchSettings
from sparktune.core.trial import Trial
from sparktune.spark.local_data import LocalData
from sparktune.spark.local_fit import Scorer
from sparktune.spark.local_objective import LocalObjective
from sparktune.spark.port import port_for


@dataclass(frozen=True)
class LocalProblem:
    """A single-machine search's session, estimator, data (features, label, folds) and scorer.

    ``resource`` is the param a scheduler's budget sets (None: none, or rows).
    """

    spark: SparkSession
    estimator: Any
    local: LocalData
    scorer: Scorer
    resource: str | None = None

    @property
    def data(self) -> pd.DataFrame:
        """The whole data (features and label), as the tracker describes it."""
        return self.local.frame

    @property
    def label(self) -> str:
        """The label column."""
        return self.local.label

    def evaluate(
        self,
        settings: SearchSettings,
        strategy: Strategy,
        callbacks: Sequence[Callback],
        resumed: Sequence[Trial],
    ) -> Outcome:
        """Run the engine: each (candidate x fold) one Spark task, ``parallelism`` at a time."""
        objective = LocalObjective(
            self.spark,
            self.estimator,
            self.local,
            self.scorer,
            settings.train_metrics,
            self.resource if self.resource is not None else ROWS,
        )
        port = port_for(self.spark)
        engine = Engine(
            objective,
            port,
            settings.parallelism,
            settings.error_policy,
            callbacks,
            settings.scheduler,
        )
        return engine.run(strategy, settings.stoppers(), resumed)
