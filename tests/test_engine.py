"""The engine's rules, without Spark: k in flight, stoppers, failure policies, resume, cancel.

The engine only needs an objective and a session port; here the objective computes its
metric from the candidate in plain Python and the port runs tasks on the pool's threads,
recording which tags were cancelled and releasing tasks that wait for a cancel.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence

import pytest

from sparktune import Callback, CheckpointError, SearchFailedError, TrialState
from sparktune.core.engine import Engine
from sparktune.core.stopping import EarlyStopping, MaxTrials, Timeout, stoppers
from sparktune.core.trial import Candidate, FoldResult, Trial
from sparktune.search.candidates import CandidateList


class ThreadPort:
    """A session port for work that is not Spark's: tags per thread, cancel by tag."""

    def __init__(self) -> None:
        self.cancelled: list[str] = []
        self._local = threading.local()
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def in_thread(self, task: Callable, tags: Sequence[str], description: str) -> Callable:
        def tagged():
            self._local.tags = list(tags)
            return task()

        return tagged

    def cancel(self, tag: str) -> None:
        self.cancelled.append(tag)
        with self._lock:
            self._events.setdefault(tag, threading.Event()).set()

    def wait_for_cancel(self, timeout: float) -> bool:
        """Block the current task until one of its tags is cancelled (False on timeout)."""
        with self._lock:
            events = [self._events.setdefault(t, threading.Event()) for t in self._local.tags]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e.is_set() for e in events):
                return True
            time.sleep(0.01)
        return False


class Interrupted(Exception):
    """What a task reports when its tag was cancelled (Spark says 'cancelled' likewise)."""


class Objective:
    """Scores a candidate by its ``x``; ``fail`` raises, ``block`` waits until cancelled."""

    primary = "loss"
    larger_is_better = False

    def __init__(self, port: ThreadPort, folds: int = 1, delay: float = 0.02) -> None:
        self.port = port
        self.folds = folds
        self.delay = delay
        self.running = 0
        self.most_at_once = 0
        self.closed = False
        self._lock = threading.Lock()

    @property
    def num_folds(self) -> int:
        return self.folds

    def evaluate(self, candidate: Candidate, fold_index: int) -> FoldResult:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            params = candidate.params
            if params.get("block") and (fold_index == params.get("block_fold", fold_index)):
                if self.port.wait_for_cancel(timeout=10):
                    raise Interrupted("job cancelled because its tag was cancelled")
            time.sleep(self.delay)
            if params.get("fail") and fold_index == params.get("fail_fold", fold_index):
                raise ValueError(f"x={params['x']} cannot be fitted")
            return FoldResult(fold_index, {"loss": float(params["x"])}, {}, self.delay)
        finally:
            with self._lock:
                self.running -= 1

    def close(self) -> None:
        self.closed = True


class Endless:
    """A strategy that never runs out: x = 0, 1, 2, ... unless given values."""

    def __init__(self, values: Sequence[dict] | None = None) -> None:
        source = values if values is not None else ({"x": i} for i in itertools.count())
        self._values = iter(source)
        self.told: list[Trial] = []

    def ask(self) -> Candidate | None:
        params = next(self._values, None)
        return None if params is None else Candidate(params, {})

    def tell(self, trial: Trial) -> None:
        self.told.append(trial)


class Ends(Callback):
    """Records what on_search_end received."""

    def __init__(self) -> None:
        self.ends: list[tuple[int, BaseException | None]] = []

    def on_search_end(self, trials, error):
        self.ends.append((len(trials), error))


def engine(parallelism=1, folds=1, policy="continue", callbacks=(), delay=0.02):
    port = ThreadPort()
    objective = Objective(port, folds, delay)
    return Engine(objective, port, parallelism, policy, callbacks), objective, port


def complete_trial(number: int, x: float) -> Trial:
    folds = (FoldResult(0, {"loss": float(x)}, {}, 0.0),)
    return Trial(number, Candidate({"x": x}, {}), TrialState.COMPLETE, folds, "loss")


def candidates(*params: dict) -> CandidateList:
    return CandidateList([Candidate(p, {}) for p in params])


class InFlight(Callback):
    """Counts trials started and not yet ended."""

    def __init__(self) -> None:
        self.now = self.most = 0

    def on_trial_start(self, number, candidate):
        self.now += 1
        self.most = max(self.most, self.now)

    def on_trial_end(self, trial):
        self.now -= 1


def test_k_trials_in_flight_and_k_fold_tasks_at_once():
    flight = InFlight()
    eng, objective, _ = engine(parallelism=3, folds=2, delay=0.05, callbacks=[flight])
    outcome = eng.run(Endless(), [MaxTrials(9)])
    assert flight.most == 3
    assert objective.most_at_once == 3  # (trial x fold) tasks share the pool of 3 threads
    assert [t.number for t in outcome.trials] == list(range(9))
    assert all(t.state is TrialState.COMPLETE and len(t.folds) == 2 for t in outcome.trials)
    assert outcome.parallelism == 3
    assert objective.closed


