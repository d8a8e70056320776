"""tune(fn, space): a training function as the thing to tune, on executors or the driver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import numpy as np
import pytest
from hyperopt import hp
from processes import kill_once_checkpointed
from pyspark import cloudpickle
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.regression import LinearRegression

import sparktune
from sparktune import ASHA, ValidationError
from sparktune.core.trial import TrialState

QUIET = {"tracking": False, "progress": False}

# The executors cannot import this test module: ship its functions by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def quadratic(params):
    """A loss with its minimum at x = 1, c = 'a'."""
    return (params["x"] - 1) ** 2 + (0.0 if params["c"] == "a" else 0.5)


def sklearn_auc(params):
    """A scikit-learn model's 3-fold AUC on a small built-in data set (made on the executor)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=params["C"], max_iter=200))
    return {"auc": float(cross_val_score(model, x, y, cv=3, scoring="roc_auc").mean())}


def test_sklearn_fn_on_executors(spark):
    space = {"C": hp.loguniform("C", np.log(1e-4), np.log(10))}
    result = sparktune.tune(
        sklearn_auc,
        space,
        metric="auc",
        larger_is_better=True,
        strategy="random",
        max_trials=4,
        parallelism=2,
        **QUIET,
    )
    results = result.results
    assert len(results) == 4 and set(results["state"]) == {"complete"}
    assert (results["split0_executor"] != "driver").all()
    assert result.best_metric == results["mean_val_auc"].max() > 0.9
    assert 1e-4 <= result.best_params["C"] <= 10


def test_spark_ml_fn_on_the_driver(spark, diamonds):
    data = diamonds.selectExpr("carat", "depth", "price")
    from pyspark.ml.feature import VectorAssembler

    assembled = VectorAssembler(inputCols=["carat", "depth"], outputCol="features").transform(data)
    train, validation = assembled.randomSplit([0.75, 0.25], seed=3)

    def fit(params):
        model = LinearRegression(labelCol="price", regParam=params["reg"]).fit(train)
        return RegressionEvaluator(labelCol="price").evaluate(model.transform(validation))

    with pytest.raises(ValidationError, match=r"'train'.*DataFrame.*placement='driver'"):
        sparktune.tune(fit, {"reg": [0.0, 1.0]}, **QUIET)
    result = sparktune.tune(
        fit, {"reg": [0.0, 10.0, 1000.0]}, strategy="grid", placement="driver", **QUIET
    )
    assert list(result.results["split0_executor"]) == ["driver"] * 3
    losses = result.results.set_index("param_reg")["mean_val_loss"]
    assert losses[0.0] < losses[1000.0]  # a heavy penalty fits worse
    assert result.best_params == {"reg": losses.idxmin()}


def test_asha_passes_the_budget_in_the_params(spark):
    def trained(params):
        return (params["x"] - 1) ** 2 + 1.0 / params["epochs"]

    result = sparktune.tune(
        trained,
        {"x": hp.uniform("x", -2, 2)},
        scheduler=ASHA(resource="epochs", min_resource=1, max_resource=9),
        strategy="random",
        max_trials=9,
        parallelism=2,
        placement="driver",
        **QUIET,
    )
    results = result.results
    assert set(results["rung0_resource"]) == {1.0}
    assert (results["state"] == "complete").sum() >= 1
    complete = results[results["state"] == "complete"]
    assert (complete["resource"] == 9.0).all()
    assert ((results["state"] == "pruned") | (results["state"] == "complete")).all()
    best = result.best_trial
    assert best.value == pytest.approx((best.params["x"] - 1) ** 2 + 1 / 9)


def test_asha_for_a_function_needs_the_resource_name(spark):
    with pytest.raises(ValidationError, match="resource="):
        sparktune.tune(quadratic, {"x": [0, 1]}, scheduler=ASHA(max_resource=9), **QUIET)
    with pytest.raises(ValidationError, match="also in the search space"):
        sparktune.tune(
            quadratic, {"x": [0, 1]}, scheduler=ASHA(resource="x", max_resource=9), **QUIET
        )


