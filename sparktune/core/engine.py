"""The one evaluation engine: runs (candidate x fold) tasks k at a time from driver threads.

Strategies only decide *what* to try (``ask``) and learn from results (``tell``); stoppers
decide *when* to stop asking; a scheduler (:mod:`sparktune.core.schedulers`, known to the
engine only through its interface) decides how much budget a trial gets, step by step; the
engine owns the thread pool, the job tags (through a
:class:`~sparktune.core.port.SessionPort`, so a trial's jobs can be found and cancelled),
the failure policy, callbacks, and closing the objective. It imports nothing from pyspark.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import logging
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sparktune.core.callbacks import Callback, Objective, Strategy, notify
from sparktune.core.errors import CheckpointError, SearchFailedError
from sparktune.core.pool import OrderedPool
from sparktune.core.port import SessionPort
from sparktune.core.running import Running
from sparktune.core.schedulers.base import Decision, FullBudget, Scheduler, SchedulerRun, Step
from sparktune.core.settings import ErrorPolicy
from sparktune.core.stopping import Stopper, check_parallelism
from sparktune.core.trial import Candidate, Rung, Trial, TrialState

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What the engine ran, in trial order, why it stopped, and how many trials ran at once."""

    trials: tuple[Trial, ...]
    stop_reason: str
    elapsed: float
    parallelism: int = 1


