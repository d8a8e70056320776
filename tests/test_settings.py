"""SearchSettings, without Spark: the split described once, limits checked once, and what
the tracker and the checkpoint derive from it."""

from __future__ import annotations

import pytest

from sparktune import ValidationError
from sparktune.core.settings import (
    DEFAULT_FOLDS,
    Budget,
    Checkpointing,
    ErrorPolicy,
    SearchSettings,
    Split,
)
from sparktune.core.stopping import EarlyStopping, MaxTrials, Timeout
from sparktune.frontends.common import unpacked


def settings(**changes) -> SearchSettings:
    base = dict(entry_point="tune", strategy="tpe", metrics=("rmse", "mae"), larger_is_better=False)
    return SearchSettings(**{**base, **changes})


@pytest.mark.parametrize(
    ("arguments", "split", "described"),
    [
        ({}, Split("kfold", DEFAULT_FOLDS), "kfold"),
        ({"num_folds": 5, "fold_col": "f"}, Split("kfold", 5, fold_col="f"), "foldCol=f"),
        ({"train_ratio": 0.8}, Split("train_ratio", 1, train_ratio=0.8), "train_ratio=0.8"),
        ({"validation_data": True}, Split("validation_data", 1), "validation_data"),
    ],
)
def test_split_of_tune_arguments(arguments, split, described):
    assert Split.of(**arguments) == split
    assert split.describe() == described


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"num_folds": 3, "train_ratio": 0.5}, "Give one of num_folds, train_ratio"),
        ({"train_ratio": 0.5, "fold_col": "f"}, "cannot be used with train_ratio"),
    ],
)
def test_split_refuses_two_ways_to_split(arguments, message):
    with pytest.raises(ValidationError, match=message):
        Split.of(**arguments)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"strategy": "bayes"}, "strategy must be one of"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"parallelism": 0}, "parallelism must be a positive integer"),
        ({"max_trials": -1}, "max_trials must be a positive integer"),
        ({"timeout": 0}, "timeout must be positive seconds"),
        ({"early_stopping": 0}, "early_stopping must be >= 1"),
        ({"error_policy": "ignore"}, "error_policy must be one of"),
    ],
)
def test_settings_refuse_bad_limits(changes, message):
    with pytest.raises(ValidationError, match=message):
        settings(**changes)


def test_stoppers_follow_the_limits_and_are_fresh_each_time():
    configured = settings(max_trials=8, timeout=60, early_stopping=4)
    first = configured.stoppers()
    assert [type(s) for s in first] == [MaxTrials, Timeout, EarlyStopping]
    first[2].update(completed=True, improved=False)
    assert configured.stoppers()[2].since_best == 0
    assert settings().stoppers() == []


def test_tracker_params_and_checkpoint_identity_come_from_one_description():
    configured = settings(
        split=Split("kfold", 4, fold_col="fold"), seed=7, error_policy="raise", params=("b", "a")
    )
    assert configured.error_policy is ErrorPolicy.RAISE
    described = configured.described()
    assert described["split"] == "foldCol=fold" and described["folds"] == 4
    assert (described["metric"], described["error_policy"]) == ("rmse", "raise")
    identity = configured.identity()
    assert identity["split"] == ["kfold", 4, None, "fold"]
    assert identity["params"] == ["a", "b"] and identity["metrics"] == ["rmse", "mae"]
    assert settings(seed=8).identity() != settings(seed=7).identity()


def test_settings_objects_stand_for_the_flat_keywords():
    arguments = dict(num_folds=None, train_ratio=None, fold_col=None, max_trials=None,
                     timeout=None, early_stopping=None, checkpoint=None, resume=False)  # fmt: skip
    given = dict(
        arguments, split=Split(train_ratio=0.8), budget=Budget(max_trials=5, timeout=60),
        checkpoint=Checkpointing("c.json", resume=True),
    )  # fmt: skip
    flat = unpacked(given, "tune")
    assert "split" not in flat and "budget" not in flat
    assert (flat["train_ratio"], flat["num_folds"], flat["max_trials"]) == (0.8, None, 5)
    assert (flat["timeout"], flat["early_stopping"]) == (60, None)
    assert (flat["checkpoint"], flat["resume"]) == ("c.json", True)
    folds = unpacked(dict(arguments, split=Split(num_folds=5, fold_col="f")), "tune")
    assert (folds["num_folds"], folds["fold_col"], folds["train_ratio"]) == (5, "f", None)
    assert Split(train_ratio=0.8) == Split.of(train_ratio=0.8)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda a: unpacked({**a, "num_folds": 4, "split": Split(num_folds=5)}, "tune"),
         "Give split=Split(...) or num_folds=, not both"),
        (lambda a: unpacked({**a, "max_trials": 4, "budget": Budget(max_trials=5)}, "tune"),
         "Give budget=Budget(...) or max_trials=, not both"),
        (lambda a: unpacked({"split": Split(fold_col="f"), "num_folds": None}, "tune_groups"),
         "tune_groups does not take split.fold_col ('f')"),
        (lambda a: unpacked({**a, "split": {"num_folds": 5}}, "tune"),
         "split must be a sparktune.Split, got dict"),
        (lambda a: unpacked({**a, "checkpoint": Checkpointing("c"), "resume": True}, "tune"),
         "or resume=True, not both"),
        (lambda a: Split(num_folds=5, train_ratio=0.8), "not both"),
        (lambda a: Budget(timeout=-1), "timeout must be positive seconds"),
        (lambda a: Budget(max_trials=0), "max_trials must be a positive integer"),
        (lambda a: Checkpointing(""), "Checkpointing path must be a path"),
    ],
)  # fmt: skip
def test_settings_objects_refuse_conflicts_and_bad_values(make, message):
    arguments = dict(num_folds=None, train_ratio=None, fold_col=None, max_trials=None,
                     checkpoint=None, resume=False)  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        make(arguments)
    assert message in str(caught.value)
