"""Resume: a checkpointed search that stopped (or was SIGKILLed) finishes without refitting.

The checkpoint is plain JSON, rewritten atomically after every finished trial; restored trials
count toward max_trials, are told to the strategy (grid skips them, TPE learns from them) and
are in the final results.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hyperopt import hp
from processes import kill_once_checkpointed
from pyspark.ml import Pipeline
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.regression import LinearRegression
from test_cli import GRID, SAME_LAYOUT, SPARKTUNE

import sparktune
from sparktune import Callback, ValidationError
from sparktune.core.trial import TrialState
from sparktune.jobs import cli
from sparktune.search import TPESearch
from sparktune.search.space import resolve
from sparktune.tracking import checkpoint

REG = [0.0, 0.01, 0.1, 0.5, 1.0, 3.0]


class Started(Callback):
    """Records the params of every trial the engine starts (restored ones never start)."""

    def __init__(self):
        self.started = []

    def on_trial_start(self, number, candidate):
        self.started.append(dict(candidate.params))


@pytest.fixture(scope="module")
def data(spark):
    rows = [(float(i % 13), float(i % 5), 3.0 * (i % 13) - (i % 5) + (i % 3)) for i in range(90)]
    return spark.createDataFrame(rows, "a double, b double, y double").cache()


def pipe():
    lr = LinearRegression(featuresCol="features", labelCol="y", maxIter=5)
    return Pipeline(stages=[VectorAssembler(inputCols=["a", "b"], outputCol="features"), lr])


def search(data, path, **kwargs):
    options = dict(
        strategy="grid",
        num_folds=2,
        seed=1,
        tracking=False,
        progress=False,
        refit=False,
        checkpoint=path,
    )
    options.update(kwargs)
    space = options.pop("space", {"LinearRegression.regParam": REG})
    return sparktune.tune(pipe(), space, data, RegressionEvaluator(labelCol="y"), **options)


@pytest.mark.compat
def test_grid_resume_runs_only_what_is_missing(data, tmp_path):
    path = tmp_path / "ckpt.json"
    first = search(data, path, max_trials=2)
    document = json.loads(path.read_text())
    assert [t["number"] for t in document["trials"]] == [0, 1]
    assert document["trials"][0]["params"] == {"LinearRegression.regParam": 0.0}
    assert document["trials"][0]["state"] == "complete"
    assert len(document["trials"][0]["folds"]) == 2

    started = Started()
    resumed = search(data, path, resume=True, callbacks=[started])
    assert [p["LinearRegression.regParam"] for p in started.started] == REG[2:]
    assert len(resumed.trials) == len(REG)
    assert sorted(resumed.results["param_LinearRegression.regParam"]) == REG
    for old in first.trials:
        assert resumed.trials[old.number].fold_values() == old.fold_values()

    whole = search(data, None)
    assert resumed.best_params == whole.best_params
    assert math.isclose(resumed.best_metric, whole.best_metric, rel_tol=1e-6)
    assert len(json.loads(path.read_text())["trials"]) == len(REG)


def test_resume_of_a_finished_search_runs_nothing(data, tmp_path):
    path = tmp_path / "ckpt.json"
    search(data, path)
    started = Started()
    again = search(data, path, resume=True, callbacks=[started])
    assert started.started == []
    assert len(again.trials) == len(REG)


def test_tpe_resume_learns_from_restored_trials(spark, data, tmp_path):
    path = tmp_path / "ckpt.json"
    space = {"LinearRegression.regParam": hp.loguniform("reg", math.log(1e-3), math.log(10.0))}
    first = search(data, path, space=space, strategy="tpe", max_trials=3)
    restored = checkpoint.load(
        path, resolve(pipe(), space), json.load(open(path))["search"], "rmse"
    )
    assert [t.params for t in restored] == [t.params for t in first.trials]
    assert all(t.state is TrialState.COMPLETE for t in restored)

    strategy = TPESearch(resolve(pipe(), space), seed=1)
    for trial in restored:
        strategy.tell(trial)
    losses = strategy.hyperopt_trials.losses()
    assert losses == pytest.approx([t.value for t in first.trials])
    asked = strategy.ask()
    assert asked.params not in [t.params for t in restored]
    assert asked.tid == len(restored)

    started = Started()
    resumed = search(
        data, path, space=space, strategy="tpe", max_trials=5, resume=True, callbacks=[started]
    )
    assert len(started.started) == 2
    assert len(resumed.trials) == 5
    assert [t.number for t in resumed.trials] == [0, 1, 2, 3, 4]


def test_checkpoint_of_another_search_is_refused(data, tmp_path):
    path = tmp_path / "ckpt.json"
    search(data, path, max_trials=1)
    with pytest.raises(ValidationError, match=r"different search.*seed: checkpoint 1, now 2"):
        search(data, path, resume=True, seed=2)
    with pytest.raises(ValidationError, match=r"space changed"):
        search(data, path, resume=True, space={"LinearRegression.regParam": [9.0, 0.0]})


def test_resume_needs_a_checkpoint_path(data):
    with pytest.raises(ValidationError, match=r"resume=True needs the checkpoint path"):
        search(data, None, resume=True)


def test_resume_from_a_missing_file_starts_afresh(data, tmp_path):
    result = search(data, tmp_path / "none.json", resume=True, max_trials=2)
    assert len(result.trials) == 2


def test_corrupt_checkpoint_is_a_clear_error(data, tmp_path):
    path = tmp_path / "ckpt.json"
    path.write_text('{"format": 1, "trials": [')
    with pytest.raises(ValidationError, match=r"cannot be read.*delete it"):
        search(data, path, resume=True)


def test_write_is_atomic(tmp_path):
    """A write that fails half-way leaves the previous checkpoint intact and no stray file."""
    path = tmp_path / "ckpt.json"
    checkpoint.write_json(path, {"format": 1, "trials": [1]})
    with pytest.raises(TypeError):
        checkpoint.write_json(path, {"format": 1, "trials": [object()]})
    assert json.loads(path.read_text()) == {"format": 1, "trials": [1]}
    checkpoint.write_json(path, {"format": 1, "trials": [1, 2]})
    assert json.loads(path.read_text())["trials"] == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.json"]


def job_flags(out: Path) -> list[str]:
    flags = {
        "data.sample": "0.03",
        "evaluation.folds": "2",
        "evaluation.extra_metrics": "[]",
        "search.space.lr.regParam": "[0.0, 0.01, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0]",
        "search.space.lr.elasticNetParam": "[0.0]",
        "search.parallelism": "1",
        "pipeline.stages[lr].params.maxIter": "20",
        "output.model": "null",
        "output.results": str(out / "results.csv"),
        "tracking.enabled": "false",
    }
    pairs = [arg for key, value in flags.items() for arg in ("--set", f"{key}={value}")]
    return pairs + SAME_LAYOUT


def test_cli_job_killed_with_sigkill_resumes(spark, tmp_path):
    out = tmp_path / "out"
    ckpt = out / "checkpoint.json"
    command = [str(SPARKTUNE), "run", str(GRID), "--no-progress", *job_flags(out)]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    log = open(tmp_path / "first.log", "w")
    first = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    killed_at = kill_once_checkpointed(first, ckpt, tmp_path / "first.log")
    before = json.loads(ckpt.read_text())["trials"]
    assert 2 <= len(before) < 8, "the job was not killed mid-search"
    assert not (out / "results.csv").exists()

    resumed = subprocess.run(
        [*command, "--resume"], capture_output=True, text=True, env=env, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    after = json.loads(ckpt.read_text())["trials"]
    assert len(after) == 8
    kept = {t["number"]: t for t in after}
    for trial in before:  # restored as they were: not fitted again
        assert kept[trial["number"]]["started"] == trial["started"] < killed_at
    new = [t for t in after if t["number"] not in {b["number"] for b in before}]
    assert all(t["started"] > killed_at for t in new)
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 8
    assert sorted(results["param_lr.regParam"]) == [0.0, 0.01, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0]

    whole_out = tmp_path / "whole"  # uninterrupted, in this process's session: no JVM start
    assert cli.main(["run", str(GRID), "--no-progress", *job_flags(whole_out)]) == 0
    whole = pd.read_csv(whole_out / "results.csv")
    best_resumed = results.loc[results["rank"] == 1].iloc[0]
    best_whole = whole.loc[whole["rank"] == 1].iloc[0]
    assert best_resumed["param_lr.regParam"] == best_whole["param_lr.regParam"]
    assert math.isclose(best_resumed["mean_val_rmse"], best_whole["mean_val_rmse"], rel_tol=1e-6)


@pytest.mark.server
def test_resume_after_an_mlflow_outage_logs_the_missing_trials(data, tmp_path, monkeypatch):
    from mlflow import MlflowClient
    from servers import StopServerAfter, start_server

    from sparktune.tracking import Tracking

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    fast = dict(attempts=2, backoff=0.05, max_backoff=0.2, drain_timeout=30)
    path = tmp_path / "ckpt.json"
    server = start_server(tmp_path / "mlflow")
    try:
        tracking = Tracking(server.url, "outage", **fast)
        first = search(data, path, callbacks=[StopServerAfter(server, 2)], tracking=tracking)
    finally:
        server.stop()
    assert len(first.trials) == len(REG)
    assert first.unlogged_trials, "the outage lost nothing, so the test shows nothing"

    server = start_server(tmp_path / "mlflow")  # back, on the same store
    try:
        started = Started()
        tracking = Tracking(server.url, "outage", **fast)
        resumed = search(data, path, resume=True, callbacks=[started], tracking=tracking)
        assert started.started == []  # nothing refitted
        assert resumed.unlogged_trials == []
        client = MlflowClient(server.url)
        experiment = client.get_experiment_by_name("outage").experiment_id
        children = client.search_runs(
            [experiment], f"tags.mlflow.parentRunId = '{resumed.run_id}'", max_results=100
        )
    finally:
        server.stop()
    logged = {int(c.data.tags["sparktune.trial"]): c for c in children}
    assert sorted(logged) == list(range(len(REG)))
    for trial in first.trials:
        child = logged[trial.number]
        assert child.data.params == {
            "LinearRegression.regParam": str(trial.params["LinearRegression.regParam"])
        }
        assert math.isclose(child.data.metrics["mean_val_rmse"], trial.value, rel_tol=1e-9)


class Blocker(Callback):
    """After trial ``after`` ends, puts a directory where the checkpoint writer's temporary
    file goes, so its next write fails for real (before the checkpoint hears of the trial:
    user callbacks come first)."""

    def __init__(self, path: Path, after: int) -> None:
        self.path, self.after = path, after
        self.folder = path.parent / f".{path.name}.{os.getpid()}.tmp"

    def on_trial_end(self, trial):
        if trial.number == self.after:
            self.folder.mkdir()


def test_a_failing_checkpoint_write_ends_the_search_naming_the_path_and_keeps_the_trials(
    data, tmp_path
):
    path = tmp_path / "ckpt.json"
    blocker = Blocker(path, after=2)
    with pytest.raises(sparktune.CheckpointError) as caught:
        search(data, path, callbacks=[blocker])
    error = caught.value
    assert error.path == str(path) and str(path) in str(error)
    assert isinstance(error.__cause__, OSError)
    # the search stopped at once, and every trial that ended is on the error
    assert [(t.number, t.state) for t in error.trials] == [
        (n, TrialState.COMPLETE) for n in range(3)
    ]
    assert list(error.results["trial"]) == [0, 1, 2]
    assert error.results["mean_val_rmse"].notna().all()
    # the file keeps its last good write, and a resume from it runs the rest
    assert [t["number"] for t in json.loads(path.read_text())["trials"]] == [0, 1]
    blocker.folder.rmdir()
    started = Started()
    resumed = search(data, path, resume=True, callbacks=[started])
    assert [p["LinearRegression.regParam"] for p in started.started] == REG[2:]
    assert len(resumed.trials) == len(REG)