class Engine:
    """Evaluates candidates k at a time; the single place where trials are run and recorded."""

    def __init__(
        self,
        objective: Objective,
        port: SessionPort,
        parallelism: int = 1,
        error_policy: ErrorPolicy | str = ErrorPolicy.CONTINUE,
        callbacks: Sequence[Callback] = (),
        scheduler: Scheduler | None = None,
    ) -> None:
        self.objective = objective
        self.port = port
        self.parallelism = check_parallelism(parallelism)
        self.error_policy = ErrorPolicy.parse(error_policy)
        self.callbacks = list(callbacks)
        self.scheduler = scheduler
        self.tag = f"sparktune-{uuid.uuid4().hex[:12]}"
        self.trials: list[Trial] = []
        self._best = math.nan
        self._paused: dict[int, Trial] = {}
        self._decisions: dict[int, Decision] = {}
        self._critical: BaseException | None = None
        self._closing = False
        self._plan: SchedulerRun = FullBudget()

    def run(
        self,
        strategy: Strategy,
        stoppers: Sequence[Stopper] = (),
        resumed: Sequence[Trial] = (),
    ) -> Outcome:
        """Ask ``strategy`` for candidates until it is exhausted or a stopper says stop.

        A stopper's deadline cancels the jobs of unfinished trials. ``resumed`` are trials
        finished by an earlier run (a checkpoint): they are told to the strategy and the
        callbacks first, count as asked and are in the outcome; new trials are numbered
        after them (paused ones wait for promotion again). Under a scheduler, paused trials
        it drops end ``pruned``, a free slot first goes to a paused trial it promotes, else
        to a new candidate; paused trials still waiting when the search ends are recorded
        ``pruned``. The thread pool is closed and the objective released however the search
        ends; callbacks get ``on_search_end`` with the error that is leaving, if any. A
        critical callback's failure (a checkpoint write) stops the search and leaves as a
        :class:`~sparktune.core.errors.CheckpointError` carrying every trial.
        """
        started = time.time()
        for stopper in stoppers:
            stopper.start(started)
        timing = min(stoppers, key=lambda s: s.deadline(), default=None)
        deadline = timing.deadline() if timing is not None else math.inf
        pool = OrderedPool(self.parallelism, "sparktune", self._order)
        running: dict[int, Running] = {}
        asked, reason = len(resumed), "exhausted"
        number = max((t.number for t in resumed), default=-1) + 1
        error: BaseException | None = None
        try:
            if self.scheduler is not None:
                self._plan = self.scheduler.start(
                    self.objective.larger_is_better, self.objective.num_folds
                )
            self._notify("on_search_start", self)
            for trial in resumed:
                self._resume(strategy, trial)
            exhausted = False
            while True:
                while len(running) < self._in_flight():
                    self._drop(strategy, stoppers)
                    paused = {n: t.rungs[-1].index for n, t in self._paused.items()}
                    promoted = self._plan.choose(paused, exhausted)
                    if promoted is not None:
                        running[promoted] = self._promote(pool, promoted)
                        continue
                    if exhausted:
                        break
                    refusing = next((s for s in stoppers if not s.may_ask(asked)), None)
                    if refusing is not None:
                        exhausted, reason = True, refusing.reason
                        continue
                    candidate = strategy.ask()
                    if candidate is None:
                        exhausted = True
                        continue
                    self._plan.add(number)
                    running[number] = self._submit(pool, number, candidate)
                    asked, number = asked + 1, number + 1
                if not running:
                    break
                remaining = deadline - time.time()
                if remaining <= 0 and timing is not None:
                    reason = timing.reason
                    break
                futures = [f for r in running.values() for f in r.futures if not f.done()]
                if futures:
                    wait = None if math.isinf(remaining) else remaining
                    cf.wait(futures, timeout=wait, return_when=cf.FIRST_COMPLETED)
                for key in sorted(running):
                    self._collect(strategy, stoppers, running, key, pool)
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._closing = True  # a critical callback failing now must not stop the cleanup
            if running:
                self._cancel_all(running)
                for key in sorted(running):
                    self._record(
                        strategy, running[key].trial(self.objective.primary, cancelled=True)
                    )
            for key in sorted(self._paused):
                trial = self._paused.pop(key)
                self._record(strategy, self._pruned(trial))
            pool.shutdown(wait=True, cancel_futures=True)
            self.objective.close()
            for failure in (error, self._critical):
                if isinstance(failure, CheckpointError):
                    failure.trials = tuple(self.trials)
            self._notify("on_search_end", list(self.trials), error or self._critical)
        if self._critical is not None:
            raise self._critical
        outcome = Outcome(tuple(self.trials), reason, time.time() - started, self.parallelism)
        self._check_any_succeeded()
        return outcome

    def _window(self) -> int | None:
        """The objective's fold-major window (``fold_major_window``), if it asks for one now.

        An objective whose folds cannot all stay cached asks for its tasks fold-major: up to
        that many trials in flight, the queued task of the lowest fold (then trial) first,
        so that a fold serves every trial in flight before the next one is needed.
        """
        window = getattr(self.objective, "fold_major_window", None)
        return window if isinstance(window, int) and window > 0 else None

    def _in_flight(self) -> int:
        """How many trials may run at once: ``parallelism``, or the fold-major window."""
        return max(self.parallelism, self._window() or 0)

    def _order(self, key: tuple[int, ...], sequence: int) -> tuple[int, ...]:
        """Which queued fold task runs next: first queued, or lowest (fold, trial) fold-major."""
        return (*key, sequence) if self._window() else (sequence,)

    def trial_tag(self, number: int) -> str:
        """The job tag carried by every job of trial ``number``."""
        return f"{self.tag}-trial-{number}"

    def _collect(
        self,
        strategy: Strategy,
        stoppers: Sequence[Stopper],
        running: dict[int, Running],
        key: int,
        pool: OrderedPool,
    ) -> None:
        """Take trial ``key``'s step if all its folds ended (cancelling the rest once one
        failed): the scheduler decides whether it goes on, pauses or stops."""
        run = running[key]
        if run.failed() and not run.done():
            self._cancel_trial(run)
        if not run.done():
            return
        del running[key]
        trial = run.trial(self.objective.primary)
        if trial.state is not TrialState.COMPLETE:
            self._plan.remove(run.number)
        elif self.scheduler is not None:
            trial = self._stepped(run, trial)
            if self._plan.step(run.number, run.step.index + 1) is not None:
                decision = self._decisions.pop(run.number)
                if decision is Decision.CONTINUE:
                    update = replace(trial, state=TrialState.PAUSED, promoted=True)
                    self._notify("on_trial_update", update)
                    running[key] = self._submit(
                        pool, run.number, trial.candidate, run.step.index + 1, trial
                    )
                    return
                if decision is Decision.PAUSE:
                    self._pause(strategy, replace(trial, state=TrialState.PAUSED))
                    return
                trial = self._pruned(trial)
        self._end(strategy, stoppers, trial)

    def _stepped(self, run: Running, trial: Trial) -> Trial:
        """Report a finished step to the scheduler; the trial with the step's rung added."""
        primary = self.objective.primary
        folds = {f.fold: float(f.metrics.get(primary, math.nan)) for f in trial.folds}
        value = trial.value
        self._decisions[run.number] = self._plan.on_result(run.number, run.step, value, folds)
        resource = run.step.budget if run.step.folds is None else len(trial.folds)
        rung = Rung(run.step.index, float(resource or math.nan), value)
        return replace(trial, rungs=(*run.earlier, rung))

    def _end(self, strategy: Strategy, stoppers: Sequence[Stopper], trial: Trial) -> None:
        """Record an ended trial, apply the failure policy and tell the stoppers."""
        self._record(strategy, trial)
        if trial.state is TrialState.FAILED and self.error_policy is ErrorPolicy.RAISE:
            raise trial.exception or SearchFailedError(trial.error)
        improved = self._improves(trial)
        for stopper in stoppers:
            stopper.update(trial.state is TrialState.COMPLETE, improved)

    def _drop(self, strategy: Strategy, stoppers: Sequence[Stopper]) -> None:
        """End the paused trials the scheduler drops, pruned with its reason."""
        for number in self._plan.drops({n: t.rungs[-1].index for n, t in self._paused.items()}):
            trial = self._paused.pop(number, None)
            if trial is not None:
                self._end(strategy, stoppers, self._pruned(trial))

    def _pruned(self, trial: Trial) -> Trial:
        """``trial`` ended early by the scheduler (or by the end of the search)."""
        reason = self._plan.reason(trial.number)
        return replace(trial, state=TrialState.PRUNED, promoted=False, reason=reason)

    def _improves(self, trial: Trial) -> bool:
        """Whether ``trial`` completed with a better primary metric than any before it."""
        value = trial.value
        if trial.state is not TrialState.COMPLETE or math.isnan(value):
            return False
        best = self._best
        better = math.isnan(best) or (
            value > best if self.objective.larger_is_better else value < best
        )
        if better:
            self._best = value
        return better

    def _submit(
        self,
        pool: OrderedPool,
        number: int,
        candidate: Candidate,
        index: int = 0,
        earlier: Trial | None = None,
    ) -> Running:
        """Start step ``index`` of trial ``number``: its folds at its budget (the scheduler's)."""
        step = self._plan.step(number, index) or Step(index)
        futures = []
        tags = [self.tag, self.trial_tag(number)]
        budget = step.budget
        extra = {} if budget is None else {"budget": budget}
        folds = range(self.objective.num_folds) if step.folds is None else step.folds
        for fold in folds:
            task = functools.partial(self.objective.evaluate, candidate, fold, **extra)
            description = f"sparktune trial {number} fold {fold}"
            if budget is not None:
                description += f" rung {index} ({budget:g})"
            wrapped = self.port.in_thread(task, tags, description)
            futures.append(pool.submit(wrapped, (fold, number)))
        if earlier is None:
            self._notify("on_trial_start", number, candidate)
            return Running(number, candidate, futures, step=step)
        kept = tuple(earlier.folds) if step.folds is not None else ()
        return Running(
            number, candidate, futures, earlier.started, step, tuple(earlier.rungs), kept
        )

    def _promote(self, pool: OrderedPool, number: int) -> Running:
        """Run paused trial ``number`` on its next rung (the checkpoint learns it first)."""
        trial = replace(self._paused.pop(number), promoted=True)
        self._notify("on_trial_update", trial)
        logger.info(
            "trial %d promoted to rung %d (%s at rung %d)",
            number,
            trial.rungs[-1].index + 1,
            trial.value,
            trial.rungs[-1].index,
        )
        return self._submit(pool, number, trial.candidate, trial.rungs[-1].index + 1, trial)

    def _pause(self, strategy: Strategy, trial: Trial) -> None:
        """Keep a trial that finished a rung below the top until it is promoted or pruned."""
        self._paused[trial.number] = trial
        self._tell(strategy, trial)
        self._notify("on_trial_update", trial)

    def _resume(self, strategy: Strategy, trial: Trial) -> None:
        """Take a checkpointed trial: a paused one waits again, the others are recorded."""
        self._plan.restore(trial)
        if trial.state is TrialState.PAUSED:
            self._paused[trial.number] = trial
            self._tell(strategy, trial)
            return
        self._record(strategy, trial)
        self._improves(trial)

    def _cancel_trial(self, run: Running) -> None:
        for future in run.futures:
            future.cancel()
        self.port.cancel(self.trial_tag(run.number))

    def _cancel_all(self, running: dict[int, Running]) -> None:
        """Cancel queued fold tasks and the jobs of running ones, until all have ended."""
        for run in running.values():
            for future in run.futures:
                future.cancel()
        futures = [f for r in running.values() for f in r.futures]
        while True:
            self.port.cancel(self.tag)
            _, pending = cf.wait(futures, timeout=0.5)
            if not pending:
                return

    def _record(self, strategy: Strategy, trial: Trial) -> None:
        self.trials.append(trial)
        self.trials.sort(key=lambda t: t.number)
        self._tell(strategy, trial)
        self._notify("on_trial_end", trial)

    def _tell(self, strategy: Strategy, trial: Trial) -> None:
        """Tell the strategy a trial: when it ends or is restored, and under a scheduler after
        every rung, as soon as it is known (``trial.rungs`` then holds them all).
        """
        try:
            strategy.tell(trial)
        except Exception:
            logger.exception("the search strategy failed to take trial %d", trial.number)

    def _notify(self, hook: str, *args: Any) -> None:
        """Call ``hook`` on every callback; a critical one's first failure is raised once all
        were called, unless the search is closing (the others' failures are only logged)."""
        failure = notify(self.callbacks, hook, args, self._critical is None)
        if failure is not None:
            self._critical = failure
            if not self._closing:
                raise failure

    def _check_any_succeeded(self) -> None:
        failed = [t for t in self.trials if t.state is TrialState.FAILED]
        if not failed or any(t.state.scored for t in self.trials):
            return
        first = failed[0]
        raise SearchFailedError(
            f"All {len(self.trials)} candidates failed; the first (trial {first.number}, "
            f"params {dict(first.params)}) failed with {first.error}"
        ) from first.exception
