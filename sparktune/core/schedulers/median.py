"""The median stopping rule over folds (as Ray Tune's ``MedianStoppingRule`` and Optuna's
``MedianPruner``, with folds as the steps).

After its ``grace_folds`` first folds, a trial whose mean over its first n folds is worse
than the median of the means over their first n folds of the other trials that ran at least
n folds (stopped ones too, failed ones not; when there are at least ``min_trials`` of them)
stops at once, pruned.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from sparktune.core.errors import ValidationError
from sparktune.core.schedulers.base import FOLDS, Decision, Scheduler, SchedulerRun, Step, better
from sparktune.core.schedulers.folds import FoldSteps


@dataclass(frozen=True)
class MedianStopping(Scheduler):
    """Stop a trial whose running mean over folds is worse than the others' median."""

    grace_folds: int = 1
    min_trials: int = 3

    axis = FOLDS

    def __post_init__(self) -> None:
        for name in ("grace_folds", "min_trials"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValidationError(f"{name} must be an integer >= 1, got {value!r}.")

    @property
    def name(self) -> str:
        """The scheduler's name in results, MLflow and job specs."""
        return "median"

    def describe(self) -> dict[str, Any]:
        """The settings, for MLflow params and the checkpoint identity."""
        return {"scheduler": self.name, **asdict(self)}

    def start(self, larger_is_better: bool, num_folds: int) -> SchedulerRun:
        """Fold steps over ``num_folds`` folds."""
        return _Median(self, num_folds, larger_is_better)


class _Median(FoldSteps):
    def __init__(self, rule: MedianStopping, num_folds: int, larger_is_better: bool) -> None:
        super().__init__(num_folds, rule.grace_folds, larger_is_better)
        self.rule = rule

    def on_result(
        self, number: int, step: Step, value: float, folds: Mapping[int, float]
    ) -> Decision:
        """Continue unless the trial's running mean is worse than the others' median."""
        count = self.record(number, folds)
        if count < self.rule.grace_folds:
            return Decision.CONTINUE
        others = [
            self.mean(n, count) for n in self.live(exclude=number) if len(self.values[n]) >= count
        ]
        others = [m for m in others if not math.isnan(m)]
        if len(others) < self.rule.min_trials:
            return Decision.CONTINUE
        median = float(np.median(others))
        mean = self.mean(number, count)
        if better(median, mean, self.larger_is_better):
            self.dropped[number] = (
                f"median stopping: mean {mean:.6g} over {count} folds, others' median {median:.6g}"
            )
            return Decision.STOP
        return Decision.CONTINUE
