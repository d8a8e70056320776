"""Single-machine (scikit-learn) estimators through ``sparktune.tune``: one Spark task per
(trial x fold), on a real local session."""

from __future__ import annotations

import time

import local_estimators
import numpy as np
import pandas as pd
import pytest
from hyperopt import hp
from local_estimators import SlowMean
from pyspark import cloudpickle
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sparktune
from sparktune import ValidationError

cloudpickle.register_pickle_by_value(local_estimators)


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4))
    y = x @ np.array([1.5, -2.0, 0.5, 0.0]) + rng.normal(scale=0.5, size=120)
    return pd.DataFrame(x, columns=["a", "b", "c", "d"]).assign(y=y)


def quiet(**kwargs):
    return dict(tracking=False, progress=False, **kwargs)


@pytest.mark.compat
def test_grid_equals_gridsearchcv_on_the_same_folds(spark, frame):
    space = {"ridge__alpha": [0.01, 1.0, 30.0], "standardscaler__with_mean": [True, False]}
    pipe = make_pipeline(StandardScaler(), Ridge())
    result = sparktune.tune(
        pipe, space, frame, "neg_mean_squared_error", label="y", strategy="grid",
        num_folds=3, seed=4, parallelism=2, **quiet(),
    )  # fmt: skip
    folds = sparktune.fold_indices(len(frame), 3, seed=4)
    reference = GridSearchCV(pipe, space, scoring="neg_mean_squared_error", cv=folds)
    reference.fit(frame[["a", "b", "c", "d"]], frame["y"])
    ours = {
        (row["param_ridge__alpha"], row["param_standardscaler__with_mean"]): row[
            "mean_val_neg_mean_squared_error"
        ]
        for _, row in result.results.iterrows()
    }
    theirs = {
        (p["ridge__alpha"], p["standardscaler__with_mean"]): s
        for p, s in zip(reference.cv_results_["params"], reference.cv_results_["mean_test_score"])
    }
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, rel=1e-9)
    assert result.larger_is_better and result.metric == "neg_mean_squared_error"
    assert result.best_params == reference.best_params_
    assert result.best_metric == pytest.approx(reference.best_score_, rel=1e-9)
    x = frame[["a", "b", "c", "d"]]
    np.testing.assert_allclose(result.best_model.predict(x), reference.predict(x))
    executors = result.results.filter(like="_executor").stack().unique()
    assert all(e != "driver" for e in executors)  # every fold ran in a Spark task


def test_k_trials_in_flight_as_spark_tasks(spark, frame):
    sc = spark.sparkContext
    before = set(sc.statusTracker().getJobIdsForGroup())
    result = sparktune.tune(
        SlowMean(), {"shift": [0.0, 1.0, 2.0, 3.0], "sleep": [1.5]}, frame, "r2", label="y",
        strategy="grid", train_ratio=0.75, parallelism=2, **quiet(),
    )  # fmt: skip
    assert list(result.results["state"]) == ["complete"] * 4
    spans = list(zip(result.results["split0_started"], result.results["split0_ended"]))
    in_flight = max(sum(s <= start < e for s, e in spans) for start, _ in spans)
    assert in_flight == 2, spans  # two tasks at once, never more than parallelism
    jobs = set(sc.statusTracker().getJobIdsForGroup()) - before
    assert len(jobs) >= 4  # one job (of one task) per trial and fold


def test_failing_candidate_is_recorded_not_fatal(spark, frame):
    result = sparktune.tune(
        SlowMean(), {"fail": [False, True], "shift": [0.0, 0.5]}, frame, "r2", label="y",
        strategy="grid", num_folds=2, parallelism=2, **quiet(),
    )  # fmt: skip
    table = result.results.set_index("trial")
    failed = table[table["param_fail"]]
    assert set(failed["state"]) == {"failed"}
    assert all("SlowMean was asked to fail" in e for e in failed["error"])
    assert set(table[~table["param_fail"]]["state"]) == {"complete"}
    assert result.best_params == {"fail": False, "shift": 0.0}