def test_max_trials_and_exhausted_stop_reasons():
    outcome = engine()[0].run(Endless(), [MaxTrials(4)])
    assert (len(outcome.trials), outcome.stop_reason) == (4, "max_trials")
    outcome = engine()[0].run(candidates({"x": 1}, {"x": 2}), [MaxTrials(4)])
    assert (len(outcome.trials), outcome.stop_reason) == (2, "exhausted")


def test_early_stopping_counts_completed_trials_without_improvement():
    values = [{"x": 5}, {"x": 3}, {"x": 4}, {"x": 9, "fail": True}, {"x": 6}, {"x": 7}, {"x": 1}]
    outcome = engine()[0].run(Endless(values), [EarlyStopping(3)])
    assert outcome.stop_reason == "early_stopping"
    # 3 improves; 4, 6 and 7 do not (the failed 9 does not count); 1 is never asked.
    assert [t.params["x"] for t in outcome.trials] == [5, 3, 4, 9, 6, 7]
    assert outcome.trials[3].state is TrialState.FAILED


def test_early_stopping_restarts_its_count_on_improvement():
    values = [{"x": 5}, {"x": 6}, {"x": 4}, {"x": 7}, {"x": 8}, {"x": 3}]
    outcome = engine()[0].run(Endless(values), [EarlyStopping(2)])
    assert [t.params["x"] for t in outcome.trials] == [5, 6, 4, 7, 8]
    assert outcome.stop_reason == "early_stopping"


def test_timeout_cancels_running_trials_by_tag_and_keeps_finished_ones():
    ends = Ends()
    eng, objective, port = engine(parallelism=2, callbacks=[ends])
    values = [{"x": 1}, {"x": 2, "block": True}, {"x": 3, "block": True}]
    started = time.monotonic()
    outcome = eng.run(Endless(values), [Timeout(0.5)])
    assert time.monotonic() - started < 5
    assert outcome.stop_reason == "timeout"
    states = [t.state for t in outcome.trials]
    assert states == [TrialState.COMPLETE, TrialState.CANCELLED, TrialState.CANCELLED]
    assert outcome.trials[1].error == "cancelled (timeout or interrupt)"
    assert eng.tag in port.cancelled
    assert ends.ends == [(3, None)]
    assert objective.closed


def test_continue_policy_records_a_failed_trial_and_goes_on():
    outcome = engine()[0].run(candidates({"x": 1}, {"x": 2, "fail": True}, {"x": 3}))
    failed = outcome.trials[1]
    assert [t.state for t in outcome.trials] == [
        TrialState.COMPLETE,
        TrialState.FAILED,
        TrialState.COMPLETE,
    ]
    assert failed.error == "fold 0: ValueError: x=2 cannot be fitted"
    assert isinstance(failed.exception, ValueError)
    assert failed.value != failed.value  # NaN: a failed trial has no metric


def test_a_failing_fold_cancels_the_trials_other_folds():
    eng, _, port = engine(folds=2)
    trial_params = {"x": 1, "fail": True, "fail_fold": 0, "block": True, "block_fold": 1}
    outcome = eng.run(candidates(trial_params, {"x": 2}))
    first = outcome.trials[0]
    assert first.state is TrialState.FAILED and first.error.startswith("fold 0: ValueError")
    assert eng.trial_tag(0) in port.cancelled
    assert outcome.trials[1].state is TrialState.COMPLETE


def test_raise_policy_raises_the_trials_error_and_tells_the_callbacks():
    ends = Ends()
    eng, objective, _ = engine(policy="raise", callbacks=[ends])
    with pytest.raises(ValueError, match="x=2 cannot be fitted"):
        eng.run(candidates({"x": 1}, {"x": 2, "fail": True}, {"x": 3}))
    ((count, error),) = ends.ends
    assert count == 2 and isinstance(error, ValueError)
    assert objective.closed


def test_all_failed_raises_search_failed_naming_the_first():
    eng = engine()[0]
    with pytest.raises(SearchFailedError, match=r"All 2 candidates failed; the first \(trial 0"):
        eng.run(candidates({"x": 1, "fail": True}, {"x": 2, "fail": True}))
    assert [t.state for t in eng.trials] == [TrialState.FAILED, TrialState.FAILED]


def test_resumed_trials_are_told_first_count_toward_max_trials_and_keep_numbers():
    port = ThreadPort()
    done = [
        Trial(
            0,
            Candidate({"x": 4}, {}),
            TrialState.COMPLETE,
            (FoldResult(0, {"loss": 4.0}, {}, 0),),
            "loss",
        ),
        Trial(2, Candidate({"x": 9}, {}), TrialState.FAILED, (), "loss", error="boom"),
    ]
    strategy = Endless([{"x": 7}, {"x": 8}, {"x": 6}])
    outcome = Engine(Objective(port), port).run(strategy, [MaxTrials(4)], resumed=done)
    assert [t.number for t in outcome.trials] == [0, 2, 3, 4]
    assert [t.params["x"] for t in outcome.trials] == [4, 9, 7, 8]
    assert [t.number for t in strategy.told[:2]] == [0, 2]
    assert outcome.stop_reason == "max_trials"


