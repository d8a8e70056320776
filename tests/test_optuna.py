"""Optuna samplers as strategies, without Spark: conversion, ask/tell, failures, resume.

pyspark's own estimators need a running JVM to be built, so these spaces are resolved
against :class:`Toy`, a pure-Python pyspark ``Estimator`` with pyspark's shared Params (the
same Param objects and type converters as LinearRegression's). The strategies are told
finished trials computed from a plain function of the params, as in ``test_search.py``.
"""

from __future__ import annotations

import math
from dataclasses import replace

import optuna
import pytest
from hyperopt import hp
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState as StudyState
from pyspark.ml import Estimator
from pyspark.ml.param.shared import (
    HasElasticNetParam,
    HasMaxIter,
    HasRegParam,
    HasSeed,
    HasStepSize,
    HasTol,
)

from sparktune import ValidationError
from sparktune.core.settings import STRATEGIES, SearchSettings
from sparktune.core.trial import FoldResult, Rung, Trial, TrialState
from sparktune.search import OptunaSearch, make_strategy, strategy_name
from sparktune.search.optuna import SAMPLERS
from sparktune.search.space import resolve


class Toy(Estimator, HasRegParam, HasMaxIter, HasElasticNetParam, HasTol, HasSeed, HasStepSize):
    """An Estimator built without Spark (never fitted here)."""

    def _fit(self, dataset):
        raise NotImplementedError


@pytest.fixture
def space():
    return resolve(
        Toy(),
        {
            "Toy.regParam": hp.uniform("reg", 0.0, 4.0),
            "Toy.maxIter": hp.quniform("iters", 1, 50, 1),
            "Toy.elasticNetParam": [0.0, 0.5, 1.0],
        },
    )


@pytest.fixture
def small_space():
    """Six points, though hyperopt counts quniform as continuous (no enumeration)."""
    return resolve(
        Toy(), {"Toy.maxIter": hp.quniform("iters", 1, 3, 1), "Toy.regParam": [0.0, 1.0]}
    )


def reg(params):
    return params["Toy.regParam"]


def finished(number, candidate, value=None, error=None, state=TrialState.COMPLETE):
    if error is not None:
        return Trial(number, candidate, TrialState.FAILED, (), "rmse", error=error)
    if state is TrialState.CANCELLED:
        return Trial(number, candidate, state, (), "rmse", error="cancelled")
    return Trial(number, candidate, state, (FoldResult(0, {"rmse": value}, {}, 0.0),), "rmse")


def run_serially(strategy, trials, loss=reg, start=0):
    """Ask and tell ``trials`` times (fewer if the strategy runs out); the asked candidates."""
    asked = []
    for number in range(start, start + trials):
        candidate = strategy.ask()
        if candidate is None:
            break
        asked.append(candidate)
        strategy.tell(finished(number, candidate, loss(candidate.params)))
    return asked


def params(candidates):
    return [dict(c.params) for c in candidates]


