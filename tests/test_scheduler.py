"""Successive halving's rules without Spark: budgets, ASHA's promotion bound, pruning, resume.

The objective scores a candidate ``x`` at budget ``b`` as ``x + 10 / b`` (more budget,
lower loss, same order of candidates), and records every (trial, budget) it evaluated.
"""

from __future__ import annotations

import threading
import time

import pytest
from test_engine import Endless, ThreadPort

from sparktune import Callback, TrialState, ValidationError
from sparktune.core.engine import Engine
from sparktune.core.schedulers import ASHA, Hyperband
from sparktune.core.stopping import MaxTrials, Timeout
from sparktune.core.trial import Candidate, FoldResult, Rung, Trial


class Budgeted:
    """Loss ``x + 10 / budget``; ``slow`` candidates take ``delay`` seconds per evaluation."""

    primary = "loss"
    larger_is_better = False
    num_folds = 1

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    def evaluate(self, candidate: Candidate, fold_index: int, budget: float | None = None):
        x = float(candidate.params["x"])
        with self._lock:
            self.calls.append((x, budget))
        time.sleep(self.delay * candidate.params.get("slow", 0))
        return FoldResult(fold_index, {"loss": x + 10.0 / (budget or 1e9)}, {}, 0.0)

    def close(self) -> None:
        pass


class Updates(Callback):
    """Every paused or promoted snapshot the engine announced, in order."""

    def __init__(self) -> None:
        self.updates: list[Trial] = []

    def on_trial_update(self, trial: Trial) -> None:
        self.updates.append(trial)


def run(xs, scheduler, parallelism=1, resumed=(), stoppers=(), objective=None, hooks=()):
    objective = objective or Budgeted()
    strategy = Endless([{"x": x} for x in xs])
    engine = Engine(objective, ThreadPort(), parallelism, callbacks=hooks, scheduler=scheduler)
    return engine.run(strategy, stoppers, resumed), objective, strategy


def test_budgets_grow_by_the_factor_up_to_the_maximum():
    assert ASHA("maxIter", 1, 9).brackets() == [(1.0, 3.0, 9.0)]
    assert ASHA("maxIter", 10, 100).brackets() == [(10.0, 30.0, 100.0)]
    assert ASHA("rows", 1 / 9, 1.0).brackets() == [(1 / 9, 1 / 3, 1.0)]
    assert Hyperband("maxIter", 1, 9).brackets() == [(1.0, 3.0, 9.0), (3.0, 9.0), (9.0,)]
    filled = ASHA(reduction_factor=3).completed("maxIter", 20)
    assert (filled.resource, filled.min_resource, filled.max_resource) == ("maxIter", 2, 20)
    assert ASHA().completed("rows", 1.0).min_resource == pytest.approx(1 / 9)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"min_resource": 9, "max_resource": 9}, "must be below max_resource"),
        ({"reduction_factor": 1.5}, "reduction_factor must be a number >= 2"),
        ({"resource": "rows", "max_resource": 2}, "fraction of each fold's training rows"),
        ({"min_resource": -1}, "min_resource must be a positive number"),
        ({"resource": ""}, "resource must be a param name"),
    ],
)
def test_bad_scheduler_settings_are_refused_with_their_names(kwargs, words):
    with pytest.raises(ValidationError, match=words):
        ASHA(**kwargs)


def test_of_nine_trials_at_most_three_reach_rung_one_even_when_each_beats_the_last():
    # Each new candidate is better than every one before: a rule that decides at once
    # (Optuna's SuccessiveHalvingPruner) would promote all nine.
    updates = Updates()
    outcome, objective, _ = run(range(9, 0, -1), ASHA("maxIter", 1, 9), hooks=[updates])
    reached = {t.number: t.rung for t in outcome.trials}
    assert sum(r >= 1 for r in reached.values()) <= 3
    assert sum(r >= 2 for r in reached.values()) <= 1
    states = [t.state for t in outcome.trials]
    assert states.count(TrialState.COMPLETE) == 1
    assert states.count(TrialState.PRUNED) == 8
    top = next(t for t in outcome.trials if t.state is TrialState.COMPLETE)
    assert [r.resource for r in top.rungs] == [1.0, 3.0, 9.0]
    assert top.value == pytest.approx(top.params["x"] + 10 / 9)
    assert all(t.value == t.rungs[-1].value for t in outcome.trials)
    # at every promotion the bound held for the trials that had finished rung 0 by then
    finished, promoted = set(), set()
    for trial in updates.updates:
        if trial.promoted:
            promoted.add((trial.number, trial.rung))
        else:
            finished.add((trial.number, trial.rung))
        for rung in (0, 1):
            done = sum(1 for _, r in finished if r == rung)
            assert sum(1 for _, r in promoted if r == rung) <= done // 3


