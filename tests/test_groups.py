"""``tune_groups``: one search per group inside one task, with failing, small and large groups."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time

import local_estimators
import numpy as np
import optuna
import pandas as pd
import pyarrow as pa
import pytest
from hyperopt import hp
from local_estimators import SlowMean
from pyspark import cloudpickle
from pyspark.sql import functions as F
from sklearn.linear_model import Ridge

import sparktune
from sparktune import ValidationError
from sparktune.spark.group_layout import GROUP, PART, each_group, spark_hash, spread

GROUPS = 110


@pytest.fixture(scope="module")
def grouped(spark):
    """110 groups of 30 rows (y = slope * x per group), then three odd ones: a group whose
    label is NaN (every fit fails), a group of 2 rows (too small for 3 folds) and a group of
    80 rows (over the hard limit the tests set)."""
    rng = np.random.default_rng(0)
    parts = []
    for g in range(GROUPS):
        x = rng.normal(size=30)
        parts.append(pd.DataFrame({"store": g, "region": "r" + str(g % 3), "x": x, "x2": x**2,
                                   "y": (g % 7) * x + rng.normal(scale=0.1, size=30)}))  # fmt: skip
    parts.append(pd.DataFrame({"store": 900, "region": "r0", "x": rng.normal(size=30),
                               "x2": 0.0, "y": np.nan}))  # fmt: skip
    parts.append(pd.DataFrame({"store": 901, "region": "r0", "x": [1.0, 2.0], "x2": 0.0,
                               "y": [1.0, 2.0]}))  # fmt: skip
    parts.append(pd.DataFrame({"store": 902, "region": "r1", "x": rng.normal(size=80),
                               "x2": 0.0, "y": 1.0}))  # fmt: skip
    return spark.createDataFrame(pd.concat(parts, ignore_index=True)).repartition(4)


def test_every_group_is_a_row_and_saved_models_score(spark, grouped, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="sparktune")
    out = sparktune.tune_groups(
        grouped, group_by=["store", "region"], estimator=Ridge(),
        space={"alpha": hp.loguniform("alpha", -6, 2), "fit_intercept": [True, False]},
        metric="r2", label="y", max_trials=4, num_folds=3, seed=1,
        model_path=tmp_path / "models", warn_group_rows=40, max_group_rows=50, tracking=False,
    )  # fmt: skip
    assert out.columns[:2] == ["store", "region"]
    table = out.toPandas().set_index("store")
    assert len(table) == GROUPS + 3
    tuned = table.loc[range(GROUPS)]
    assert set(tuned["state"]) == {"complete"} and set(tuned["n_trials"]) == {4}
    assert (tuned.loc[[1, 2, 3, 4, 5, 6], "best_metric"] > 0.9).all()
    params = json.loads(tuned.loc[5, "best_params"])
    assert set(params) == {"alpha", "fit_intercept"}
    assert table.loc[900, "state"] == "failed" and "NaN" in table.loc[900, "error"]
    assert table.loc[901, "state"] == "skipped" and "too small" in table.loc[901, "error"]
    assert table.loc[902, "state"] == "skipped" and "max_group_rows=50" in table.loc[902, "error"]
    assert table.loc[901, "n_rows"] == 2 and table.loc[902, "n_rows"] == 80
    assert "1 group(s) have more than warn_group_rows=40 rows (largest: 80)" in caplog.text

    models = sparktune.load_group_models(tmp_path / "models")
    fresh = grouped.filter("store < 110")
    scored = models.predict(fresh.drop("y")).toPandas()
    assert len(scored) == GROUPS * 30
    truth = fresh.toPandas().merge(scored, on=["store", "region", "x", "x2"])
    error = (truth["prediction"] - truth["y"]).abs()
    assert error.median() < 0.5

    with pytest.raises(ValidationError, match=r"1 group\(s\) of df have no tuned model.*900"):
        models.predict(grouped.filter("store in (3, 900)"))


def test_tune_groups_logs_one_mlflow_run(spark, grouped, tmp_path, monkeypatch):
    import mlflow

    from sparktune.tracking import Tracking

    store = f"sqlite:///{tmp_path}/store.db"
    sparktune.tune_groups(
        grouped.filter("store < 20"), group_by="store", estimator=Ridge(),
        space={"alpha": [0.1, 1.0]}, metric="neg_mean_squared_error", label="y",
        features=["x"], strategy="grid", num_folds=2, tracking=Tracking(store, "groups"),
    )  # fmt: skip
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)  # the fluent API, for this test only
    runs = mlflow.search_runs(experiment_names=["groups"])
    assert len(runs) == 1
    run = runs.iloc[0]
    assert run["metrics.groups_complete"] == 20 and run["params.strategy"] == "grid"
    assert run["metrics.best_metric_p50"] < 0
    client = mlflow.MlflowClient(store)
    names = {a.path for a in client.list_artifacts(run["run_id"])}
    assert "groups.csv" in names


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(group_by="shop"), "['shop'] are not in df"),
        (dict(label="price"), "['price'] are not in df"),
        (dict(space={"alpah": [1.0]}), "Close matches: ['alpha']"),
        (dict(metric="nope"), "not a scikit-learn scorer name"),
        (dict(estimator=object()), "scikit-learn compatible"),
        (dict(max_group_rows=1), "max_group_rows must be an integer >= 2"),
        (dict(strategy=optuna.create_study()), "strategy=study.sampler"),
    ],
)
def test_bad_input_is_refused_before_any_job(spark, grouped, change, message):
    args = dict(group_by="store", estimator=Ridge(), space={"alpha": [1.0]}, metric="r2",
                label="y", features=["x", "x2"], tracking=False)  # fmt: skip
    args.update(change)
    with pytest.raises(ValidationError) as caught:
        sparktune.tune_groups(grouped, **args)
    assert message in str(caught.value)


cloudpickle.register_pickle_by_value(local_estimators)  # the tasks get SlowMean by value

#: A per-group search killed and resumed: run in a process of its own, then SIGKILLed.
DRIVER = """
import sys
import pandas as pd
import sparktune
from local_estimators import SlowMean
from sparktune.spark.session import get_session

