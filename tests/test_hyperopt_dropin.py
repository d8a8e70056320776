"""sparktune.hyperopt: hyperopt's documented examples with only the import swapped."""

from __future__ import annotations

import math
import pickle
import sys
import threading
import time

import hyperopt
import hyperopt.early_stop
import numpy as np
import pytest
from hyperopt.base import JOB_STATE_RUNNING
from pyspark import cloudpickle

import sparktune.hyperopt as drop_in
from sparktune import ValidationError

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def square(x):
    return x**2


def with_extras(x):
    """hyperopt's "Attaching extra information via the Trials object" objective."""
    return {
        "loss": x**2,
        "status": drop_in.STATUS_OK,
        "other_stuff": {"type": None, "value": [0, 1, 2]},
        "attachments": {"time_module": pickle.dumps(time.time)},
    }


def conditional(args):
    """The objective of hyperopt's conditional-space example."""
    case, val = args
    return val if case == "case 1" else val**2


def examples(h):
    """hyperopt's documented fmin examples with Trials, written against the module ``h``."""
    out = []
    for fn, space in [
        (square, h.hp.uniform("x", -10, 10)),
        (with_extras, h.hp.uniform("x", -10, 10)),
        (
            conditional,
            h.hp.choice(
                "a",
                [
                    ("case 1", 1 + h.hp.lognormal("c1", 0, 1)),
                    ("case 2", h.hp.uniform("c2", -10, 10)),
                ],
            ),
        ),
    ]:
        trials = h.Trials()
        best = h.fmin(
            fn,
            space=space,
            algo=h.tpe.suggest,
            max_evals=40,
            trials=trials,
            rstate=np.random.default_rng(7),
            show_progressbar=False,
        )
        out.append((best, trials))
    return out


def test_trials_examples_try_the_points_hyperopt_tries():
    for (best, trials), (their_best, theirs) in zip(examples(drop_in), examples(hyperopt)):
        assert best == their_best
        assert trials.vals == theirs.vals
        assert trials.losses() == theirs.losses()
        assert trials.best_trial["result"]["loss"] == theirs.best_trial["result"]["loss"]
        assert trials.argmin == theirs.argmin


def test_trials_exceptions_are_failed_trials():
    def sometimes(x):
        if x > 5:
            raise ValueError("too large")
        return x**2

    trials = drop_in.Trials()
    best = drop_in.fmin(
        sometimes,
        drop_in.hp.uniform("x", -10, 10),
        algo=drop_in.tpe.suggest,
        max_evals=20,
        trials=trials,
        rstate=np.random.default_rng(0),
        show_progressbar=False,
    )
    failed = [r for r in trials.results if r["status"] == drop_in.STATUS_FAIL]
    assert failed and all("ValueError: too large" in r["error"] for r in failed)
    assert len(trials.trials) == 20 and best["x"] <= 5


def test_spark_trials_documented_example_matches_hyperopts_best(spark):
    def run(h):
        trials = h.SparkTrials(parallelism=2)
        best = h.fmin(
            fn=square,
            space=h.hp.uniform("x", -1, 1),
            algo=h.tpe.suggest,
            max_evals=8,
            trials=trials,
            rstate=np.random.default_rng(3),
            show_progressbar=False,
        )
        return best, trials

    best, trials = run(drop_in)
    their_best, theirs = run(hyperopt)
    assert set(best) == {"x"} and len(trials.trials) == 8
    losses = trials.losses()
    assert trials.best_trial["result"]["loss"] == min(losses) == pytest.approx(best["x"] ** 2)
    assert trials.argmin == best
    their_loss = theirs.best_trial["result"]["loss"]
    ours = min(losses)
    assert ours < 0.1 and their_loss < 0.1 and abs(ours - their_loss) < 0.1


def test_spark_trials_failures_run_once_and_never_end_the_search(spark, tmp_path):
    calls = tmp_path / "calls.txt"

    def flaky(params):
        with open(calls, "a") as f:
            f.write(f"{params['x']}\n")
        if params["x"] > 0.5:
            raise ValueError(f"x={params['x']} is too large")
        if params["x"] < -0.5:
            return {"status": drop_in.STATUS_FAIL, "why": "too small"}
        if abs(params["x"]) < 0.05:
            return "a string"
        return {"loss": params["x"] ** 2, "status": drop_in.STATUS_OK, "seen": params["x"]}

    trials = drop_in.SparkTrials(parallelism=2)
    best = drop_in.fmin(
        flaky,
        {"x": drop_in.hp.uniform("x", -1, 1)},
        algo=drop_in.rand.suggest,
        max_evals=10,
        trials=trials,
        rstate=np.random.default_rng(5),
        points_to_evaluate=[{"x": 0.9}, {"x": -0.9}, {"x": 0.0}],
        show_progressbar=False,
    )
    assert len(trials.trials) == 10
    assert len(calls.read_text().split()) == 10  # each trial ran once: no Spark task retry
    first, second, third = trials.results[:3]
    assert first["status"] == "fail" and "ValueError: x=0.9 is too large" in first["error"]
    assert second["status"] == "fail" and second["why"] == "too small"
    assert third["status"] == "fail" and "returned 'a string' (str)" in third["error"]
    ok = [r for r in trials.results if r["status"] == "ok"]
    assert ok and all(r["loss"] == pytest.approx(r["seen"] ** 2) for r in ok)
    assert trials.count_failed_trials() == 10 - len(ok)
    assert best == trials.argmin and -0.5 <= best["x"] <= 0.5


