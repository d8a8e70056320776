"""The one evaluation engine: runs (candidate x fold) tasks k at a time from driver threads.

Strategies only decide *what* to try (``ask``) and learn from results (``tell``); the engine
owns the thread pool, Spark job tags (so a trial's jobs can be found and cancelled),
the failure policy, the timeout, early stopping, callbacks, and cleanup of cached data.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import logging
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pyspark.sql import SparkSession
from pyspark.util import inheritable_thread_target

from sparktune.core.errors import SearchFailedError, ValidationError
from sparktune.core.settings import ErrorPolicy
from sparktune.core.trial import Candidate, FoldResult, Trial, TrialState

logger = logging.getLogger(__name__)


class Objective(Protocol):
    """What the engine evaluates: a candidate on one fold."""

    primary: str
    larger_is_better: bool

    @property
    def num_folds(self) -> int: ...  # noqa: D102

    def evaluate(self, candidate: Candidate, fold_index: int) -> FoldResult: ...  # noqa: D102

    def close(self) -> None: ...  # noqa: D102


class Strategy(Protocol):
    """Chooses what to evaluate next; told every finished trial."""

    def ask(self) -> Candidate | None: ...  # noqa: D102

    def tell(self, trial: Trial) -> None: ...  # noqa: D102


class Callback:
    """Hooks called from the driver loop; an exception in one is logged, never raised."""

    def on_search_start(self, engine: Engine) -> None:
        """Called once before the first trial starts."""

    def on_trial_start(self, number: int, candidate: Candidate) -> None:
        """Called when a trial's fold tasks are submitted."""

    def on_trial_end(self, trial: Trial) -> None:
        """Called with every finished, failed or cancelled trial."""

    def on_search_end(self, trials: Sequence[Trial]) -> None:
        """Called once after the last trial, however the search ended."""


class _Cancelled(Exception):
    """A fold task that was stopped before it started its fit."""


@dataclass
class _Running:
    number: int
    candidate: Candidate
    futures: list[cf.Future[FoldResult]]
    started: float = field(default_factory=time.time)

    def done(self) -> bool:
        return all(f.done() for f in self.futures)

    def failed(self) -> bool:
        return any(f.done() and not f.cancelled() and f.exception() for f in self.futures)


@dataclass(frozen=True)
class Outcome:
    """What a search produced, in trial order, why it stopped, and how many trials ran at once."""

    trials: tuple[Trial, ...]
    stop_reason: str
    elapsed: float
    parallelism: int = 1


def describe_error(exc: BaseException) -> str:
    """A one-paragraph description of a failure, without a JVM stack trace."""
    java = getattr(exc, "java_exception", None)
    if java is not None:
        try:
            text = f"{java.getClass().getName()}: {java.getMessage()}"
        except Exception:  # the JVM may be gone; fall back to the Python text
            text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    lines = [line for line in text.splitlines() if line.strip()]
    return " ".join(lines[:3])[:1000]


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def check_limits(
    parallelism: int = 1,
    max_trials: int | None = None,
    timeout: float | None = None,
    early_stopping: int | None = None,
) -> None:
    """Fail on a limit no search can run with; cheap, so callers check before any Spark job."""
    if not _positive_int(parallelism):
        raise ValidationError(f"parallelism must be a positive integer, got {parallelism!r}.")
    if max_trials is not None and not _positive_int(max_trials):
        raise ValidationError(f"max_trials must be a positive integer, got {max_trials!r}.")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        raise ValidationError(f"timeout must be positive seconds, got {timeout!r}.")
    if early_stopping is not None and not _positive_int(early_stopping):
        raise ValidationError(f"early_stopping must be >= 1 trials, got {early_stopping!r}.")


def _is_cancellation(exc: BaseException) -> bool:
    """Whether ``exc`` is Spark reporting a job that sparktune itself cancelled."""
    return "cancelled" in describe_error(exc).lower()


