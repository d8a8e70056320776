"""ASHA and Hyperband behind the scheduler interface give the results they gave before it.

``data/halving_traces.json`` was recorded with the implementation before the move (ASHA as
the engine's own ladder, Hyperband a subclass of ASHA): for 24 searches (both schedulers,
four budget ladders, 5 to 30 trials, one slot so the order is fixed) every (candidate,
budget) evaluated in order, every trial's state and rungs, and every tell.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_scheduler import run

from sparktune import ASHA, Hyperband

TRACES = json.loads((Path(__file__).parent / "data" / "halving_traces.json").read_text())


@pytest.mark.parametrize(
    "case", TRACES, ids=lambda c: f"{c['scheduler']}-{c['max']}-{len(c['xs'])}"
)
def test_the_same_evaluations_states_rungs_and_tells_as_before_the_interface(case):
    cls = ASHA if case["scheduler"] == "asha" else Hyperband
    outcome, objective, strategy = run(
        case["xs"], cls("maxIter", case["min"], case["max"], case["eta"])
    )
    assert [[x, b] for x, b in objective.calls] == case["calls"]
    trials = [
        [t.number, t.state.value, [[r.index, r.resource, r.value] for r in t.rungs]]
        for t in outcome.trials
    ]
    assert trials == case["trials"]
    assert [[t.number, t.state.value, len(t.rungs)] for t in strategy.told] == case["told"]
