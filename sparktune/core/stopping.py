"""When a search stops asking for trials: small stopper objects the engine consults.

Each stopper names its ``reason`` (the search's ``stop_reason`` when it is the one that
stopped it). :func:`stoppers` builds them from a search's limits and checks the limits.
"""

from __future__ import annotations

import math

from sparktune.core.errors import ValidationError


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


class Stopper:
    """Base stopper: never stops anything."""

    reason = "exhausted"

    def start(self, now: float) -> None:
        """Called when the search starts (``now`` in seconds since the epoch)."""

    def may_ask(self, asked: int) -> bool:
        """Whether another trial may start, with ``asked`` trials asked so far."""
        return True

    def deadline(self) -> float:
        """The time by which unfinished trials are cancelled (``math.inf``: none)."""
        return math.inf

    def update(self, completed: bool, improved: bool) -> None:
        """Told of every new finished trial: whether it completed and improved the best."""


class MaxTrials(Stopper):
    """Stops asking once ``n`` trials (resumed ones included) were asked."""

    reason = "max_trials"

    def __init__(self, n: int) -> None:
        if not _positive_int(n):
            raise ValidationError(f"max_trials must be a positive integer, got {n!r}.")
        self.n = n

    def may_ask(self, asked: int) -> bool:
        """Below ``n`` trials."""
        return asked < self.n


class Timeout(Stopper):
    """Cancels unfinished trials ``seconds`` after the search started."""

    reason = "timeout"

    def __init__(self, seconds: float) -> None:
        number = isinstance(seconds, int | float) and not isinstance(seconds, bool)
        if not number or not math.isfinite(seconds) or seconds <= 0:
            raise ValidationError(f"timeout must be positive seconds, got {seconds!r}.")
        self.seconds = float(seconds)
        self._deadline = math.inf

    def start(self, now: float) -> None:
        """Set the deadline."""
        self._deadline = now + self.seconds

    def deadline(self) -> float:
        """``seconds`` after the start."""
        return self._deadline


class EarlyStopping(Stopper):
    """Stops asking after ``patience`` completed trials in a row without a better metric."""

    reason = "early_stopping"

    def __init__(self, patience: int) -> None:
        if not _positive_int(patience):
            raise ValidationError(f"early_stopping must be >= 1 trials, got {patience!r}.")
        self.patience = patience
        self.since_best = 0

    def start(self, now: float) -> None:
        """Count from zero."""
        self.since_best = 0

    def may_ask(self, asked: int) -> bool:
        """Fewer than ``patience`` completed trials since the last improvement."""
        return self.since_best < self.patience

    def update(self, completed: bool, improved: bool) -> None:
        """Count completed trials since the best; failed and cancelled ones do not count."""
        if improved:
            self.since_best = 0
        elif completed:
            self.since_best += 1


def check_parallelism(parallelism: object) -> int:
    """``parallelism`` if it is a positive integer, else a ValidationError."""
    if not _positive_int(parallelism):
        raise ValidationError(f"parallelism must be a positive integer, got {parallelism!r}.")
    return parallelism  # type: ignore[return-value]


def stoppers(
    max_trials: int | None = None,
    timeout: float | None = None,
    early_stopping: int | None = None,
) -> list[Stopper]:
    """The stoppers of the given limits (None: no such limit); checks each limit."""
    found: list[Stopper] = []
    if max_trials is not None:
        found.append(MaxTrials(max_trials))
    if timeout is not None:
        found.append(Timeout(timeout))
    if early_stopping is not None:
        found.append(EarlyStopping(early_stopping))
    return found
