"""What schedulers on the folds axis share: each step runs more folds at the full budget.

Step 0 runs the first ``first`` folds at once (a burn-in or grace period), every later step
one more fold, so a trial can be stopped after any fold. :class:`FoldSteps` keeps each
trial's per-fold values (fold -> primary metric) and which trials were dropped, and why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from sparktune.core.schedulers.base import SchedulerRun, Step
from sparktune.core.trial import Trial, TrialState


class FoldSteps(SchedulerRun):
    """Per-trial fold values over ``num_folds`` folds, run in order, ``first`` in step 0."""

    def __init__(self, num_folds: int, first: int, larger_is_better: bool) -> None:
        self.num_folds = num_folds
        self.first = min(first, num_folds)
        self.larger_is_better = larger_is_better
        self.values: dict[int, list[float]] = {}
        self.dropped: dict[int, str] = {}
        self._gone: set[int] = set()
        self._pending: list[int] = []

    def add(self, number: int) -> None:
        """A new trial, no folds yet."""
        self.values[number] = []

    def step(self, number: int, index: int) -> Step | None:
        """The trial's next folds: the first ``first`` folds, then one at a time."""
        done = len(self.values.get(number, ()))
        if done >= self.num_folds:
            return None
        count = self.first if done == 0 else self.next_count(number)
        return Step(index, None, tuple(range(done, min(done + count, self.num_folds))))

    def next_count(self, number: int) -> int:
        """How many folds a step after the first runs (one; a subclass may run more)."""
        return 1

    def record(self, number: int, folds: Mapping[int, float]) -> int:
        """Keep the trial's fold values (in fold order); how many it has."""
        self.values[number] = [float(folds[k]) for k in sorted(folds)]
        return len(self.values[number])

    def remove(self, number: int) -> None:
        """A failed or cancelled trial leads and is compared with nothing any more."""
        self._gone.add(number)

    def reason(self, number: int) -> str | None:
        """Why the trial was dropped (or, still paused at the end, that the search ended)."""
        return self.dropped.get(number, "the search ended before its last fold")

    def restore(self, trial: Trial) -> None:
        """Take a checkpointed trial's fold values and how it ended."""
        primary = trial.primary
        self.record(trial.number, {f.fold: f.metrics.get(primary, math.nan) for f in trial.folds})
        if trial.state is TrialState.PRUNED:
            self.dropped[trial.number] = trial.reason or "pruned before the resume"
        elif trial.state in (TrialState.FAILED, TrialState.CANCELLED):
            self._gone.add(trial.number)
        elif trial.state is TrialState.PAUSED and trial.promoted:
            self._pending.append(trial.number)

    def choose(self, paused: Mapping[int, int], exhausted: bool) -> int | None:
        """A trial that was running its next step when the checkpoint was written, first."""
        while self._pending:
            number = self._pending.pop(0)
            if number in paused:
                return number
        return None

    def live(self, exclude: int | None = None) -> list[int]:
        """Trials still in the race (not dropped, failed or cancelled), but ``exclude``."""
        return [
            n for n in self.values if n != exclude and n not in self.dropped and n not in self._gone
        ]

    def mean(self, number: int, count: int) -> float:
        """The trial's mean over its first ``count`` folds (NaN folds left out)."""
        values = [v for v in self.values[number][:count] if not math.isnan(v)]
        return float(np.mean(values)) if values else math.nan