def test_each_distribution_kind_converts_and_asks_hyperopt_values():
    toy = Toy()
    space = resolve(
        toy,
        {
            "Toy.regParam": hp.uniform("reg", 0.5, 4.0),
            "Toy.tol": hp.loguniform("tol", -6, -1),
            "Toy.maxIter": hp.quniform("iters", 2, 50, 2),
            "Toy.stepSize": hp.quniform("step", 0.1, 0.5, 0.1),
            "Toy.elasticNetParam": hp.qloguniform("mix", -3, 0, 0.05),
            "Toy.seed": hp.randint("seed", 3, 9),
            "group": hp.choice("kind", [{}, {}, {}]),
        },
    )
    search = OptunaSearch(space, optuna.samplers.RandomSampler(seed=0))
    dims = {label: dim.distribution for label, dim in search.dimensions.items()}
    assert dims == {
        "reg": FloatDistribution(0.5, 4.0),
        "tol": FloatDistribution(math.exp(-6), math.exp(-1), log=True),
        "iters": IntDistribution(2, 50, step=2),
        "step": FloatDistribution(0.1, 0.5, step=0.1),
        "mix": FloatDistribution(math.exp(-3), 1.0, log=True),
        "seed": IntDistribution(3, 8),
        "kind": CategoricalDistribution([0, 1, 2]),
    }
    for candidate in run_serially(search, 30):
        a = candidate.assignment
        assert set(a) == set(dims)
        assert 0.5 <= a["reg"] <= 4.0 and math.exp(-6) <= a["tol"] <= math.exp(-1)
        assert a["iters"] in range(2, 51, 2) and type(a["iters"]) is float
        assert any(math.isclose(a["step"], k * 0.1) for k in range(1, 6))
        assert math.isclose(a["mix"] / 0.05, round(a["mix"] / 0.05))  # hyperopt's rounding
        assert a["seed"] in range(3, 9) and a["kind"] in (0, 1, 2)
        # Candidates are exactly those the hyperopt strategies would build from the assignment.
        assert space.candidate(a).params == candidate.params
        assert type(candidate.params["Toy.maxIter"]) is int


def test_uniformint_and_lists_convert_to_integers_and_option_indexes():
    space = resolve(
        Toy(), {"Toy.maxIter": hp.uniformint("iters", 1, 9), "Toy.regParam": [0.0, 0.1, 1.0]}
    )
    dims = OptunaSearch(space, optuna.samplers.RandomSampler()).dimensions
    assert dims["iters"].distribution == IntDistribution(1, 9)
    assert dims["Toy.regParam"].distribution == CategoricalDistribution([0, 1, 2])


def test_a_conditional_space_suggests_only_the_chosen_branch():
    space = resolve(
        Toy(),
        {
            "Toy.regParam": hp.uniform("reg", 0.0, 1.0),
            "branch": hp.choice(
                "kind",
                [
                    {"Toy.maxIter": hp.quniform("iters", 1, 20, 1)},
                    {"Toy.tol": hp.loguniform("tol", -8, -2), "Toy.seed": hp.randint("seed", 5)},
                ],
            ),
        },
    )
    search = make_strategy("optuna-tpe", space, seed=3)
    asked = run_serially(search, 24)
    labels = {0: {"reg", "kind", "iters"}, 1: {"reg", "kind", "tol", "seed"}}
    names = {0: {"Toy.regParam", "Toy.maxIter"}, 1: {"Toy.regParam", "Toy.tol", "Toy.seed"}}
    for candidate in asked:
        kind = candidate.assignment["kind"]
        assert set(candidate.assignment) == labels[kind]
        assert set(candidate.params) == names[kind]
    assert {c.assignment["kind"] for c in asked} == {0, 1}
    for study_trial, candidate in zip(search.study.trials, asked):
        assert study_trial.params == {
            label: search.dimensions[label].optuna(v) for label, v in candidate.assignment.items()
        }


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (hp.normal("x", 0, 1), "hp.normal"),
        (hp.lognormal("x", 0, 1), "hp.lognormal"),
        (hp.qnormal("x", 0, 10, 1), "hp.qnormal"),
        (hp.qlognormal("x", 0, 1, 1), "hp.qlognormal"),
        (hp.pchoice("x", [(0.9, 0.1), (0.1, 1.0)]), "hp.pchoice"),
    ],
)
@pytest.mark.parametrize("name", SAMPLERS)
def test_distributions_without_an_optuna_equivalent_are_refused(value, kind, name):
    space = resolve(Toy(), {"Toy.regParam": value})
    with pytest.raises(ValidationError, match=rf"{kind}.* 'x' has no Optuna equivalent") as info:
        make_strategy(name, space)
    assert "'tpe' and 'random' take" in str(info.value)
    make_strategy("tpe", space)  # hyperopt's strategies take it