@pytest.mark.parametrize("strategy", ["grid", "random", "tpe", "optuna-tpe"])
def test_every_strategy_and_points_to_evaluate(spark, strategy):
    space = {"x": [-1.0, 0.0, 1.0, 2.0], "c": ["a", "b"]}
    result = sparktune.tune(
        quadratic,
        space,
        strategy=strategy,
        max_trials=5,
        points_to_evaluate=[{"x": 2.0, "c": "b"}],
        placement="driver",
        **QUIET,
    )
    assert dict(result.trials[0].params) == {"x": 2.0, "c": "b"}
    assert len(result.trials) == 5
    losses = [quadratic(dict(t.params)) for t in result.trials]
    assert result.best_metric == min(losses)


def test_dict_results_status_and_extra_metrics(spark):
    def objective(params):
        if params["x"] == 0:
            return {"status": "fail", "error": "x=0 is not allowed"}
        if params["x"] == 1:
            raise RuntimeError("boom")
        if params["x"] == 2:
            return "not a loss"
        return {"loss": params["x"], "status": "ok", "extra": 2 * params["x"], "note": "kept"}

    result = sparktune.tune(objective, {"x": [0, 1, 2, 3]}, strategy="grid", **QUIET)
    by_x = result.results.set_index("param_x")
    assert list(by_x["state"]) == ["failed", "failed", "failed", "complete"]
    assert "x=0 is not allowed" in by_x.loc[0, "error"]
    assert "RuntimeError: boom" in by_x.loc[1, "error"]
    assert "returned 'not a loss' (str), not a number" in by_x.loc[2, "error"]
    assert result.best_trial.folds[0].metrics == {"loss": 3.0}
    assert by_x.loc[3, "split0_extra"] == 6.0


def test_a_module_the_executors_cannot_import_is_named_with_the_fix(spark, tmp_path):
    """fn from a module only the driver's sys.path reaches (a file beside a notebook)."""
    (tmp_path / "unshipped_objectives.py").write_text("def loss(p):\n    return p['x']\n")
    sys.path.insert(0, str(tmp_path))
    try:
        from unshipped_objectives import loss

        with pytest.raises(sparktune.SearchFailedError) as failed:
            sparktune.tune(loss, {"x": [1.0]}, strategy="grid", **QUIET)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("unshipped_objectives", None)
    message = str(failed.value)
    assert "module 'unshipped_objectives' cannot be imported on the executors" in message
    assert "register_pickle_by_value(unshipped_objectives)" in message


def test_timeout_cancels_the_running_task(spark):
    def slow(params):
        time.sleep(300 if params["x"] else 0)
        return 1.0

    started = time.time()
    result = sparktune.tune(
        slow, {"x": [0, 1]}, strategy="grid", parallelism=2, timeout=25, **QUIET
    )
    assert time.time() - started < 120  # not the 300 s of the slow trial
    assert result.stop_reason == "timeout"
    states = {t.params["x"]: t.state for t in result.trials}
    assert states == {0: TrialState.COMPLETE, 1: TrialState.CANCELLED}


def test_bad_functions_are_refused_before_any_job(spark):
    lock = threading.Lock()

    def locked(params):
        with lock:
            return params["x"]

    with pytest.raises(ValidationError, match=r"'lock'.*_thread.lock.*placement='driver'"):
        sparktune.tune(locked, {"x": [1, 2]}, **QUIET)

    def uses_session(params):
        return spark.range(params["x"]).count()

    with pytest.raises(ValidationError, match=r"'spark'.*SparkSession"):
        sparktune.tune(uses_session, {"x": [1, 2]}, **QUIET)
    with pytest.raises(ValidationError, match=r"one argument.*\(a, b\)"):
        sparktune.tune(lambda a, b: a, {"x": [1, 2]}, **QUIET)
    with pytest.raises(ValidationError, match="placement must be one of"):
        sparktune.tune(quadratic, {"x": [1, 2]}, placement="gpu", **QUIET)
    with pytest.raises(ValidationError, match=r"\['data'\] apply to estimators only"):
        sparktune.tune(quadratic, {"x": [1, 2]}, data=spark.range(2), **QUIET)
    with pytest.raises(ValidationError, match="training functions only"):
        sparktune.tune(
            LinearRegression(),
            {"regParam": [0.1]},
            spark.range(2),
            RegressionEvaluator(),
            placement="driver",
            **QUIET,
        )