class Engine:
    """Evaluates candidates k at a time; the single place where trials are run and recorded."""

    def __init__(
        self,
        objective: Objective,
        spark: SparkSession,
        parallelism: int = 1,
        error_policy: ErrorPolicy | str = ErrorPolicy.CONTINUE,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        check_limits(parallelism=parallelism)
        try:
            self.error_policy = ErrorPolicy(error_policy)
        except ValueError:
            raise ValidationError(
                f"errorPolicy must be one of {[p.value for p in ErrorPolicy]}, "
                f"got {error_policy!r}."
            ) from None
        self.objective = objective
        self.spark = spark
        self.parallelism = parallelism
        self.callbacks = list(callbacks)
        self.tag = f"sparktune-{uuid.uuid4().hex[:12]}"
        self.trials: list[Trial] = []
        self.started = 0.0

    def run(
        self,
        strategy: Strategy,
        max_trials: int | None = None,
        timeout: float | None = None,
        early_stopping: int | None = None,
        resumed: Sequence[Trial] = (),
    ) -> Outcome:
        """Ask ``strategy`` for candidates until it is exhausted or a limit is hit.

        ``timeout`` (seconds) cancels the Spark jobs of unfinished trials; ``early_stopping``
        stops asking after that many finished trials without a better primary metric.
        ``resumed`` are trials finished by an earlier run (a checkpoint): they are told to the
        strategy and the callbacks first, count toward ``max_trials`` and are in the outcome;
        new trials are numbered after them.
        Cached data is released and the thread pool closed however the search ends.
        """
        check_limits(max_trials=max_trials, timeout=timeout, early_stopping=early_stopping)
        self.started = time.time()
        deadline = self.started + timeout if timeout else math.inf
        pool = cf.ThreadPoolExecutor(self.parallelism, thread_name_prefix="sparktune")
        running: dict[int, _Running] = {}
        asked, reason, since_best, best = len(resumed), "exhausted", 0, math.nan
        number = max((t.number for t in resumed), default=-1) + 1
        self._notify("on_search_start", self)
        for trial in resumed:
            self._record(strategy, trial)
            if trial.state is TrialState.COMPLETE and self._better(trial.value, best):
                best = trial.value
        try:
            exhausted = False
            while True:
                while (
                    not exhausted
                    and len(running) < self.parallelism
                    and (max_trials is None or asked < max_trials)
                ):
                    candidate = strategy.ask()
                    if candidate is None:
                        exhausted = True
                        break
                    running[number] = self._submit(pool, number, candidate)
                    asked, number = asked + 1, number + 1
                if not running:
                    if max_trials is not None and asked >= max_trials:
                        reason = "max_trials"
                    break
                futures = [f for r in running.values() for f in r.futures if not f.done()]
                remaining = deadline - time.time()
                if remaining <= 0:
                    reason = "timeout"
                    break
                if futures:
                    wait = None if math.isinf(remaining) else remaining
                    cf.wait(futures, timeout=wait, return_when=cf.FIRST_COMPLETED)
                for key in sorted(running):
                    run = running[key]
                    if run.failed() and not run.done():
                        self._cancel_trial(run)
                    if not run.done():
                        continue
                    del running[key]
                    trial = self._finish(run)
                    self._record(strategy, trial)
                    if trial.state is TrialState.FAILED and self.error_policy is ErrorPolicy.RAISE:
                        raise trial.exception or SearchFailedError(trial.error)
                    if trial.state is TrialState.COMPLETE:
                        if self._better(trial.value, best):
                            best, since_best = trial.value, 0
                        else:
                            since_best += 1
                if early_stopping and since_best >= early_stopping and not exhausted:
                    logger.info("early stop: %d trials without improvement", since_best)
                    exhausted, reason = True, "early_stopping"
        finally:
            if running:
                self._cancel_all(running)
                for key in sorted(running):
                    self._record(strategy, self._finish(running[key], cancelled=True))
            pool.shutdown(wait=True, cancel_futures=True)
            self.objective.close()
            self._notify("on_search_end", list(self.trials))
        outcome = Outcome(tuple(self.trials), reason, time.time() - self.started, self.parallelism)
        self._check_any_succeeded()
        return outcome

    def _better(self, value: float, best: float) -> bool:
        if math.isnan(value):
            return False
        if math.isnan(best):
            return True
        return value > best if self.objective.larger_is_better else value < best

    def _submit(self, pool: cf.ThreadPoolExecutor, number: int, candidate: Candidate) -> _Running:
        futures = []
        for fold in range(self.objective.num_folds):
            task = functools.partial(self._run_fold, number, candidate, fold)
            futures.append(pool.submit(inheritable_thread_target(self.spark)(task)))
        self._notify("on_trial_start", number, candidate)
        return _Running(number, candidate, futures)

    def trial_tag(self, number: int) -> str:
        """The Spark job tag carried by every job of trial ``number``."""
        return f"{self.tag}-trial-{number}"

    def _run_fold(self, number: int, candidate: Candidate, fold: int) -> FoldResult:
        sc = self.spark.sparkContext
        sc.addJobTag(self.tag)
        sc.addJobTag(self.trial_tag(number))
        sc.setInterruptOnCancel(True)
        sc.setJobDescription(f"sparktune trial {number} fold {fold}")
        return self.objective.evaluate(candidate, fold)

    def _cancel_trial(self, run: _Running) -> None:
        for future in run.futures:
            future.cancel()
        self.spark.sparkContext.cancelJobsWithTag(self.trial_tag(run.number))

    def _cancel_all(self, running: dict[int, _Running]) -> None:
        """Cancel queued fold tasks and the Spark jobs of running ones, until all have ended."""
        for run in running.values():
            for future in run.futures:
                future.cancel()
        futures = [f for r in running.values() for f in r.futures]
        while True:
            self.spark.sparkContext.cancelJobsWithTag(self.tag)
            _, pending = cf.wait(futures, timeout=0.5)
            if not pending:
                return

    def _finish(self, run: _Running, cancelled: bool = False) -> Trial:
        folds: list[FoldResult] = []
        error: str | None = None
        exception: BaseException | None = None
        state = TrialState.CANCELLED if cancelled else TrialState.COMPLETE
        for index, future in enumerate(run.futures):
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
                "trial %d failed with params %s: %s", run.number, dict(run.candidate.params), error
            )
        return Trial(
            number=run.number,
            candidate=run.candidate,
            state=state,
            folds=tuple(folds),
            primary=self.objective.primary,
            error=error,
            exception=exception,
            started=run.started,
            finished=time.time(),
        )

    def _record(self, strategy: Strategy, trial: Trial) -> None:
        self.trials.append(trial)
        self.trials.sort(key=lambda t: t.number)
        try:
            strategy.tell(trial)
        except Exception:
            logger.exception("the search strategy failed to take trial %d", trial.number)
        self._notify("on_trial_end", trial)

    def _notify(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            try:
                getattr(callback, hook)(*args)
            except Exception:
                logger.exception("callback %s.%s failed", type(callback).__name__, hook)

    def _check_any_succeeded(self) -> None:
        if not self.trials or any(t.state is TrialState.COMPLETE for t in self.trials):
            return
        failed = [t for t in self.trials if t.state is TrialState.FAILED]
        if not failed:
            return
        first = failed[0]
        raise SearchFailedError(
            f"All {len(self.trials)} candidates failed; the first (trial {first.number}, "
            f"params {dict(first.params)}) failed with {first.error}"
        ) from first.exception