@pytest.mark.parametrize("name", SAMPLERS)
def test_k_in_flight_are_distinct_and_a_small_space_runs_out(small_space, name):
    search = make_strategy(name, small_space, seed=0)
    in_flight = [search.ask() for _ in range(6)]
    assert len({tuple(sorted(c.params.items())) for c in in_flight}) == 6
    assert search.ask() is None
    assert all(small_space.candidate(c.assignment).params == c.params for c in in_flight)
    study = search.study
    assert sum(t.state is StudyState.RUNNING for t in study.trials) >= 6
    for number, candidate in enumerate(in_flight):
        search.tell(finished(number, candidate, float(number)))
    # Repeated proposals were told their twin's result, none is left running.
    assert all(t.state is StudyState.COMPLETE for t in study.trials)
    repeats = [t for t in study.trials if t.user_attrs.get("sparktune_repeat")]
    by_params = {tuple(sorted(t.params.items())): t.value for t in study.trials if t not in repeats}
    assert all(by_params[tuple(sorted(t.params.items()))] == t.value for t in repeats)


@pytest.mark.parametrize("name", ["optuna-tpe", "cmaes"])
def test_told_results_steer_later_asks_and_larger_is_better_mirrors(name):
    # CMA-ES models the float only; it draws the list's option (a categorical) at random.
    space = resolve(
        Toy(), {"Toy.regParam": hp.uniform("reg", 0.0, 4.0), "Toy.elasticNetParam": [0.0, 1.0]}
    )

    def guided(told, larger_is_better=False):
        search = make_strategy(name, space, seed=3, larger_is_better=larger_is_better)
        return [reg(p) for p in params(run_serially(search, 30, loss=told))[10:]]

    low = guided(reg)
    high = guided(lambda p: -reg(p))
    # regParam is uniform on [0, 4], so random draws average 2.
    assert sum(low) / len(low) < 1.5
    assert sum(high) / len(high) > 2.5
    # A larger-is-better metric maximizes the study: the same asks as the mirrored loss.
    assert guided(reg, larger_is_better=True) == high


def test_failed_and_cancelled_trials_are_kept_as_fail(space):
    search = make_strategy("optuna-tpe", space, seed=1)
    a, b, c = search.ask(), search.ask(), search.ask()
    search.tell(finished(0, a, error="fold 0: IllegalArgumentException: bad combination"))
    search.tell(finished(1, b, 12.5))
    search.tell(finished(2, c, state=TrialState.CANCELLED))
    trials = search.study.trials
    assert [t.state for t in trials] == [StudyState.FAIL, StudyState.COMPLETE, StudyState.FAIL]
    assert [t.user_attrs["sparktune_state"] for t in trials] == ["failed", "complete", "cancelled"]
    assert [t.user_attrs["sparktune_trial"] for t in trials] == [0, 1, 2]
    assert trials[1].value == 12.5
    # Their params are not asked again.
    asked = params(run_serially(search, 20, start=3))
    assert not any(p in asked for p in params([a, b, c]))


@pytest.mark.parametrize("name", SAMPLERS)
def test_same_seed_same_asks(space, name):
    first = params(run_serially(make_strategy(name, space, seed=5), 15))
    assert params(run_serially(make_strategy(name, space, seed=5), 15)) == first
    assert params(run_serially(make_strategy(name, space, seed=6), 15)) != first


