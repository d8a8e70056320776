"""Strategies on the engine's ask/tell protocol: grid, random and TPE (hyperopt driven directly).

These tests tell the strategies finished trials computed from a plain function of the
params, so what the strategy does with each result is visible without fitting anything.
They check sparktune's side of the wiring (what is asked, what is told, what is kept),
not how well hyperopt's algorithms optimize.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hyperopt import STATUS_FAIL, STATUS_OK, STATUS_RUNNING, hp
from hyperopt.base import JOB_STATE_DONE, JOB_STATE_RUNNING
from pyspark.ml import Pipeline
from pyspark.ml.param.shared import HasMaxIter
from pyspark.ml.regression import LinearRegression

from sparktune import ValidationError
from sparktune.core.trial import FoldResult, Rung, Trial, TrialState
from sparktune.search import GridSearch, RandomSearch, TPESearch, make_strategy
from sparktune.search.describe import describe_space
from sparktune.search.space import resolve
from sparktune.search.tpe import N_STARTUP_JOBS


@pytest.fixture
def lr(spark):
    return LinearRegression(featuresCol="features", labelCol="price")


@pytest.fixture
def space(lr):
    return resolve(
        Pipeline(stages=[lr]),
        {
            "LinearRegression.regParam": hp.uniform("reg", 0.0, 4.0),
            "LinearRegression.maxIter": hp.quniform("iters", 1, 50, 1),
            "LinearRegression.elasticNetParam": [0.0, 0.5, 1.0],
        },
    )


def loss(params):
    """A bowl with its minimum at regParam 1, maxIter 30, elasticNetParam 0.5."""
    return (
        (params["LinearRegression.regParam"] - 1.0) ** 2
        + ((params["LinearRegression.maxIter"] - 30) / 10) ** 2
        + (params.get("LinearRegression.elasticNetParam", 0.5) - 0.5) ** 2
    )


def reg(params):
    return params["LinearRegression.regParam"]


def finished(number, candidate, value=None, error=None):
    if error is not None:
        return Trial(number, candidate, TrialState.FAILED, (), "rmse", error=error)
    return Trial(
        number, candidate, TrialState.COMPLETE, (FoldResult(0, {"rmse": value}, {}, 0.0),), "rmse"
    )


def run_serially(strategy, trials, loss=loss):
    """Ask and tell ``trials`` times (fewer if the strategy runs out); the asked params."""
    asked = []
    for number in range(trials):
        candidate = strategy.ask()
        if candidate is None:
            break
        asked.append(dict(candidate.params))
        strategy.tell(finished(number, candidate, loss(candidate.params)))
    return asked


@pytest.mark.parametrize("strategy", [TPESearch, RandomSearch])
def test_same_seed_same_trials(space, strategy):
    first = run_serially(strategy(space, seed=5), 15)
    assert run_serially(strategy(space, seed=5), 15) == first
    assert run_serially(strategy(space, seed=6), 15) != first


def test_tpe_startup_asks_are_the_random_search_draws_of_its_seed(space):
    tpe = run_serially(TPESearch(space, seed=2), N_STARTUP_JOBS + 1, loss=reg)
    mirrored = run_serially(TPESearch(space, seed=2), N_STARTUP_JOBS + 1, loss=lambda p: -reg(p))
    random = run_serially(RandomSearch(space, seed=2), N_STARTUP_JOBS + 1, loss=reg)
    assert N_STARTUP_JOBS == 10
    assert tpe[:N_STARTUP_JOBS] == mirrored[:N_STARTUP_JOBS] == random[:N_STARTUP_JOBS]
    assert tpe[N_STARTUP_JOBS] != mirrored[N_STARTUP_JOBS]  # from here on, results count


def test_tpe_proposals_follow_the_told_results(space):
    """Told results favouring small regParam, TPE asks there; mirrored, it asks at the top."""

    def guided(search, told):
        return [reg(p) for p in run_serially(search, 30, loss=told)[N_STARTUP_JOBS:]]

    low = guided(TPESearch(space, seed=2), reg)
    high = guided(TPESearch(space, seed=2), lambda p: -reg(p))
    # regParam is uniform on [0, 4]: a quarter of random draws fall in [0, 1) or (3, 4].
    assert sum(r < 1.0 for r in low) > len(low) / 2
    assert sum(r > 3.0 for r in high) > len(high) / 2
    # A larger-is-better metric is told as a loss of the opposite sign.
    assert guided(TPESearch(space, seed=2, larger_is_better=True), reg) == high


def test_in_flight_and_failed_trials_are_kept_in_the_history(space):
    search = TPESearch(space, seed=1, n_startup_jobs=2)
    a, b = search.ask(), search.ask()
    docs = search.hyperopt_trials.trials
    assert [d["state"] for d in docs] == [JOB_STATE_RUNNING, JOB_STATE_RUNNING]
    assert [d["result"]["status"] for d in docs] == [STATUS_RUNNING, STATUS_RUNNING]
    search.tell(finished(0, a, error="fold 0: IllegalArgumentException: bad combination"))
    search.tell(finished(1, b, 12.5))
    docs = search.hyperopt_trials.trials
    assert [d["state"] for d in docs] == [JOB_STATE_DONE, JOB_STATE_DONE]
    assert docs[0]["result"]["status"] == STATUS_FAIL
    assert "bad combination" in docs[0]["result"]["error"]
    assert docs[1]["result"] == {"status": STATUS_OK, "loss": 12.5, "trial": 1, "state": "complete"}
    c = search.ask()
    assert c is not None and len(search.hyperopt_trials.trials) == 3
    assert search.hyperopt_trials.trials[2]["misc"]["vals"]["reg"][0] == pytest.approx(
        c.params["LinearRegression.regParam"]
    )


def rung_results(number, candidate, values, budgets=(1.0, 3.0), state=None):
    """The snapshot a scheduler tells after a trial's ``len(values)``-th rung."""
    rungs = tuple(Rung(i, budgets[i], v) for i, v in enumerate(values))
    state = state or (TrialState.PAUSED if len(values) < len(budgets) else TrialState.COMPLETE)
    folds = (FoldResult(0, {"rmse": values[-1]}, {}, 0.0),)
    return Trial(number, candidate, state, folds, "rmse", rungs=rungs)


