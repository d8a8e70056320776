"""Racing and median stopping over folds, without Spark: the decision rule on hand-computed
cases (drops, ties, burn-in, win/loss, repeats) and resuming a race.

Losses per fold (smaller is better) for four candidates over six folds:

- ``A``: the leader; ``C``: exactly ``A``'s (a tie: never dropped);
- ``B``: ``A`` + (0.5, 0.6, 0.4, ...): after 3 folds the differences have mean 0.5 and
  standard deviation 0.1, t = 0.5 / (0.1 / sqrt 3) = 8.66 on 2 degrees of freedom,
  one-sided p = (1 - t / sqrt(t**2 + 2)) / 2 = 0.0065 < 0.05: dropped right after burn-in;
- ``D``: ``A`` + (0.3, -0.1, 0.2, 0.3, 0.3, 0.3): t = 1.11 (p 0.19) after 3 folds, 1.85
  (p 0.08) after 4, 2.58 after 5 (between t(0.05, 4) = 2.132 and t(0.025, 4) = 2.776):
  dropped after 5 folds.

Win/loss (a sign test): ``B`` loses every fold, p = 0.5**n: 0.125 after 3, 0.0625 after 4,
0.031 after 5 (dropped); ``D`` loses 4 of 5 (p = 6/32) and 5 of 6 (p = 7/64): never dropped.
"""

from __future__ import annotations

import math
import threading

import pytest
from test_engine import Endless, ThreadPort

from sparktune import MedianStopping, Racing, TrialState, ValidationError
from sparktune.core.engine import Engine
from sparktune.core.schedulers.racing import p_worse
from sparktune.core.settings import SearchSettings, Split
from sparktune.core.trial import Candidate, FoldResult, Trial

LEADER = [1.0, 1.1, 0.9, 1.0, 1.05, 0.95]
LOSSES = {
    "A": LEADER,
    "B": [a + d for a, d in zip(LEADER, [0.5, 0.6, 0.4, 0.55, 0.5, 0.45])],
    "C": list(LEADER),
    "D": [a + d for a, d in zip(LEADER, [0.3, -0.1, 0.2, 0.3, 0.3, 0.3])],
}


class Table:
    """The loss of candidate ``name`` on fold k is ``LOSSES[name][k]``; records every call."""

    primary = "loss"
    larger_is_better = False

    def __init__(self, losses=LOSSES, num_folds=6) -> None:
        self.losses = losses
        self.num_folds = num_folds
        self.calls: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    def evaluate(self, candidate: Candidate, fold_index: int, budget=None) -> FoldResult:
        name = candidate.params["name"]
        with self._lock:
            self.calls.append((name, fold_index))
        return FoldResult(fold_index, {"loss": self.losses[name][fold_index]}, {}, 0.0)

    def close(self) -> None:
        pass


def race(scheduler, names="ABCD", parallelism=1, resumed=(), hooks=(), objective=None):
    objective = objective or Table()
    engine = Engine(objective, ThreadPort(), parallelism, callbacks=hooks, scheduler=scheduler)
    outcome = engine.run(Endless([{"name": n} for n in names]), (), resumed)
    return {t.params["name"]: t for t in outcome.trials}, objective


def folds_run(trials):
    return {name: len(t.folds) for name, t in trials.items()}


def test_the_paired_t_test_p_value_is_the_hand_computed_one():
    t = 0.5 / (0.1 / math.sqrt(3))
    hand = (1 - t / math.sqrt(t**2 + 2)) / 2  # Student's t with 2 degrees of freedom
    assert p_worse(LOSSES["A"][:3], LOSSES["B"][:3], "anova", False) == pytest.approx(hand)
    assert p_worse([1.0, 1.0, 1.0], [1.0, 1.0, 1.0], "anova", False) == 1.0  # a tie
    assert p_worse([2.0, 2.1, 1.9], [1.0, 1.1, 0.9], "anova", True) == 0.0  # worse by 1 each fold
    assert p_worse(LOSSES["A"][:5], LOSSES["B"][:5], "win_loss", False) == pytest.approx(1 / 32)
    assert p_worse(LOSSES["A"][:5], LOSSES["D"][:5], "win_loss", False) == pytest.approx(6 / 32)


def test_a_race_drops_the_worse_candidates_and_keeps_the_leader_and_its_tie():
    trials, objective = race(Racing(burn_in=3))
    assert folds_run(trials) == {"A": 6, "B": 3, "C": 6, "D": 5}
    assert {n: t.state for n, t in trials.items()} == {
        "A": TrialState.COMPLETE,
        "B": TrialState.PRUNED,
        "C": TrialState.COMPLETE,
        "D": TrialState.PRUNED,
    }
    assert "worse than trial 0 over 3 folds" in trials["B"].reason
    assert "over 5 folds" in trials["D"].reason
    assert trials["A"].reason is None and trials["C"].reason is None
    # a dropped candidate's value is its mean over the folds it ran; no fold ran twice
    assert trials["B"].value == pytest.approx(sum(LOSSES["B"][:3]) / 3)
    assert len(objective.calls) == len(set(objective.calls)) == 6 + 3 + 6 + 5
    # every candidate had its burn-in before any went on to a fourth fold
    fourth = min(i for i, (_, fold) in enumerate(objective.calls) if fold == 3)
    assert sorted(objective.calls[:fourth]) == [(n, k) for n in "ABCD" for k in range(3)]