spark = get_session("local[2]", {"spark.ui.enabled": "false"})
df = spark.createDataFrame(pd.read_csv(sys.argv[1]))
sparktune.tune_groups(
    df, group_by="g", estimator=SlowMean(sleep=0.15), space={"shift": [0.0, 1.0, 2.0]},
    metric="neg_mean_squared_error", label="y", strategy="grid", num_folds=2, tracking=False,
    checkpoint=sys.argv[2],
)
"""  # the same search as SLOW (a resume with other settings is refused)
SLOW = dict(
    group_by="g", estimator=SlowMean(sleep=0.15), space={"shift": [0.0, 1.0, 2.0]},
    metric="neg_mean_squared_error", label="y", strategy="grid", num_folds=2, tracking=False,
)  # fmt: skip


def slow_groups(count: int, rows: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    return pd.DataFrame(
        {"g": np.repeat(np.arange(count), rows), "x": rng.normal(size=count * rows),
         "y": rng.normal(size=count * rows)}
    )  # fmt: skip


def test_a_killed_run_resumes_with_finished_groups_kept(spark, tmp_path):
    data, ckpt = tmp_path / "data.csv", tmp_path / "ckpt"
    slow_groups(8).to_csv(data, index=False)
    tests = os.path.dirname(os.path.abspath(__file__))
    path = os.pathsep.join([os.path.dirname(tests), tests, os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYTHONPATH": path}
    log = open(tmp_path / "driver.log", "w")
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(data), str(ckpt)],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )  # fmt: skip
    kept = []
    try:
        deadline = time.monotonic() + 300
        while len(kept) < 2:
            assert driver.poll() is None, (tmp_path / "driver.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no group finished in time"
            kept = sorted((ckpt / "groups").glob("group-*.json")) if ckpt.exists() else []
            time.sleep(0.05)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver, its JVM and Python workers
        driver.wait(timeout=60)
    kept = {f.name: f.stat().st_mtime for f in (ckpt / "groups").glob("group-*.json")}
    assert 2 <= len(kept) < 8, "the run was not killed mid-search"
    stored = {json.loads((ckpt / "groups" / f).read_text())["key"][0]: f for f in kept}

    out = sparktune.tune_groups(
        spark.createDataFrame(pd.read_csv(data)), **SLOW, checkpoint=ckpt, resume=True,
        trials_path=tmp_path / "trials.csv",
    ).toPandas().set_index("g")  # fmt: skip
    assert sorted(out.index) == list(range(8)) and set(out["state"]) == {"complete"}
    files = {f.name: f.stat().st_mtime for f in (ckpt / "groups").glob("group-*.json")}
    assert len(files) == 8 and all(files[name] == mtime for name, mtime in kept.items())
    for key, name in stored.items():  # a kept group comes back as it was, not searched again
        row = json.loads((ckpt / "groups" / name).read_text())["row"]
        assert out.loc[key, "elapsed"] == row["elapsed"]
    trials = pd.read_csv(tmp_path / "trials.csv")
    assert len(trials) == 8 * 3 and sorted(trials["g"].unique()) == list(range(8))


def test_the_runs_timeout_ends_every_group(spark, tmp_path):
    df = spark.createDataFrame(slow_groups(6))
    slow = {**SLOW, "estimator": SlowMean(sleep=0.2), "space": {"shift": [0.0, 1.0, 2.0, 3.0]}}
    out = sparktune.tune_groups(
        df, **slow, timeout=1.0, trials_path=tmp_path / "trials.csv"
    ).toPandas()  # each group needs 8 fits of 0.2 s: none ends before the run's timeout
    assert len(out) == 6 and set(out["stop_reason"]) == {"timeout"}
    assert set(out["state"]) <= {"complete", "failed", "skipped"}
    trials = pd.read_csv(tmp_path / "trials.csv") if out["n_trials"].sum() else pd.DataFrame()
    if len(trials):
        assert (trials[trials["state"] == "complete"].groupby("g").size() < 4).all()


def test_a_scheduler_per_group_in_the_tasks(spark, tmp_path):
    df = spark.createDataFrame(slow_groups(3, rows=40))
    shifts = [float(s) for s in range(9)]
    settings = {k: v for k, v in SLOW.items() if k != "num_folds"}  # the objects say it
    out = sparktune.tune_groups(
        df, **{**settings, "estimator": SlowMean(), "space": {"shift": shifts}},
        split=sparktune.Split(num_folds=2), budget=sparktune.Budget(max_trials=9),
        scheduler=sparktune.ASHA(resource="rows"), trials_path=tmp_path / "trials.csv",
    ).toPandas()  # fmt: skip
    assert set(out["state"]) == {"complete"} and len(out) == 3
    assert all(json.loads(p) == {"shift": 0.0} for p in out["best_params"])
    trials = pd.read_csv(tmp_path / "trials.csv")
    assert set(trials["state"]) == {"complete", "pruned"} and len(trials) == 27
    assert {"g", "rung", "rung0_resource", "rung0_val_neg_mean_squared_error"} <= set(trials)
    assert (
        "split1_val_neg_mean_squared_error" in trials
        and "split2_val_neg_mean_squared_error" not in trials
    )


def test_groups_are_balanced_one_bin_per_partition(spark):
    values = [0, 1, 2, 7, -1, -(2**40), 2**40 + 3, 123456789]
    hashed = spark.createDataFrame([(v,) for v in values], "v long").selectExpr("v", "hash(v) h")
    assert {r["v"]: r["h"] for r in hashed.collect()} == {v: spark_hash(v) for v in values}

    sizes = [50, 40, 30, 20, 10, 10, 5, 5, 5, 5]  # rows per group
    df = spark.createDataFrame(
        [(g, float(i)) for g, n in enumerate(sizes) for i in range(n)], "g long, x double"
    )
    placed, groups = spread(df, ["g"], 4)
    placed = placed.withColumn("pid", F.spark_partition_id()).toPandas()
    assert sorted(groups) == [(g,) for g in range(len(sizes))]
    assert (placed["g"] == [groups[n]["g"] for n in placed[GROUP]]).all()  # numbered by them
    parts = placed.groupby("pid")[PART].nunique()
    assert len(parts) == 4 and (parts == 1).all()  # one bin per partition, none empty
    assert (placed.groupby("g")["pid"].nunique() == 1).all()  # a group in one partition
    rows = placed.groupby("pid").size()
    assert rows.max() - rows.min() <= max(sizes)  # within one group of each other
    for _, part in placed.groupby("pid", sort=False):  # each group's rows are together
        assert (part[GROUP].diff().fillna(0) >= 0).all()


def test_each_group_is_cut_from_sorted_batches_and_typed_on_its_own():
    table = pa.table(
        {GROUP: [0, 0, 1, 1, 1, 1, 1, 2], "k": [None, None, 2**60 + 1, 2**60 + 1, 2**60 + 1,
                                                2**60 + 1, 2**60 + 1, 7], "v": range(8)}
    )  # fmt: skip
    batches = table.to_batches(max_chunksize=3)
    batches.insert(1, batches[0].slice(0, 0))  # an empty batch
    assert len(batches) == 4  # group 1 spans three of them
    groups = list(each_group(iter(batches)))
    assert [g["v"].tolist() for g in groups] == [[0, 1], [2, 3, 4, 5, 6], [7]]
    assert all(g.index.tolist() == list(range(len(g))) for g in groups)
    # The null key's group has floats; the others keep exact integers.
    assert groups[0]["k"].isna().all() and groups[1]["k"].dtype == np.int64
    assert groups[1]["k"].iloc[0] == 2**60 + 1
    assert list(each_group(iter([]))) == []


def test_null_and_large_integer_keys_stay_groups_of_their_own(spark):
    keys = [None, 2**60, 2**60 + 1]  # the two large ones are one float64
    df = spark.createDataFrame(
        [(k, float(i), 2.0 * i) for k in keys for i in range(9)], "k long, x double, y double"
    )
    out = sparktune.tune_groups(
        df, group_by="k", estimator=Ridge(), space={"alpha": [1.0]}, metric="r2", label="y",
        features=["x"], max_trials=1, num_folds=3, tracking=False,
    ).collect()  # fmt: skip
    assert sum(r["k"] is None for r in out) == 1
    assert sorted(r["k"] for r in out if r["k"] is not None) == keys[1:]
    assert [(r["n_rows"], r["state"]) for r in out] == [(9, "complete")] * 3