def test_timeout_cancels_the_running_task(spark, frame):
    started = time.time()
    result = sparktune.tune(
        SlowMean(), {"sleep": [0.0, 60.0]}, frame, "r2", label="y", strategy="grid",
        train_ratio=0.75, timeout=4, **quiet(),
    )  # fmt: skip
    assert time.time() - started < 30
    assert list(result.results["state"]) == ["complete", "cancelled"]
    assert result.stop_reason == "timeout"
    # the cancelled task does not keep an executor slot busy
    active = [s for s in spark.sparkContext.statusTracker().getActiveStageIds()]
    deadline = time.time() + 20
    while active and time.time() < deadline:
        time.sleep(0.5)
        active = spark.sparkContext.statusTracker().getActiveStageIds()
    assert not active


def test_resume_runs_only_the_missing_trials(spark, frame, tmp_path):
    path = tmp_path / "checkpoint.json"
    space = {"alpha": [0.1, 1.0, 10.0, 100.0]}
    args = dict(label="y", strategy="grid", num_folds=2, checkpoint=path, **quiet())
    first = sparktune.tune(Ridge(), space, frame, "r2", max_trials=2, **args)
    assert len(first.trials) == 2
    second = sparktune.tune(Ridge(), space, frame, "r2", resume=True, **args)
    assert [t.number for t in second.trials] == [0, 1, 2, 3]
    assert [t.started for t in second.trials[:2]] == [t.started for t in first.trials]
    assert {t.params["alpha"] for t in second.trials} == set(space["alpha"])


def test_asha_over_an_iteration_param_and_over_rows(spark, frame):
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(early_stopping=False, random_state=0)
    space = {"learning_rate": [0.01, 0.03, 0.1, 0.3, 0.5, 1.0], "max_depth": [2, 4, 6]}
    args = dict(label="y", strategy="grid", num_folds=2, parallelism=2, seed=1, **quiet())
    result = sparktune.tune(
        model, space, frame, "r2", scheduler=sparktune.ASHA(min_resource=2, max_resource=18),
        **args,
    )  # fmt: skip
    trials = result.trials
    assert len(trials) == 18 and all(t.rungs[0].resource == 2 for t in trials)
    assert sum(t.rung >= 1 for t in trials) <= 6 and sum(t.rung >= 2 for t in trials) <= 2
    assert result.best_trial.rungs[-1].resource == 18
    assert result.best_model.get_params()["max_iter"] == 18
    rows = sparktune.tune(
        Ridge(), {"alpha": [0.1, 1.0, 10.0]}, frame, "r2",
        scheduler=sparktune.ASHA("rows", 1 / 3, 1.0), **args,
    )  # fmt: skip
    assert [len(t.rungs) for t in rows.trials].count(2) == 1
    with pytest.raises(ValidationError, match="also in the search space"):
        sparktune.tune(model, {"max_iter": [5, 10]}, frame, "r2",
                       scheduler=sparktune.ASHA(), **args)  # fmt: skip


def test_tpe_and_optuna_search_hyperopt_spaces(spark, frame):
    space = {"alpha": hp.loguniform("alpha", -5, 3), "fit_intercept": [True, False]}
    for strategy in ("tpe", "optuna-tpe"):
        result = sparktune.tune(
            Ridge(), space, spark.createDataFrame(frame), "neg_root_mean_squared_error",
            label="y", strategy=strategy, max_trials=4, num_folds=2, parallelism=2, **quiet(),
        )  # fmt: skip
        assert len(result.trials) == 4 and result.best_metric < 0
        assert isinstance(result.best_model, Ridge)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(estimator=object()), "scikit-learn compatible"),
        (dict(space={"alpah": [1.0]}), "Close matches: ['alpha']"),
        (dict(metric="neg_rmse"), "not a scikit-learn scorer name"),
        (dict(label="price"), "The label column 'price' is not in the data"),
        (dict(label=None), "label= must name the label column"),
        (dict(features=["a", "zz"]), "Feature column(s) ['zz']"),
        (dict(max_collect_rows=50), "more than max_collect_rows=50 rows"),
        (dict(fold_col="y", cache_budget=10), "['fold_col', 'cache_budget'] apply to Spark ML"),
    ],
)
def test_bad_input_is_refused_before_any_task(spark, frame, change, message):
    args = dict(estimator=Ridge(), space={"alpha": [1.0]}, metric="r2", label="y")
    args.update(change)
    data = spark.createDataFrame(frame)
    tracker = spark.sparkContext.statusTracker()
    before = set(tracker.getJobIdsForGroup())
    with pytest.raises(ValidationError) as caught:
        sparktune.tune(
            args.pop("estimator"), args.pop("space"), data, args.pop("metric"), **args, **quiet()
        )
    assert message in str(caught.value)
    jobs = set(tracker.getJobIdsForGroup()) - before
    assert len(jobs) <= (2 if "max_collect_rows" in change else 0)  # only the limit's count