def test_resume_adds_restored_trials_and_does_not_ask_them_again(space):
    earlier = make_strategy("optuna-tpe", space, seed=4)
    done = run_serially(earlier, 12)
    # As a checkpoint restores them: candidates rebuilt from their assignments, no tid.
    restored = [
        finished(n, space.candidate(c.assignment), reg(c.params)) for n, c in enumerate(done)
    ]
    restored[3] = finished(3, restored[3].candidate, error="fold 1: boom")
    resumed = make_strategy("optuna-tpe", space, seed=4)
    for trial in restored:
        resumed.tell(trial)
    study = resumed.study
    assert [t.state for t in study.trials].count(StudyState.COMPLETE) == 11
    assert study.trials[3].state is StudyState.FAIL
    assert study.best_value == min(reg(c.params) for i, c in enumerate(done) if i != 3)
    more = run_serially(resumed, 10, start=12)
    assert [c.tid for c in more] == list(range(12, 22))
    assert not any(p in params(done) for p in params(more))
    # Past the startup trials, the told history steers: most asks have a small regParam.
    assert sum(reg(p) < 1.0 for p in params(more)) > len(more) / 2


def test_a_repeated_point_waits_for_its_twin_and_is_never_asked_twice(space):
    point = {"Toy.regParam": 1.0, "Toy.maxIter": 30, "Toy.elasticNetParam": 0.5}
    search = make_strategy("optuna-tpe", space, points_to_evaluate=[point, point])
    first = search.ask()
    assert dict(first.params) == point
    assert dict(search.ask().params) != point  # the second copy is a repeat, not asked

    def repeats():
        return [t for t in search.study.trials if t.user_attrs.get("sparktune_repeat")]

    assert [t.state for t in repeats()] == [StudyState.RUNNING]  # waits for the first
    search.tell(finished(0, first, 3.5))
    assert [t.value for t in repeats()] == [3.5]
    # A repeat of a told candidate is told its result at once.
    search.study.enqueue_trial(search.study.trials[first.tid].params)
    assert dict(search.ask().params) != point
    assert [t.value for t in repeats()] == [3.5, 3.5]


def test_a_trial_told_again_after_a_later_rung_keeps_its_first_value(space):
    search = make_strategy("optuna-tpe", space)
    candidate = search.ask()
    first = Rung(0, 1.0, 7.0)
    search.tell(replace(finished(0, candidate, 7.0, state=TrialState.PAUSED), rungs=(first,)))
    later = replace(finished(0, candidate, 2.0), rungs=(first, Rung(1, 3.0, 2.0)))
    search.tell(later)
    assert [(t.state, t.value) for t in search.study.trials] == [(StudyState.COMPLETE, 7.0)]


def test_a_sampler_instance_is_a_strategy(space):
    sampler = optuna.samplers.RandomSampler(seed=3)
    name = strategy_name(sampler)
    assert name == "optuna:RandomSampler"
    settings = SearchSettings("tune", name, ("rmse",), False)
    assert settings.identity()["strategy"] == name
    search = make_strategy(sampler, space)
    assert search.study.sampler is sampler
    assert len({tuple(sorted(p.items())) for p in params(run_serially(search, 8))}) == 8
    with pytest.raises(ValidationError, match="BaseSampler or an optuna.Study, got object"):
        strategy_name(object())
    with pytest.raises(ValidationError, match=r"strategy must be one of \['grid'"):
        SearchSettings("tune", "optuna-bayes", ("rmse",), False)


def test_points_to_evaluate_come_first(space):
    points = [
        {"Toy.regParam": 1.0, "Toy.maxIter": 30, "Toy.elasticNetParam": 0.5},
        {"Toy.regParam": 0.0, "Toy.maxIter": 5, "Toy.elasticNetParam": 1.0},
    ]
    search = make_strategy("cmaes", space, points_to_evaluate=points)
    assert [dict(search.ask().params) for _ in range(2)] == points


def test_sampler_names_are_strategies():
    assert set(SAMPLERS) <= set(STRATEGIES)


def test_a_finite_space_is_enumerated_when_proposals_repeat():
    space = resolve(Toy(), {"Toy.maxIter": [1, 2, 3], "Toy.regParam": [0.0, 1.0]})
    search = make_strategy("optuna-tpe", space, seed=3)
    search.retries, search.random_retries = 1, 0  # only the sampler's first, then the rest
    asked = run_serially(search, 20)
    assert sorted((p["Toy.maxIter"], p["Toy.regParam"]) for p in params(asked)) == [
        (i, r) for i in (1, 2, 3) for r in (0.0, 1.0)
    ]