def iters(params):
    return params["LinearRegression.maxIter"]


@pytest.mark.parametrize("promote", [True, False])
def test_under_a_scheduler_tpe_learns_from_the_largest_budget_each_trial_reached(space, promote):
    """The first budget shows only maxIter (small is good); the third of the trials promoted
    to the second show that large regParam is good. TPE learns it from them; told only
    first rungs, it asks regParam at random. Each document keeps its first rung's loss."""
    search = TPESearch(space, seed=5)
    for number in range(30):
        candidate = search.ask()
        first = iters(candidate.params) / 50
        search.tell(rung_results(number, candidate, [first]))
        if promote and iters(candidate.params) <= 17:
            search.tell(rung_results(number, candidate, [first, -reg(candidate.params)]))
    docs = search.hyperopt_trials.trials
    high = sum(d["misc"]["vals"]["reg"][0] > 3.0 for d in docs[N_STARTUP_JOBS:])
    # regParam is uniform on [0, 4]: a quarter of random draws fall in (3, 4].
    assert high > 10 if promote else high < 5
    assert [d["result"]["loss"] for d in docs] == [d["misc"]["vals"]["iters"][0] / 50 for d in docs]


def test_a_trial_that_fails_on_a_larger_budget_ranks_last_and_keeps_its_first_result(space):
    search = TPESearch(space, seed=0)
    a, b = search.ask(), search.ask()
    search.tell(rung_results(0, a, [1.0]))
    search.tell(rung_results(1, b, [2.0]))
    assert [search.standing(t) for t in search.latest.values()] == [(-1.0, 1.0), (-1.0, 2.0)]
    search.tell(replace(rung_results(0, a, [1.0]), state=TrialState.FAILED, error="fold 0: OOM"))
    assert search.standing(search.latest[0]) is None
    restored = replace(b, tid=None)  # from a checkpoint: known by its trial number only
    search.tell(rung_results(7, restored, [4.0]))
    search.tell(rung_results(7, restored, [4.0, 0.5]))
    assert len(search.hyperopt_trials.trials) == 3
    assert search.standing(search.latest[2]) == (-3.0, 0.5)
    assert [d["result"]["loss"] for d in search.hyperopt_trials.trials] == [1.0, 2.0, 4.0]


def test_loss_sign_follows_the_evaluator_direction(space):
    search = TPESearch(space, larger_is_better=True)
    candidate = search.ask()
    search.tell(finished(0, candidate, 0.8))
    assert search.hyperopt_trials.trials[0]["result"]["loss"] == -0.8


@pytest.fixture
def small_space(lr):
    return resolve(
        lr,
        {
            "LinearRegression.maxIter": hp.quniform("iters", 1, 3, 1),
            "LinearRegression.regParam": [0.0, 1.0],
        },
    )


