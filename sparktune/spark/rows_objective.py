"""The objective of rows already in memory: a group's search inside one Spark task.

:class:`RowsObjective` evaluates a scikit-learn candidate on one fold of a pandas frame in
the calling thread, with the same fitting and scoring code as the one-task-per-trial
objective (:mod:`sparktune.spark.local_fit`), so the engine runs a group's search exactly
as it runs a whole-data one: strategies, stoppers, a scheduler's budgets, the failure
policy. A failing fit raises and the engine records the trial as failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sparktune.core.schedulers import ROWS
from sparktune.core.trial import Candidate, FoldResult
from sparktune.spark.local_fit import Scorer, budgeted, run_fold


class RowsObjective:
    """Evaluates candidates of ``estimator`` on in-memory rows ``x``, ``y`` and their ``folds``.

    ``resource`` is the param a scheduler's budget sets, or ``"rows"`` (a seeded fraction of
    each fold's training rows).
    """

    def __init__(
        self,
        estimator: Any,
        x: Any,
        y: Any,
        folds: Sequence[tuple[np.ndarray, np.ndarray]],
        scorer: Scorer,
        train_metrics: bool = False,
        resource: str = ROWS,
    ) -> None:
        self.primary = scorer.name
        self.larger_is_better = scorer.larger_is_better
        self.estimator = estimator
        self.x, self.y = x, y
        self.folds = list(folds)
        self.scorer = scorer
        self.train_metrics = train_metrics
        self.resource = resource

    @property
    def num_folds(self) -> int:
        """How many folds each candidate is evaluated on."""
        return len(self.folds)

    def evaluate(
        self, candidate: Candidate, fold_index: int, budget: float | None = None
    ) -> FoldResult:
        """Fit ``candidate`` on fold ``fold_index``'s training rows; score its validation rows."""
        params, fold = budgeted(
            candidate.param_map, self.folds[fold_index], fold_index, budget, self.resource
        )
        out = run_fold(
            self.estimator, params, self.x, self.y, fold, self.scorer, self.train_metrics
        )
        return FoldResult(
            fold_index, out["metrics"], out["train_metrics"], out["fit_time"], info=out["info"]
        )

    def close(self) -> None:
        """Nothing to release: the rows belong to the task."""