def test_a_study_is_the_search_and_goes_on_across_runs_in_its_storage(space, tmp_path):
    storage = f"sqlite:///{tmp_path / 'studies.db'}"

    def study():
        sampler = optuna.samplers.TPESampler(seed=2, n_startup_trials=4)
        return optuna.create_study(
            storage=storage, study_name="s", sampler=sampler, load_if_exists=True
        )

    first = study()
    assert strategy_name(first) == "optuna:TPESampler@s"
    done = params(run_serially(make_strategy(first, space), 6))
    kept = optuna.load_study(study_name="s", storage=storage).trials
    assert [t.params["reg"] for t in kept] == [p["Toy.regParam"] for p in done]
    assert [t.value for t in kept] == [p["Toy.regParam"] for p in done]
    assert [t.user_attrs["sparktune_trial"] for t in kept] == list(range(6))

    again = make_strategy(study(), space)
    for number, trial in enumerate(kept):  # a checkpoint's trials, the study has them
        point = space.candidate({"reg": trial.params["reg"], "iters": trial.params["iters"],
                                 "Toy.elasticNetParam": trial.params["Toy.elasticNetParam"]})
        again.tell(finished(number, point, trial.value))  # fmt: skip
    more = params(run_serially(again, 6, start=6))
    assert not any(p in done for p in more)  # the stored trials are not asked again
    assert len(optuna.load_study(study_name="s", storage=storage).trials) == 12


def test_a_study_must_have_the_metrics_one_direction(space):
    with pytest.raises(ValidationError, match="is to minimize, but the metric is to maximize"):
        make_strategy(optuna.create_study(), space, larger_is_better=True)
    both = optuna.create_study(directions=["minimize", "maximize"])
    with pytest.raises(ValidationError, match="has 2 objectives"):
        make_strategy(both, space)


def test_what_a_study_holds_is_read_as_its_history(space):
    two = resolve(Toy(), {"Toy.regParam": [0.0, 1.0]})
    study = optuna.create_study()
    first = make_strategy(study, two, points_to_evaluate=[{"Toy.regParam": 0.0}])
    assert study.trials == []  # nothing is written before the first ask
    a, b = first.ask(), first.ask()
    first.tell(finished(0, a, 1.0))
    first.tell(finished(1, b, state=TrialState.CANCELLED))
    assert dict(a.params) == {"Toy.regParam": 0.0}
    # The point given again is not enqueued; the cancelled one is asked again.
    again = make_strategy(study, two, points_to_evaluate=[{"Toy.regParam": 0.0}])
    assert params([again.ask()]) == [dict(b.params)] and again.ask() is None
    # A stored trial without a param the space has since gained is left to the sampler.
    grown = resolve(Toy(), {"Toy.regParam": [0.0, 1.0], "Toy.maxIter": [1, 2]})
    assert make_strategy(study, grown).ask() is not None


def test_a_point_waiting_in_the_study_before_a_drawn_one_is_the_trial_asked(space):
    four = resolve(Toy(), {"Toy.regParam": [0.0, 1.0, 2.0, 3.0]})
    search = make_strategy("optuna-tpe", four, seed=3)
    search.retries, search.random_retries = 1, 0  # the sampler's first, then the points left
    first = search.ask()
    search.tell(finished(0, first, 1.0))
    for _ in range(2):  # as another worker of a shared study: the told point, twice
        search.study.enqueue_trial(search.study.trials[first.tid].params)
    asked = [search.ask() for _ in range(3)]
    for candidate in asked:  # each trial holds the params of the candidate asked with it
        assert search.study.trials[candidate.tid].params == candidate.assignment
    assert len({c.assignment["Toy.regParam"] for c in [first, *asked]}) == 4
