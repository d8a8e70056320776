"""The scheduler interface: how much budget a trial gets, decided one result at a time.

A :class:`Scheduler` is the user's setting (``ASHA(...)``, ``Racing(...)``); for one search
it :meth:`~Scheduler.start`\\ s a :class:`SchedulerRun` the engine talks to, in the spirit of
Ray Tune's ``TrialScheduler.on_trial_result`` and Optuna's pruners. A trial runs in
:class:`Step`\\ s along a resource axis: on the **budget** axis each step runs every fold at
a larger budget (iterations or a rows fraction: successive halving's rungs); on the
**folds** axis each step runs more folds at the full budget (racing, median stopping).
After each step the engine reports the result and the run answers a :class:`Decision`:
continue, pause (wait to be promoted) or stop (the trial ends ``pruned``). The engine
knows no scheduler by name; it is Spark-free.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sparktune.core.trial import Trial

#: The resource that subsamples each fold's training part instead of setting a param.
ROWS = "rows"
#: The resource axis of schedulers that run more folds per step at the full budget.
FOLDS = "folds"


class Decision(str, Enum):
    """What a trial does after a step below its last."""

    CONTINUE = "continue"  # run the next step now, in the same slot
    PAUSE = "pause"  # wait until the scheduler promotes it (pruned if the search ends first)
    STOP = "stop"  # end now, pruned


@dataclass(frozen=True)
class Step:
    """What step ``index`` of a trial runs.

    ``budget`` is the value of the scheduler's resource (None: the full budget); ``folds``
    the fold indexes to run (None: every fold, replacing the folds of earlier steps, as a
    rung does; a tuple adds these folds to the trial's earlier ones).
    """

    index: int
    budget: float | None = None
    folds: tuple[int, ...] | None = None


class SchedulerRun(ABC):
    """One search's scheduling state: the engine's only view of a scheduler."""

    @abstractmethod
    def add(self, number: int) -> None:
        """Place a new trial (before its first step)."""

    @abstractmethod
    def step(self, number: int, index: int) -> Step | None:
        """Step ``index`` of trial ``number``, or None once it has run its last step."""

    @abstractmethod
    def on_result(
        self, number: int, step: Step, value: float, folds: Mapping[int, float]
    ) -> Decision:
        """Take a finished step: the trial's mean ``value`` and its per-fold values so far."""

    def choose(self, paused: Mapping[int, int], exhausted: bool) -> int | None:
        """A paused trial to run its next step now (``paused``: trial -> last step finished).

        ``exhausted``: no new trial will come (the strategy ran out or a stopper refused),
        so a scheduler waiting for more trials should release paused ones now.
        """
        return None

    def drops(self, paused: Mapping[int, int]) -> list[int]:
        """Paused trials to end now, pruned (see :meth:`reason`)."""
        return []

    def remove(self, number: int) -> None:  # noqa: B027 (optional hook)
        """Forget a trial that ended without a result (failed or cancelled)."""

    def reason(self, number: int) -> str | None:
        """Why trial ``number`` was stopped early, for the results table."""
        return None

    @abstractmethod
    def restore(self, trial: Trial) -> None:
        """Re-enter a checkpointed trial with the steps (``trial.rungs``) it finished."""


class Scheduler(ABC):
    """A budget rule the engine runs: its settings, and :meth:`start` for one search."""

    #: ``"budget"`` (rungs of a growing resource) or ``"folds"`` (more folds per step).
    axis: str = "budget"

    @property
    @abstractmethod
    def name(self) -> str:
        """The scheduler's name in results, MLflow and job specs."""

    @property
    def integral(self) -> bool:
        """Whether step resources are whole numbers (iterations or folds, not a rows share)."""
        return True

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """The settings, for MLflow params and the checkpoint identity."""

    def check_folds(self, num_folds: int) -> None:  # noqa: B027 (optional check)
        """Refuse a search of ``num_folds`` folds this scheduler cannot work with."""

    @abstractmethod
    def start(self, larger_is_better: bool, num_folds: int) -> SchedulerRun:
        """A fresh state for one search over ``num_folds`` folds."""


class FullBudget(SchedulerRun):
    """No scheduler: every trial runs one step, every fold at the full budget."""

    def add(self, number: int) -> None:
        """Nothing to place."""

    def step(self, number: int, index: int) -> Step | None:
        """One step."""
        return Step(0) if index == 0 else None

    def on_result(
        self, number: int, step: Step, value: float, folds: Mapping[int, float]
    ) -> Decision:
        """Never asked: the only step is the last."""
        return Decision.CONTINUE

    def restore(self, trial: Trial) -> None:
        """Nothing to restore."""


def number(value: object) -> bool:
    """Whether ``value`` is a finite int or float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def better(a: float, b: float, larger_is_better: bool) -> bool:
    """Whether ``a`` beats ``b`` (NaN beats nothing, everything beats NaN)."""
    if math.isnan(a):
        return False
    if math.isnan(b):
        return True
    return a > b if larger_is_better else a < b