def test_a_trial_is_promoted_as_soon_as_it_ranks_in_the_top_third():
    # one slot: after three trials at rung 0 the best goes on before a fourth starts
    _, objective, _ = run([5, 1, 7, 2, 8, 9], ASHA("maxIter", 1, 9))
    assert objective.calls[:4] == [(5, 1), (1, 1), (7, 1), (1, 3)]
    # six at rung 0 allow a second promotion, two at rung 1 none yet
    assert (2, 3) in objective.calls
    assert all(budget < 9 for _, budget in objective.calls)


class Gated(Budgeted):
    """The ``slow`` candidate's first rung waits until four other evaluations have run."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.others = 0
        self.opened_in_time = False

    def evaluate(self, candidate: Candidate, fold_index: int, budget: float | None = None):
        if candidate.params.get("slow") and budget == 1:
            self.opened_in_time = self.gate.wait(timeout=10)
        result = super().evaluate(candidate, fold_index, budget)
        if not candidate.params.get("slow"):
            with self._lock:
                self.others += 1
                if self.others >= 4:
                    self.gate.set()
        return result


def test_no_slot_waits_for_a_rung_to_fill():
    # two slots, one held by a trial that finishes only after four other evaluations: the
    # other slot keeps taking new trials and promotions meanwhile
    objective = Gated()
    xs = [{"x": 1, "slow": 1}, *({"x": x} for x in range(2, 8))]
    engine = Engine(objective, ThreadPort(), 2, scheduler=ASHA("maxIter", 1, 9))
    engine.run(Endless(xs))
    assert objective.opened_in_time


def test_the_strategy_is_told_every_rung_as_soon_as_it_ends():
    outcome, _, strategy = run([3, 1, 2, 6, 5, 4, 9, 8, 7], ASHA("maxIter", 1, 9))
    tells: dict[int, list[Trial]] = {}
    for told in strategy.told:
        tells.setdefault(told.number, []).append(told)
    assert sorted(tells) == [t.number for t in outcome.trials]
    for trial in outcome.trials:
        first, last = tells[trial.number][0], tells[trial.number][-1]
        assert first.state is TrialState.PAUSED and len(first.rungs) == 1
        assert (last.state, last.rungs) == (trial.state, trial.rungs)
    top = [t.number for t in outcome.trials if t.state is TrialState.COMPLETE]
    assert top and all([len(t.rungs) for t in tells[n]] == [1, 2, 3] for n in top)


def test_hyperband_spreads_new_trials_over_its_brackets():
    outcome, objective, _ = run(range(1, 7), Hyperband("maxIter", 1, 9))
    first = [t.rungs[0].resource for t in outcome.trials]
    assert first == [1.0, 3.0, 9.0, 1.0, 3.0, 9.0]
    assert {t.state for t in outcome.trials if t.rungs[0].resource == 9.0} == {TrialState.COMPLETE}


def test_a_timeout_prunes_paused_trials_and_cancels_running_ones():
    objective = Budgeted(delay=2)
    xs = [{"x": 1}, {"x": 2}, {"x": 3}, {"x": 4, "slow": 1}]
    outcome = Engine(objective, ThreadPort(), 1, scheduler=ASHA("maxIter", 1, 9)).run(
        Endless(xs), [Timeout(0.5)]
    )
    assert outcome.stop_reason == "timeout"
    assert [t.state for t in outcome.trials] == [TrialState.PRUNED] * 3 + [TrialState.CANCELLED]


def paused(number: int, x: float, values: list[float], promoted: bool = False) -> Trial:
    budgets = [1.0, 3.0, 9.0]
    rungs = tuple(Rung(i, budgets[i], v) for i, v in enumerate(values))
    folds = (FoldResult(0, {"loss": values[-1]}, {}, 0.0),)
    candidate = Candidate({"x": x}, {})
    return Trial(
        number, candidate, TrialState.PAUSED, folds, "loss", rungs=rungs, promoted=promoted
    )


def test_a_trial_killed_after_promotion_resumes_at_its_next_rung_and_no_rung_runs_again():
    resumed = [
        paused(0, 5, [15.0]),
        paused(1, 1, [11.0], promoted=True),
        paused(2, 7, [17.0]),
    ]
    outcome, objective, strategy = run([4], ASHA("maxIter", 1, 9), resumed=resumed)
    assert objective.calls[0] == (1, 3)  # the promoted trial picks up at rung 1
    assert (5, 1) not in objective.calls and (7, 1) not in objective.calls
    by_number = {t.number: t for t in outcome.trials}
    assert [r.index for r in by_number[1].rungs][:2] == [0, 1]
    assert by_number[0].state is TrialState.PRUNED
    assert len(outcome.trials) == 4


def test_max_trials_counts_new_trials_and_promotions_still_run_after_it():
    outcome, objective, _ = run(range(1, 10), ASHA("maxIter", 1, 9), stoppers=[MaxTrials(3)])
    assert outcome.stop_reason == "max_trials"
    assert len(outcome.trials) == 3
    assert (1, 3) in objective.calls  # the best of three was still promoted