def test_best_model_logged_with_the_sklearn_flavor(spark, frame, tmp_path, monkeypatch):
    import mlflow.sklearn

    from sparktune.tracking import Tracking

    store = f"sqlite:///{tmp_path}/store.db"
    result = sparktune.tune(
        Ridge(), {"alpha": [0.1, 10.0]}, frame, "r2", label="y", strategy="grid",
        num_folds=2, progress=False, tracking=Tracking(store, "local", drain_timeout=60),
    )  # fmt: skip
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)  # the fluent API, for this test only
    model = mlflow.sklearn.load_model(f"runs:/{result.run_id}/model")
    x = frame[["a", "b", "c", "d"]]
    np.testing.assert_allclose(model.predict(x), result.best_model.predict(x))
    children = mlflow.search_runs(
        experiment_names=["local"], filter_string=f"tags.mlflow.parentRunId = '{result.run_id}'"
    )
    assert len(children) == 2


def test_xgboost_model_logged_with_the_xgboost_flavor(spark, frame, tmp_path, monkeypatch):
    import mlflow.xgboost
    from xgboost import XGBRegressor

    from sparktune.tracking import Tracking

    store = f"sqlite:///{tmp_path}/store.db"
    space = {"max_depth": hp.quniform("depth", 2, 4, 1), "n_estimators": [5, 10]}
    result = sparktune.tune(
        XGBRegressor(n_jobs=1), space, frame, "neg_root_mean_squared_error", label="y",
        strategy="random", max_trials=3, num_folds=2, progress=False,
        tracking=Tracking(store, "xgb", drain_timeout=60),
    )  # fmt: skip
    assert isinstance(result.best_params["max_depth"], int)  # quniform's floats made ints
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)  # the fluent API, for this test only
    model = mlflow.xgboost.load_model(f"runs:/{result.run_id}/model")
    x = frame[["a", "b", "c", "d"]]
    np.testing.assert_allclose(model.predict(x), result.best_model.predict(x), rtol=1e-6)


def test_conditional_space_chooses_the_pipelines_model(spark, frame):
    from sklearn.linear_model import Lasso

    lasso = Lasso()
    pipe = make_pipeline(StandardScaler(), Ridge())
    space = {
        "model": hp.choice("model", [
            {"ridge": Ridge(), "ridge__alpha": hp.loguniform("ridge_alpha", -3, 3)},
            {"ridge": lasso, "ridge__alpha": hp.choice("lasso_alpha", [0.01, 0.1])},
        ]),
    }  # fmt: skip
    result = sparktune.tune(
        pipe, space, frame, "r2", label="y", strategy="random", max_trials=6, num_folds=2,
        points_to_evaluate=[{"ridge": lasso, "ridge__alpha": 0.1}], **quiet(),
    )  # fmt: skip
    assert result.trials[0].params == {"ridge": lasso, "ridge__alpha": 0.1}
    kinds = {type(t.params["ridge"]).__name__ for t in result.trials}
    assert kinds == {"Ridge", "Lasso"}
    assert set(result.results["state"]) == {"complete"}
    assert (
        type(result.best_model.steps[-1][1]).__name__ == type(result.best_params["ridge"]).__name__
    )
