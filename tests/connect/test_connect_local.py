"""Single-machine (scikit-learn) estimators on Spark Connect: each (trial x fold) one
``mapInPandas`` task over the data cached once on the server."""

from __future__ import annotations

import time

import local_estimators
import numpy as np
import pandas as pd
import pytest
from local_estimators import SlowMean
from pyspark import cloudpickle
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV

import sparktune
from sparktune.spark.local_fit import fold_indices

pytestmark = pytest.mark.connect

cloudpickle.register_pickle_by_value(local_estimators)


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + rng.normal(scale=0.3, size=90)
    return pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=y)


def test_grid_equals_gridsearchcv_on_connect(spark, frame):
    space = {"alpha": [0.1, 10.0, 100.0]}
    result = sparktune.tune(
        Ridge(), space, spark.createDataFrame(frame), "neg_mean_squared_error", label="y",
        strategy="grid", num_folds=3, seed=2, parallelism=2, tracking=False, progress=False,
    )  # fmt: skip
    reference = GridSearchCV(
        Ridge(), space, scoring="neg_mean_squared_error", cv=fold_indices(90, 3, seed=2)
    ).fit(frame[["a", "b", "c"]], frame["y"])
    ours = result.results.set_index("param_alpha")["mean_val_neg_mean_squared_error"]
    for alpha, score in zip(space["alpha"], reference.cv_results_["mean_test_score"]):
        assert ours[alpha] == pytest.approx(score, rel=1e-9)
    assert result.best_params == reference.best_params_


def test_failure_and_timeout_on_connect(spark, frame):
    started = time.time()
    result = sparktune.tune(
        SlowMean(), {"sleep": [0.0, 60.0], "fail": [False, True]}, frame, "r2", label="y",
        strategy="grid", train_ratio=0.75, timeout=20, tracking=False, progress=False,
    )  # fmt: skip
    assert time.time() - started < 50
    states = dict(zip(zip(result.results["param_fail"], result.results["param_sleep"]),
                      result.results["state"]))  # fmt: skip
    assert states[(False, 0.0)] == "complete"
    assert states[(True, 0.0)] == "failed"
    assert states[(False, 60.0)] == "cancelled" and result.stop_reason == "timeout"
    errors = result.results.set_index("state")["error"]
    assert "SlowMean was asked to fail" in errors["failed"]


def test_tune_groups_and_group_models_on_connect(spark, tmp_path):
    rng = np.random.default_rng(1)
    parts = [
        pd.DataFrame({"g": g, "x": x, "y": g * x}) for g in range(6) for x in [rng.normal(size=20)]
    ]
    parts.append(pd.DataFrame({"g": [99], "x": [1.0], "y": [1.0]}))  # too small for 2 folds
    df = spark.createDataFrame(pd.concat(parts, ignore_index=True))
    search = dict(
        group_by="g", estimator=Ridge(), space={"alpha": [0.001, 1.0]}, metric="r2",
        label="y", strategy="grid", num_folds=2, model_path=tmp_path, tracking=False,
        checkpoint=tmp_path / "ckpt", group_timeout=120,
    )  # fmt: skip
    out = sparktune.tune_groups(df, **search).toPandas().set_index("g")
    assert list(out.loc[range(1, 6), "state"]) == ["complete"] * 5
    assert out.loc[99, "state"] == "skipped"
    kept = sorted((tmp_path / "ckpt" / "groups").glob("group-*.json"))
    assert len(kept) == 7
    again = sparktune.tune_groups(df, **search, resume=True).toPandas().set_index("g")
    assert again["elapsed"].to_dict() == out["elapsed"].to_dict()  # kept, not searched again
    scored = sparktune.load_group_models(tmp_path).predict(df.filter("g < 6")).toPandas()
    np.testing.assert_allclose(scored["prediction"], scored["y"], atol=0.1)