@pytest.mark.parametrize("strategy", [TPESearch, RandomSearch])
def test_distinct_params_until_a_small_space_is_exhausted(small_space, strategy):
    asked = run_serially(strategy(small_space, seed=0), 20)
    keys = {tuple(sorted(p.items())) for p in asked}
    assert len(asked) == len(keys) == 6


@pytest.mark.parametrize(
    "make",
    [lambda space: TPESearch(space, n_startup_jobs=1), RandomSearch],
    ids=["tpe", "random"],
)
def test_in_flight_candidates_are_not_asked_again(small_space, make):
    search = make(small_space)
    in_flight = [search.ask() for _ in range(6)]
    assert len({tuple(sorted(c.params.items())) for c in in_flight}) == 6
    assert search.ask() is None
    assert [c.tid for c in in_flight] == list(range(6))
    assert all(small_space.candidate(c.assignment).params == c.params for c in in_flight)


def test_a_failed_candidate_is_not_asked_again(small_space):
    search = TPESearch(small_space, seed=0, n_startup_jobs=1)
    failed = search.ask()
    search.tell(finished(0, failed, error="fold 0: IllegalArgumentException"))
    asked = run_serially(search, 20)
    assert len(asked) == 5 and dict(failed.params) not in asked


def test_a_finite_space_is_enumerated_when_proposals_repeat(lr):
    space = resolve(
        lr, {"LinearRegression.maxIter": [1, 2, 3], "LinearRegression.regParam": [0.0, 1.0]}
    )
    asked = run_serially(TPESearch(space, seed=3, n_startup_jobs=1), 20)
    assert sorted(
        (p["LinearRegression.maxIter"], p["LinearRegression.regParam"]) for p in asked
    ) == [(i, r) for i in (1, 2, 3) for r in (0.0, 1.0)]


def test_random_search_does_not_depend_on_results(space):
    told = run_serially(RandomSearch(space, seed=9), 6)
    untold = RandomSearch(space, seed=9)
    assert [dict(untold.ask().params) for _ in range(6)] == told


def test_points_to_evaluate_come_first(space):
    points = [
        {
            "LinearRegression.regParam": 1.0,
            "LinearRegression.maxIter": 30,
            "LinearRegression.elasticNetParam": 0.5,
        },
        {
            "LinearRegression.regParam": 0.0,
            "LinearRegression.maxIter": 5,
            "LinearRegression.elasticNetParam": 1.0,
        },
    ]
    search = TPESearch(space, points_to_evaluate=points)
    assert [dict(search.ask().params) for _ in range(2)] == points
    assert search.hyperopt_trials.trials[0]["misc"]["vals"]["LinearRegression.elasticNetParam"] == [
        1
    ]
    with pytest.raises(ValidationError, match="not in the space"):
        TPESearch(space, points_to_evaluate=[{"LinearRegression.regParam": 1.0}])


def test_grid_asks_points_first_and_each_candidate_once(lr):
    space = resolve(lr, {"LinearRegression.regParam": [0.0, 1.0], "LinearRegression.maxIter": [5]})
    grid = GridSearch(
        space,
        points_to_evaluate=[{"LinearRegression.regParam": 1.0, "LinearRegression.maxIter": 5}],
    )
    asked = []
    while (candidate := grid.ask()) is not None:
        asked.append(candidate.params["LinearRegression.regParam"])
    assert asked == [1.0, 0.0]
    assert grid.size == 2


def test_unknown_strategy_names_the_choices(space):
    with pytest.raises(
        ValidationError, match=r"\['grid', 'random', 'tpe', 'optuna-tpe', 'cmaes', 'qmc'\]"
    ):
        make_strategy("bayes", space)


class Stage(HasMaxIter):
    """A Params object built without Spark."""


def test_describe_space_renders_one_line_without_spark():
    stage = Stage()
    space = {
        "lr.regParam": hp.loguniform("reg", -5, 0),
        stage.maxIter: hp.quniform("iters", 1, 50, 1),
        "lr.elasticNetParam": [0.0, 1],
        "estimator": hp.choice("model", [{"estimator": stage}]),
    }
    assert describe_space(space) == (
        "{'lr.regParam': loguniform(-5, 0), "
        f"'{stage.uid}.maxIter': quniform(1, 50, 1), "
        "'lr.elasticNetParam': [0.0, 1], "
        f"'estimator': choice({{'estimator': 'Stage({stage.uid})'}})}}"
    )