def test_resumed_best_counts_for_early_stopping():
    port = ThreadPort()
    best = Trial(
        0,
        Candidate({"x": 1}, {}),
        TrialState.COMPLETE,
        (FoldResult(0, {"loss": 1.0}, {}, 0),),
        "loss",
    )
    outcome = Engine(Objective(port), port).run(
        Endless([{"x": 5}, {"x": 6}, {"x": 0}]), [EarlyStopping(2)], resumed=[best]
    )
    assert [t.params["x"] for t in outcome.trials] == [1, 5, 6]


def test_a_failing_callback_or_strategy_tell_never_stops_the_search(caplog):
    class Broken(Callback):
        def on_trial_end(self, trial):
            raise RuntimeError("callback bug")

    class BadTell(Endless):
        def tell(self, trial):
            raise RuntimeError("strategy bug")

    outcome = engine(callbacks=[Broken()])[0].run(BadTell([{"x": 1}, {"x": 2}]))
    assert len(outcome.trials) == 2
    assert "callback Broken.on_trial_end failed" in caplog.text
    assert "failed to take trial 1" in caplog.text


def test_stoppers_refuse_bad_limits_with_their_names():
    with pytest.raises(ValueError, match="max_trials must be a positive integer"):
        stoppers(max_trials=0)
    with pytest.raises(ValueError, match="timeout must be positive seconds"):
        stoppers(timeout=-1)
    with pytest.raises(ValueError, match="early_stopping must be >= 1"):
        stoppers(early_stopping=True)
    with pytest.raises(ValueError, match="parallelism must be a positive integer"):
        engine(parallelism=0)
    with pytest.raises(ValueError, match="error_policy must be one of"):
        engine(policy="ignore")


def test_a_callback_written_before_on_search_end_took_the_error_still_runs():
    class Old(Callback):
        def __init__(self):
            self.ended = None

        def on_search_end(self, trials):
            self.ended = len(trials)

    old = Old()
    engine(callbacks=[old])[0].run(candidates({"x": 1}, {"x": 2}))
    assert old.ended == 2


def test_a_timeout_that_is_not_a_finite_number_is_refused():
    with pytest.raises(ValueError, match="timeout must be positive seconds"):
        stoppers(timeout=float("nan"))


def test_a_critical_callback_failing_stops_the_search_with_every_trial_and_cleans_up():
    class Writer(Callback):
        """Fails on trial 1's end, and again on everything after (as a broken disk would)."""

        critical = True

        def on_trial_end(self, trial):
            if trial.number >= 1:
                raise CheckpointError(f"cannot write after trial {trial.number}", "ck.json")

    ends = Ends()
    run, objective, _ = engine(parallelism=2, folds=2, callbacks=[Writer(), ends])
    with pytest.raises(CheckpointError, match="after trial 1") as caught:
        run.run(Endless([{"x": x} for x in range(8)]))
    kept = caught.value.trials
    assert [t.number for t in kept][:2] == [0, 1]  # what ended, then what the stop cancelled
    assert kept[1].state is TrialState.COMPLETE and len(kept) < 8
    assert objective.closed and ends.ends == [(len(kept), caught.value)]


class FoldMajor(Objective):
    """Records the (fold, trial x) order of its fold tasks; asks for fold-major order with
    ``window`` trials in flight; its first task waits until ``started`` is set."""

    def __init__(self, port: ThreadPort, folds: int, window: int | None) -> None:
        super().__init__(port, folds, delay=0.0)
        self.fold_major_window = window
        self.order: list[tuple[int, int]] = []
        self.started = threading.Event()

    def evaluate(self, candidate: Candidate, fold_index: int) -> FoldResult:
        if not self.order:
            self.started.wait(timeout=5)
        self.order.append((fold_index, candidate.params["x"]))
        return super().evaluate(candidate, fold_index)


class Starts(Callback):
    """Sets ``event`` once ``count`` trials have started."""

    def __init__(self, event: threading.Event, count: int) -> None:
        self.event, self.count, self.seen = event, count, 0

    def on_trial_start(self, number, candidate):
        self.seen += 1
        if self.seen >= self.count:
            self.event.set()


@pytest.mark.parametrize("window", [None, 8])
def test_an_objective_asking_for_fold_major_order_gets_its_folds_one_after_another(window):
    port = ThreadPort()
    objective = FoldMajor(port, folds=3, window=window)
    if window is None:
        objective.started.set()
    hooks = [Starts(objective.started, 6)]
    outcome = Engine(objective, port, 1, "continue", hooks).run(
        candidates(*({"x": i} for i in range(6)))
    )
    assert [t.state for t in outcome.trials] == [TrialState.COMPLETE] * 6
    trial_major = [(f, x) for x in range(6) for f in range(3)]
    if window is None:
        assert objective.order == trial_major
    else:  # the first task starts before the others are queued; then fold by fold
        fold_major = [(f, x) for f in range(3) for x in range(6)]
        assert objective.order == fold_major
