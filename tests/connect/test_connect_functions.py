"""Training functions on Spark Connect: tune(fn) on executors and the driver, ASHA, resume
after the driver is killed, and the hyperopt drop-in (hyperopt's SparkTrials cannot run here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import hyperopt
import numpy as np
import pytest
from processes import kill_once_checkpointed
from pyspark import cloudpickle
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.regression import LinearRegression

import sparktune
import sparktune.hyperopt as drop_in
from sparktune import ASHA

pytestmark = pytest.mark.connect

cloudpickle.register_pickle_by_value(sys.modules[__name__])

QUIET = {"tracking": False, "progress": False}


def ridge_mse(params):
    """A scikit-learn model's 3-fold MSE on small synthetic data (made on the executor)."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import cross_val_score

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + rng.normal(scale=0.3, size=120)
    scores = cross_val_score(Ridge(alpha=params["alpha"]), x, y, cv=3, scoring="r2")
    return {"loss": -float(scores.mean()), "r2": float(scores.mean())}


def test_sklearn_fn_on_executors_on_connect(spark):
    result = sparktune.tune(
        ridge_mse, {"alpha": [0.01, 1000.0]}, strategy="grid", parallelism=2, **QUIET
    )
    results = result.results.set_index("param_alpha")
    assert (results["split0_executor"] != "driver").all()
    assert results.loc[0.01, "mean_val_loss"] < results.loc[1000.0, "mean_val_loss"]
    assert result.best_trial.folds[0].info["r2"] == -result.best_metric


def test_spark_ml_fn_on_the_driver_on_connect(spark, diamonds):
    assembled = VectorAssembler(inputCols=["carat"], outputCol="features").transform(diamonds)
    train, validation = assembled.randomSplit([0.75, 0.25], seed=3)

    def fit(params):
        model = LinearRegression(labelCol="price", regParam=params["reg"]).fit(train)
        return RegressionEvaluator(labelCol="price").evaluate(model.transform(validation))

    result = sparktune.tune(fit, {"reg": [0.0, 1e6]}, strategy="grid", placement="driver", **QUIET)
    losses = result.results.set_index("param_reg")["mean_val_loss"]
    assert losses[0.0] < losses[1e6] and result.best_params == {"reg": 0.0}


def test_asha_over_a_function_on_connect(spark):
    def trained(params):
        return (params["x"] - 1) ** 2 + 1.0 / params["epochs"]

    result = sparktune.tune(
        trained,
        {"x": [-1.0, 0.0, 1.0]},
        scheduler=ASHA(resource="epochs", min_resource=1, max_resource=3),
        strategy="grid",
        parallelism=2,
        **QUIET,
    )
    assert set(result.results["rung0_resource"]) == {1.0}
    assert result.best_params == {"x": 1.0}
    assert result.best_metric == pytest.approx(1 / 3)


def test_spark_trials_on_connect(spark):
    trials = drop_in.SparkTrials(parallelism=2)

    def objective(x):
        if x > 0.8:
            raise ValueError("too large")
        return x**2

    best = drop_in.fmin(
        fn=objective,
        space=drop_in.hp.uniform("x", -1, 1),
        algo=drop_in.tpe.suggest,
        max_evals=8,
        trials=trials,
        rstate=np.random.default_rng(3),
        points_to_evaluate=[{"x": 0.9}],
        show_progressbar=False,
    )
    assert len(trials.trials) == 8
    assert trials.results[0]["status"] == "fail" and "too large" in trials.results[0]["error"]
    assert trials.best_trial["result"]["loss"] == pytest.approx(best["x"] ** 2)
    assert min(loss for loss in trials.losses() if loss is not None) < 0.1
    with pytest.raises(Exception, match="sparkContext|CONNECT|not supported"):
        hyperopt.fmin(objective, hyperopt.hp.uniform("x", -1, 1), max_evals=2,
                      trials=hyperopt.SparkTrials(parallelism=2))  # fmt: skip


DRIVER = """
import sys, time
from pyspark.sql import SparkSession
import sparktune

spark = SparkSession.builder.remote(sys.argv[3]).getOrCreate()

def fn(params):
    time.sleep(1.5)
    return (params["x"] - 3) ** 2

result = sparktune.tune(
    fn, {"x": [0, 1, 2, 3, 4, 5]}, strategy="grid", checkpoint=sys.argv[1],
    resume=sys.argv[2] == "resume", **{"tracking": False, "progress": False},
)
print("BEST", result.best_params["x"], len(result.trials))
"""


def test_function_search_resumes_after_the_client_is_killed(connect_server, tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(DRIVER))
    ckpt = tmp_path / "checkpoint.json"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    command = [sys.executable, str(script), str(ckpt)]
    log = open(tmp_path / "first.log", "w")
    first = subprocess.Popen(
        [*command, "fresh", connect_server.url],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )  # fmt: skip
    killed_at = kill_once_checkpointed(first, ckpt, tmp_path / "first.log")
    before = json.loads(ckpt.read_text())["trials"]
    assert 2 <= len(before) < 6, "the search was not killed mid-way"
    resumed = subprocess.run(
        [*command, "resume", connect_server.url],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "BEST 3 6" in resumed.stdout
    after = {t["number"]: t for t in json.loads(ckpt.read_text())["trials"]}
    assert len(after) == 6
    for trial in before:
        assert after[trial["number"]]["started"] == trial["started"] < killed_at
