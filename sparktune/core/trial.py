"""Trials and their states: what was tried, and what came of it (read-only once finished)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np


class TrialState(str, Enum):
    """How a trial ended (trials are recorded once they end).

    Under a scheduler (successive halving), a trial that finished a rung below the top is
    ``PAUSED`` while it waits for a promotion, and ``PRUNED`` if the search ends without
    promoting it; only ``COMPLETE`` trials reached the full budget.
    """

    COMPLETE = "complete"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PRUNED = "pruned"
    PAUSED = "paused"

    @property
    def scored(self) -> bool:
        """Whether a trial in this state has a metric (at the last rung it finished)."""
        return self in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.PAUSED)


@dataclass(frozen=True)
class Rung:
    """A trial's mean primary metric after one scheduler step: at its budget (a rung of
    successive halving), or over the folds it ran so far (``resource``: their count)."""

    index: int
    resource: float
    value: float


@dataclass(frozen=True)
class Candidate:
    """A point of the search space: readable ``params`` and the ParamMap Spark receives.

    ``param_map`` maps pyspark ``Param`` objects to their values (typed loosely here, as
    ``core`` does not import pyspark). A hyperopt- or Optuna-driven search also records where the
    candidate came from: ``assignment``, the hyperopt point (label -> value, the option
    index for a choice) a checkpoint stores to rebuild the candidate, and ``tid``, the
    search's own id for it (the hyperopt trial id, or the Optuna trial number).
    """

    params: Mapping[str, Any]
    param_map: Mapping[Any, Any]
    assignment: Mapping[str, Any] | None = None
    tid: int | None = None


@dataclass(frozen=True)
class FoldResult:
    """Metrics of one candidate on one fold, validation and (optionally) training side."""

    fold: int
    metrics: Mapping[str, float]
    train_metrics: Mapping[str, float]
    fit_time: float
    model: Any = None
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Trial:
    """A finished (or cancelled) evaluation of one candidate on every fold.

    Under a scheduler, ``folds`` are those of the last rung finished (on the folds axis:
    every fold run so far), ``rungs`` the metric after every step, ``promoted`` says a
    paused trial was promoted to its next step, and ``reason`` why a pruned one stopped.
    """

    number: int
    candidate: Candidate
    state: TrialState
    folds: tuple[FoldResult, ...]
    primary: str
    error: str | None = None
    exception: BaseException | None = field(default=None, repr=False, compare=False)
    started: float = 0.0
    finished: float = 0.0
    rungs: tuple[Rung, ...] = ()
    promoted: bool = False
    reason: str | None = None

    @property
    def rung(self) -> int | None:
        """The last rung this trial finished (None without a scheduler)."""
        return self.rungs[-1].index if self.rungs else None

    @property
    def params(self) -> Mapping[str, Any]:
        """The candidate's readable params."""
        return self.candidate.params

    def fold_values(self, metric: str | None = None, side: str = "val") -> list[float]:
        """Per-fold values of ``metric`` (primary by default) on ``side`` ('val' or 'train')."""
        name = metric or self.primary
        return [
            float((f.metrics if side == "val" else f.train_metrics).get(name, math.nan))
            for f in self.folds
        ]

    def mean(self, metric: str | None = None, side: str = "val") -> float:
        """Mean over folds; NaN unless the trial has a metric (complete, paused, pruned)."""
        values = self.fold_values(metric, side)
        if not self.state.scored or not values:
            return math.nan
        return float(np.mean(values))

    def std(self, metric: str | None = None, side: str = "val") -> float:
        """Population standard deviation over folds, as pyspark reports ``stdMetrics``."""
        values = self.fold_values(metric, side)
        if not self.state.scored or not values:
            return math.nan
        return float(np.std(values))

    @property
    def value(self) -> float:
        """The primary validation metric, averaged over folds (NaN when it has none)."""
        return self.mean()

    @property
    def first_value(self) -> float:
        """The primary metric at the trial's first rung (its value without a scheduler)."""
        return self.rungs[0].value if self.rungs else self.value

    @property
    def fit_time(self) -> float:
        """Seconds spent fitting this candidate's suffix, summed over folds."""
        return float(sum(f.fit_time for f in self.folds))
