"""One group's search without Spark: ``search_group`` runs the engine on a pandas frame.

What a group's task runs is called here directly on the driver (no session): the engine's
stoppers, scheduler, failure policy and strategies, and the per-group checkpoint file.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace

import numpy as np
import optuna
import pandas as pd
import pytest
from hyperopt import hp
from local_estimators import SlowMean

from sparktune import ASHA
from sparktune.lifecycle.groups import GroupSearch, search_group
from sparktune.spark.local_fit import resolve_scorer
from sparktune.spark.resources import resolve_sklearn_scheduler
from sparktune.tracking.group_store import GroupStore

SHIFTS = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"g": 7, "x": rng.normal(size=60), "y": rng.normal(size=60)})


def group(**changes):
    search = GroupSearch(
        group_by=("g",), estimator=SlowMean(), space={"shift": SHIFTS},
        scorer=resolve_scorer("neg_mean_squared_error"), label="y", features=("x",),
        strategy="grid", max_trials=len(SHIFTS), num_folds=2, seed=0, max_group_rows=10**6,
    )  # fmt: skip
    return replace(search, **changes)


def result(search, rows):
    out = search_group(search, rows).iloc[0].to_dict()
    return out, pd.DataFrame(json.loads(out.pop("trials")))


def test_a_group_has_tunes_per_trial_columns(rows):
    out, trials = result(group(), rows)
    assert out["state"] == "complete" and out["n_trials"] == len(SHIFTS)
    assert out["stop_reason"] in ("exhausted", "max_trials")
    assert json.loads(out["best_params"]) == {"shift": 0.0}
    assert list(trials["param_shift"]) == SHIFTS
    metric = "mean_val_neg_mean_squared_error"
    assert {"trial", "state", metric, "split1_val_neg_mean_squared_error", "rank"} <= set(trials)
    assert trials.loc[trials["rank"] == 1, "param_shift"].item() == 0.0
    assert out["best_metric"] == pytest.approx(trials[metric].max())


def test_group_timeout_cuts_its_search(rows):
    space = {"shift": hp.uniform("shift", 0, 5)}
    slow = group(estimator=SlowMean(sleep=0.1), space=space, strategy="random", max_trials=500)
    out, trials = result(replace(slow, timeout=0.6), rows)
    assert out["stop_reason"] == "timeout" and out["state"] == "complete"
    assert 0 < out["n_trials"] < 500 and len(trials) == out["n_trials"]


def test_a_group_after_the_runs_deadline_is_skipped(rows):
    out, trials = result(group(deadline=time.time() - 1), rows)
    assert (out["state"], out["stop_reason"], out["n_trials"]) == ("skipped", "timeout", 0)
    assert "timeout" in out["error"] and trials.empty


def test_early_stopping_per_group(rows):
    out, _ = result(group(early_stopping=2), rows)
    assert out["stop_reason"] == "early_stopping" and out["n_trials"] == 3


def test_error_policy_per_group(rows):
    space = {"fail": [True, False], "shift": [0.0, 1.0]}
    out, trials = result(group(space=space, max_trials=4), rows)
    assert out["state"] == "complete"
    assert sorted(trials["state"]) == ["complete", "complete", "failed", "failed"]
    assert trials.loc[trials["state"] == "failed", "error"].str.contains("asked to fail").all()
    out, trials = result(group(space=space, max_trials=4, error_policy="raise"), rows)
    assert out["state"] == "failed" and out["stop_reason"] == "failed"
    assert "asked to fail" in out["error"] and list(trials["state"]).count("failed") == 1
    assert trials["state"].iloc[-1] == "failed" and out["n_trials"] == len(trials)


def test_a_scheduler_per_group_prunes_on_fewer_rows(rows):
    scheduler, resource = resolve_sklearn_scheduler(ASHA(resource="rows"), SlowMean(), ["shift"])
    shifts = [float(s) for s in range(9)]
    search = group(space={"shift": shifts}, max_trials=9, scheduler=scheduler, resource=resource)
    out, trials = result(search, rows)
    assert out["state"] == "complete" and json.loads(out["best_params"]) == {"shift": 0.0}
    assert "pruned" in set(trials["state"]) and "complete" in set(trials["state"])
    assert {"rung", "rung0_resource", "rung0_val_neg_mean_squared_error"} <= set(trials)
    top = trials.loc[trials["state"] == "complete", "resource"]
    assert (top == 1.0).all() and trials["rung0_resource"].min() < 1.0


def test_an_optuna_sampler_is_each_groups_own(rows):
    space = {"shift": hp.uniform("shift", 0, 5)}
    search = group(space=space, strategy=optuna.samplers.RandomSampler(seed=3), max_trials=4)
    first, trials = result(search, rows)
    second, _ = result(search, rows)  # the same sampler state, so the same points
    assert first["state"] == "complete" and len(trials) == 4
    assert first["best_params"] == second["best_params"]


def test_a_kept_group_is_not_searched_again(rows, tmp_path):
    search = group(checkpoint=str(tmp_path))
    first, trials = result(search, rows)
    assert GroupStore(tmp_path).finished() == 1
    failing = replace(search, estimator=SlowMean(fail=True))  # would fail if it ran
    again, kept = result(failing, rows)
    assert again["state"] == "complete" and again["best_params"] == first["best_params"]
    assert again["elapsed"] == first["elapsed"] and kept.equals(trials)


def test_racing_over_folds_per_group(rows):
    from sparktune import Racing

    search = group(scheduler=Racing(burn_in=2), num_folds=4)
    out, trials = result(search, rows)
    assert out["state"] == "complete" and json.loads(out["best_params"]) == {"shift": 0.0}
    assert set(trials["state"]) <= {"complete", "pruned"}
