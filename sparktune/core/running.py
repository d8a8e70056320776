"""A trial in flight in the engine: the futures of its fold tasks, and the :class:`Trial`
they make once they have ended (the engine's one rule for failed and cancelled folds)."""

from __future__ import annotations

import concurrent.futures as cf
import logging
import time
from dataclasses import dataclass, field

from sparktune.core.errors import describe_error
from sparktune.core.schedulers.base import Step
from sparktune.core.trial import Candidate, FoldResult, Rung, Trial, TrialState

logger = logging.getLogger(__name__)


def _is_cancellation(exc: BaseException) -> bool:
    """Whether ``exc`` reports a job that sparktune itself cancelled."""
    return "cancelled" in describe_error(exc).lower()


@dataclass
class Running:
    """A trial in flight: its candidate, the fold tasks of its current step, what came before."""

    number: int
    candidate: Candidate
    futures: list[cf.Future[FoldResult]]
    started: float = field(default_factory=time.time)
    step: Step = field(default_factory=lambda: Step(0))
    earlier: tuple[Rung, ...] = ()
    kept: tuple[FoldResult, ...] = ()

    def done(self) -> bool:
        """Whether every fold task of this step has ended."""
        return all(f.done() for f in self.futures)

    def failed(self) -> bool:
        """Whether a fold task of this step ended with an error."""
        return any(f.done() and not f.cancelled() and f.exception() for f in self.futures)

    def trial(self, primary: str, cancelled: bool = False) -> Trial:
        """The trial its ended (or, ``cancelled``, abandoned) fold tasks make: complete, failed
        with the first real error (a cancellation it caused ranks after it), or cancelled."""
        folds: list[FoldResult] = list(self.kept)
        error: str | None = None
        exception: BaseException | None = None
        state = TrialState.CANCELLED if cancelled else TrialState.COMPLETE
        indexes = range(len(self.futures)) if self.step.folds is None else self.step.folds
        for index, future in zip(indexes, self.futures):
            if future.cancelled():
                state = TrialState.CANCELLED if state is not TrialState.FAILED else state
                continue
            exc = future.exception()
            if exc is None:
                folds.append(future.result())
            elif not cancelled and (exception is None or _is_cancellation(exception)):
                state, exception = TrialState.FAILED, exc
                error = f"fold {index}: {describe_error(exc)}"
        if state is TrialState.CANCELLED and error is None:
            error = "cancelled (timeout or interrupt)" if cancelled else "cancelled"
        if state is TrialState.FAILED:
            logger.warning(
                "trial %d failed with params %s: %s",
                self.number,
                dict(self.candidate.params),
                error,
            )
        return Trial(
            number=self.number,
            candidate=self.candidate,
            state=state,
            folds=tuple(folds),
            primary=primary,
            error=error,
            exception=exception,
            started=self.started,
            finished=time.time(),
            rungs=self.earlier,
        )