def test_evaluator_keyword_is_deprecated_but_works(spark, diamonds):
    lr = LinearRegression(labelCol="price", featuresCol="features")
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import VectorAssembler

    pipe = Pipeline(stages=[VectorAssembler(inputCols=["carat"], outputCol="features"), lr])
    with pytest.warns(DeprecationWarning, match="evaluator= is deprecated; use metric="):
        old = sparktune.tune(
            pipe,
            {"LinearRegression.regParam": [0.0]},
            diamonds,
            evaluator=RegressionEvaluator(labelCol="price"),
            strategy="grid",
            refit=False,
            num_folds=2,
            **QUIET,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = sparktune.tune(
            pipe,
            {"LinearRegression.regParam": [0.0]},
            diamonds,
            metric=RegressionEvaluator(labelCol="price"),
            strategy="grid",
            refit=False,
            num_folds=2,
            **QUIET,
        )
    assert old.best_metric == pytest.approx(new.best_metric, rel=1e-6)
    with pytest.raises(ValidationError, match="not both"):
        sparktune.tune(
            pipe,
            {"LinearRegression.regParam": [0.0]},
            diamonds,
            metric=RegressionEvaluator(labelCol="price"),
            evaluator=RegressionEvaluator(labelCol="price"),
            **QUIET,
        )


DRIVER = """
import sys, time
from hyperopt import hp
from sparktune.spark.session import get_session
import sparktune

spark = get_session("local[2]", {"spark.ui.enabled": "false"})

def fn(params):
    time.sleep(1.5)
    return (params["x"] - 3) ** 2

result = sparktune.tune(
    fn, {"x": [0, 1, 2, 3, 4, 5]}, strategy="grid", checkpoint=sys.argv[1],
    resume=sys.argv[2] == "resume", **{"tracking": False, "progress": False},
)
print("BEST", result.best_params["x"], len(result.trials))
"""


def test_function_search_resumes_after_the_driver_is_killed(tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(DRIVER))
    ckpt = tmp_path / "checkpoint.json"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    log = open(tmp_path / "first.log", "w")
    first = subprocess.Popen(
        [sys.executable, str(script), str(ckpt), "fresh"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    killed_at = kill_once_checkpointed(first, ckpt, tmp_path / "first.log")
    before = json.loads(ckpt.read_text())["trials"]
    assert 2 <= len(before) < 6, "the search was not killed mid-way"
    resumed = subprocess.run(
        [sys.executable, str(script), str(ckpt), "resume"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "BEST 3 6" in resumed.stdout
    after = {t["number"]: t for t in json.loads(ckpt.read_text())["trials"]}
    assert len(after) == 6
    for trial in before:  # kept as they were, not run again
        assert after[trial["number"]]["started"] == trial["started"] < killed_at


def test_mlflow_layout_of_a_function_search(spark, tmp_path, monkeypatch):
    import mlflow

    from sparktune.tracking import Tracking

    store = f"sqlite:///{tmp_path}/store.db"
    result = sparktune.tune(
        quadratic, {"x": [0.0, 1.0, 2.0], "c": ["a"]}, strategy="grid", placement="driver",
        progress=False, tracking=Tracking(store, "functions", drain_timeout=60),
    )  # fmt: skip
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    parent = mlflow.get_run(result.run_id)
    assert parent.data.params["metric"] == "loss"
    assert "function quadratic on driver" in parent.data.params["estimator"]
    assert parent.data.params["best.x"] == "1.0" and result.best_metric == 0.0
    assert parent.data.metrics["trials_complete"] == 3
    children = mlflow.search_runs(
        experiment_names=["functions"],
        filter_string=f"tags.mlflow.parentRunId = '{result.run_id}'",
    )
    assert len(children) == 3


def test_an_optuna_study_is_the_search_and_holds_the_trials(spark):
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    space = {"x": hp.uniform("x", -2, 2), "c": hp.choice("c", ["a", "b"])}
    result = sparktune.tune(quadratic, space, strategy=study, max_trials=4, parallelism=2,
                            **QUIET)  # fmt: skip
    assert len(study.trials) == 4
    by_trial = {t.user_attrs["sparktune_trial"]: t.value for t in study.trials}
    assert by_trial == {t.number: t.value for t in result.trials}
    with pytest.raises(ValidationError, match="direction='maximize'"):
        sparktune.tune(quadratic, space, strategy=study, larger_is_better=True, **QUIET)