def test_spark_trials_choice_index_and_return_argmin_false(spark):
    space = {"k": drop_in.hp.choice("k", ["a", "b"]), "x": drop_in.hp.uniform("x", 0, 1)}

    def fn(p):
        return p["x"] + (0 if p["k"] == "b" else 1)

    kwargs = dict(algo=drop_in.tpe.suggest, max_evals=6, show_progressbar=False)
    rstate = np.random.default_rng(11)
    best = drop_in.fmin(fn, space, trials=drop_in.SparkTrials(2), rstate=rstate, **kwargs)
    rstate = np.random.default_rng(11)
    values = drop_in.fmin(
        fn, space, trials=drop_in.SparkTrials(2), rstate=rstate, return_argmin=False, **kwargs
    )
    assert best["k"] in (0, 1)
    assert values["k"] == ["a", "b"][best["k"]]
    assert values == drop_in.space_eval(space, best)


def test_spark_trials_stops_early(spark):
    space = drop_in.hp.uniform("x", -1, 1)
    by_threshold = drop_in.SparkTrials(parallelism=1)
    drop_in.fmin(
        square,
        space,
        algo=drop_in.tpe.suggest,
        max_evals=20,
        trials=by_threshold,
        loss_threshold=0.01,
        points_to_evaluate=[{"x": 0.0}],
        show_progressbar=False,
    )
    assert len(by_threshold.trials) == 1 and by_threshold.fmin_stop_reason == "loss_threshold"

    def constant(x):
        return 1.0

    no_progress = drop_in.SparkTrials(parallelism=1)
    drop_in.fmin(
        constant,
        space,
        algo=drop_in.tpe.suggest,
        max_evals=20,
        trials=no_progress,
        early_stop_fn=drop_in.no_progress_loss(3),
        show_progressbar=False,
    )
    theirs = hyperopt.Trials()
    hyperopt.fmin(
        constant,
        space,
        algo=hyperopt.tpe.suggest,
        max_evals=20,
        trials=theirs,
        early_stop_fn=hyperopt.early_stop.no_progress_loss(3),
        show_progressbar=False,
    )
    assert len(no_progress.trials) == len(theirs.trials) < 20
    assert no_progress.fmin_stop_reason == "early_stop_fn"


def test_spark_trials_timeout(spark):
    def slow(x):
        time.sleep(300 if x > 0 else 0)
        return x**2

    trials = drop_in.SparkTrials(parallelism=2, timeout=25)
    started = time.time()
    best = drop_in.fmin(
        slow,
        drop_in.hp.uniform("x", -1, 1),
        algo=drop_in.rand.suggest,
        max_evals=2,
        trials=trials,
        points_to_evaluate=[{"x": -0.5}, {"x": 0.5}],
        show_progressbar=False,
    )
    assert time.time() - started < 120
    assert trials.fmin_stop_reason == "timeout"
    assert best == {"x": -0.5}
    assert trials.count_cancelled_trials() == 1 and trials.count_successful_trials() == 1
    assert math.isclose(trials.best_trial["result"]["loss"], 0.25)


def test_spark_trials_refuses_what_cannot_ship(spark):
    lock = threading.Lock()

    def locked(x):
        with lock:
            return x

    with pytest.raises(ValidationError, match="'lock'.*placement='driver'"):
        drop_in.fmin(
            locked, drop_in.hp.uniform("x", 0, 1), max_evals=2, trials=drop_in.SparkTrials()
        )


def test_spark_trials_extend_a_finished_search_as_hyperopts_do(spark):
    space = drop_in.hp.uniform("x", -1, 1)
    trials = drop_in.SparkTrials(parallelism=2)
    kwargs = dict(algo=drop_in.tpe.suggest, trials=trials, show_progressbar=False)
    drop_in.fmin(square, space, max_evals=4, rstate=np.random.default_rng(1), **kwargs)
    kept = [(doc["tid"], doc["misc"]["vals"]["x"][0], doc["result"]["loss"]) for doc in trials]
    best = drop_in.fmin(square, space, max_evals=7, rstate=np.random.default_rng(2), **kwargs)
    theirs = hyperopt.Trials()  # hyperopt's own count: max_evals is the total
    for evals in (4, 7):
        hyperopt.fmin(square, space, hyperopt.tpe.suggest, evals, trials=theirs,
                      show_progressbar=False)  # fmt: skip
    assert len(trials.trials) == len(theirs.trials) == 7
    docs = trials.trials
    assert [(d["tid"], d["misc"]["vals"]["x"][0], d["result"]["loss"]) for d in docs[:4]] == kept
    assert [d["tid"] for d in docs] == list(range(7))
    assert len({d["misc"]["vals"]["x"][0] for d in docs}) == 7  # kept points not asked again
    assert best == trials.argmin and trials.best_trial["result"]["loss"] == min(trials.losses())

    again = drop_in.fmin(square, space, max_evals=7, **kwargs)
    assert again == best and len(trials.trials) == 7 and trials.fmin_stop_reason == "max_trials"
    with pytest.raises(ValidationError, match=r"another space \(labels \['x'\]"):
        drop_in.fmin(square, drop_in.hp.uniform("y", -1, 1), max_evals=9, **kwargs)

    docs[6].update(state=JOB_STATE_RUNNING, result={"status": "new"})  # an interrupted fmin
    drop_in.fmin(square, space, max_evals=8, **kwargs)
    assert len(trials.trials) == 8 and trials.count_cancelled_trials() == 1
    assert "ended before it finished" in trials.results[6]["error"]
    drop_in.fmin(square, space, max_evals=20, loss_threshold=1.0, **kwargs)  # reached already
    assert len(trials.trials) == 8 and trials.fmin_stop_reason == "loss_threshold"