def test_no_candidate_is_dropped_before_its_burn_in():
    trials, _ = race(Racing(burn_in=4))
    assert folds_run(trials)["B"] == 4
    assert trials["B"].state is TrialState.PRUNED
    assert [r.resource for r in trials["B"].rungs] == [4.0]


def test_win_loss_drops_after_five_straight_losses_and_keeps_four_of_five():
    trials, _ = race(Racing(burn_in=3, test="win_loss"))
    assert folds_run(trials) == {"A": 6, "B": 5, "C": 6, "D": 6}
    assert "sign test" in trials["B"].reason
    assert trials["D"].state is TrialState.COMPLETE


def test_two_racers_at_once_drop_the_same_candidates():
    trials, objective = race(Racing(burn_in=3), parallelism=2)
    assert folds_run(trials) == {"A": 6, "B": 3, "C": 6, "D": 5}
    assert len(objective.calls) == len(set(objective.calls))


def test_repeats_multiply_the_folds_of_the_split():
    settings = SearchSettings(
        "tune", "grid", ("loss",), False, split=Split("kfold", 3), scheduler=Racing(num_repeats=2)
    )
    assert settings.split.num_repeats == 2 and settings.split.total_folds == 6
    # the race runs on every repeated fold: with 3 folds x 2, B is dropped after the burn-in
    trials, _ = race(Racing(burn_in=3, num_repeats=2))
    assert folds_run(trials)["B"] == 3 and folds_run(trials)["A"] == 6


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"burn_in": 1}, "burn_in must be an integer >= 2"),
        ({"test": "wilcoxon"}, "test must be one of"),
        ({"alpha": 1.5}, "alpha must be a number in (0, 1)"),
        ({"num_repeats": 0}, "num_repeats must be an integer >= 1"),
    ],
)
def test_bad_racing_settings_are_refused_with_their_names(kwargs, words):
    with pytest.raises(ValidationError, match=words.replace("(", r"\(").replace(")", r"\)")):
        Racing(**kwargs)


def test_racing_needs_more_folds_than_its_burn_in_and_a_k_fold_split():
    with pytest.raises(ValidationError, match="more folds than burn_in"):
        race(Racing(burn_in=3), objective=Table(num_folds=3))
    with pytest.raises(ValidationError, match="k-fold"):
        SearchSettings(
            "tune",
            "grid",
            ("loss",),
            False,
            split=Split("train_ratio", 1, 0.75),
            scheduler=Racing(),
        )


def test_a_resumed_race_runs_no_fold_again_and_ends_as_an_uninterrupted_one():
    snapshots: list[Trial] = []

    class Keep:
        def on_trial_update(self, trial):
            snapshots.append(trial)

        def on_trial_end(self, trial):
            snapshots.append(trial)

        def __getattr__(self, name):
            return lambda *args: None

    full, _ = race(Racing(burn_in=3), hooks=[Keep()])
    # what a checkpoint held after the first 7 updates: each trial's latest kept snapshot
    latest: dict[int, Trial] = {}
    for trial in snapshots[:7]:
        latest[trial.number] = trial
    done = {(t.params["name"], f.fold) for t in latest.values() for f in t.folds}
    started = {t.params["name"] for t in latest.values()}
    rest = [n for n in "ABCD" if n not in started]  # the strategy asks only for these
    resumed, objective = race(Racing(burn_in=3), rest, resumed=list(latest.values()))
    assert folds_run(resumed) == folds_run(full)
    assert {n: t.state for n, t in resumed.items()} == {n: t.state for n, t in full.items()}
    assert not done & set(objective.calls)


def test_median_stopping_stops_a_trial_worse_than_the_others_median_after_its_grace():
    losses = {**LOSSES, "E": [5.0] * 6}
    trials, objective = race(
        MedianStopping(grace_folds=2, min_trials=3), "ABCDE", objective=Table(losses)
    )
    # A, B, C run in turn with fewer than 3 others to compare; D's mean over 2 folds, 1.15,
    # is above the median of A, B, C (1.05, 1.6, 1.05); E's 5.0 above that of A-D's (1.1)
    assert folds_run(trials) == {"A": 6, "B": 6, "C": 6, "D": 2, "E": 2}
    assert trials["E"].state is TrialState.PRUNED
    assert "median stopping" in trials["E"].reason
