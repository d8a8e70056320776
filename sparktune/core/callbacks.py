"""The engine's hooks and the two roles it talks to: what to try, and how to evaluate it."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from sparktune.core.trial import Candidate, FoldResult, Trial

if TYPE_CHECKING:
    from sparktune.core.engine import Engine

logger = logging.getLogger(__name__)


class Objective(Protocol):
    """What the engine evaluates: a candidate on one fold.

    Under a scheduler the engine passes ``budget``: the value of the scheduler's resource
    for this rung (an iteration count, or a fraction of the fold's training rows).
    An objective may also have ``fold_major_window`` (an int, read as the search runs): while
    it is set, the engine keeps up to that many trials in flight and runs their queued fold
    tasks lowest fold first (see ``Engine``).
    """

    primary: str
    larger_is_better: bool

    @property
    def num_folds(self) -> int: ...  # noqa: D102

    def evaluate(  # noqa: D102
        self, candidate: Candidate, fold_index: int, budget: float | None = None
    ) -> FoldResult: ...

    def close(self) -> None: ...  # noqa: D102


class Strategy(Protocol):
    """Chooses what to evaluate next (``ask``) and learns from results (``tell``).

    A trial is told when it ends (or is restored from a checkpoint) and, under a scheduler,
    after every rung it finishes. Every tell of one trial carries its ``number`` (a restored
    candidate has no ``tid``); a strategy told a trial again keeps what it can use.
    """

    def ask(self) -> Candidate | None: ...  # noqa: D102

    def tell(self, trial: Trial) -> None: ...  # noqa: D102


class Callback:
    """Hooks called from the driver loop; an exception in one is logged, never raised,
    unless the callback is ``critical`` (the checkpoint): then the search stops with it,
    keeping every finished trial."""

    #: Whether a failure of this callback must end the search (a resume depends on it).
    critical: bool = False

    def on_search_start(self, engine: Engine) -> None:
        """Called once before the first trial starts."""

    def on_trial_start(self, number: int, candidate: Candidate) -> None:
        """Called when a trial's fold tasks are submitted."""

    def on_trial_end(self, trial: Trial) -> None:
        """Called with every finished, failed or cancelled trial."""

    def on_trial_update(self, trial: Trial) -> None:
        """Called under a scheduler when a trial pauses after a rung, and when it is promoted."""

    def on_search_end(self, trials: Sequence[Trial], error: BaseException | None) -> None:
        """Called once after the last trial, however the search ended.

        ``error`` is what is about to leave the engine (a failure under the raise policy, an
        interrupt), or None when the search ended on its own.
        """


def _arity(method: Any, given: int) -> int:
    """How many of ``given`` arguments ``method`` takes: callbacks written before
    ``on_search_end`` got its ``error`` argument take only the trials."""
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return given
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return given
    return min(
        given, sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)
    )


def notify(
    callbacks: Sequence[Callback], hook: str, args: Sequence[Any], catch_critical: bool
) -> Exception | None:
    """Call ``hook`` with ``args`` on every callback, logging failures; the first failure of
    a ``critical`` callback is returned instead of logged (when ``catch_critical``)."""
    failure: Exception | None = None
    for callback in callbacks:
        method = getattr(callback, hook)
        try:
            method(*args[: _arity(method, len(args))])
        except Exception as exc:
            if catch_critical and failure is None and getattr(callback, "critical", False):
                failure = exc
                continue
            logger.exception("callback %s.%s failed", type(callback).__name__, hook)
    return failure
