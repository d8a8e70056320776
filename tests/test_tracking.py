"""MLflow tracking against real stores: sqlite files in tmp_path and a real ``mlflow server``."""

from __future__ import annotations

import os
import uuid

import mlflow
import mlflow.spark
import pytest
from conftest import featurizers
from hyperopt import hp
from mlflow import MlflowClient
from pyspark.ml import Pipeline
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.regression import LinearRegression
from pyspark.ml.tuning import ParamGridBuilder
from servers import StopServerAfter, start_server
from stages import FailingStage

import sparktune
from sparktune import ValidationError
from sparktune.tracking import REDACTED, Tracking, track
from sparktune.tracking.records import truncate

FAST = dict(attempts=2, backoff=0.05, max_backoff=0.2, drain_timeout=60)
#: Where the logged model is not what a test is about, skip it (a few seconds a search).
NO_MODEL = dict(FAST, log_model=False)


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Each test in its own directory (MLflow's default store and ./mlruns go to the cwd)."""
    monkeypatch.chdir(tmp_path)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def data(diamonds):
    """800 rows: enough for linear regression, small enough for a loaded 2-core box."""
    frame = diamonds.limit(800).cache()
    frame.count()
    yield frame
    frame.unpersist()


@pytest.fixture
def store(tmp_path):
    return f"sqlite:///{tmp_path}/store.db"


def rmse():
    return RegressionEvaluator(labelCol="price", metricName="rmse")


def lr_pipeline():
    lr = LinearRegression(featuresCol="features", labelCol="price", maxIter=5)
    return Pipeline(stages=featurizers() + [lr]), lr


def runs_of(uri, experiment=None):
    """Every run in the store (all experiments), as Run objects."""
    client = MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    if experiment is not None:
        experiments = [client.get_experiment_by_name(experiment).experiment_id]
    return client.search_runs(experiments, max_results=1000)


def split(runs):
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return parents, children


@pytest.mark.compat
def test_tpe_search_leaves_one_parent_and_a_child_per_trial(spark, data, store, monkeypatch):
    pipe, lr = lr_pipeline()
    space = {
        "LinearRegression.regParam": hp.loguniform("reg", -6, 3),
        "LinearRegression.elasticNetParam": hp.uniform("enet", 0.0, 1.0),
        "LinearRegression.maxIter": hp.quniform("iters", 2, 8, 1),
    }
    result = sparktune.tune(
        pipe,
        space,
        data,
        rmse(),
        strategy="tpe",
        max_trials=8,
        parallelism=2,
        num_folds=2,
        seed=11,
        progress=False,
        tracking=Tracking(store, "tpe", **FAST),
    )
    assert len(result.trials) == 8 and result.unlogged_trials == []
    parents, children = split(runs_of(store, "tpe"))
    assert len(parents) == 1 and len(children) == 8
    parent = parents[0]
    assert result.run_id == parent.info.run_id
    assert parent.data.params["strategy"] == "tpe" and parent.data.params["max_trials"] == "8"
    assert "loguniform(-6, 3)" in parent.data.params["space"]
    assert parent.data.metrics["mean_val_rmse"] == pytest.approx(result.best_metric)

    # Each child holds exactly its own trial's params (two trials were always in flight).
    by_trial = {int(c.data.tags["sparktune.trial"]): c for c in children}
    assert sorted(by_trial) == list(range(8))
    for trial in result.trials:
        child = by_trial[trial.number]
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.data.params == {k: str(v) for k, v in trial.params.items()}
        assert child.data.metrics["mean_val_rmse"] == pytest.approx(trial.value, rel=1e-12)
        assert child.data.metrics["mean_train_rmse"] == pytest.approx(trial.mean(side="train"))
        assert {"std_val_rmse", "split0_val_rmse", "split1_val_rmse", "fit_time"} <= set(
            child.data.metrics
        )

    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    found = mlflow.search_runs(
        experiment_ids=[parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        output_format="pandas",
    )
    assert len(found) == 8 and found["metrics.mean_val_rmse"].notna().all()

    loaded = mlflow.spark.load_model(f"runs:/{parent.info.run_id}/model")
    ours = [r[0] for r in loaded.transform(data).select("prediction").collect()]
    theirs = [r[0] for r in result.best_model.transform(data).select("prediction").collect()]
    assert ours == pytest.approx(theirs)
    fig = result.plot()
    assert [ax.get_xlabel() for ax in fig.axes if ax.axison][0] == "trial"


def test_cross_validator_tracked(spark, data, store):
    pipe, lr = lr_pipeline()
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 1.0]).addGrid(lr.maxIter, [2, 5]).build()
    cv = sparktune.CrossValidator(
        estimator=pipe, estimatorParamMaps=grid, evaluator=rmse(), numFolds=2, seed=3, parallelism=2
    )
    model = track(cv, Tracking(store, "cv", **FAST)).fit(data)

    parents, children = split(runs_of(store, "cv"))
    assert len(parents) == 1 and len(children) == 4
    parent = parents[0]
    assert model.run_id == parent.info.run_id and model.unlogged_trials == []
    assert parent.info.status == "FINISHED"
    params = parent.data.params
    assert params["strategy"] == "grid" and params["split"] == "kfold"
    assert params["folds"] == "2" and params["parallelism"] == "2" and params["seed"] == "3"
    assert params["data.rows"] == str(data.count()) and params["data.label"] == "price"
    assert params["data.columns"] == str(len(data.columns))
    assert params["spark.master"] == spark.sparkContext.master
    assert "LinearRegression.regParam" in params["space"]

    by_trial = {int(c.data.tags["sparktune.trial"]): c for c in children}
    assert sorted(by_trial) == [0, 1, 2, 3]
    for number, param_map in enumerate(grid):
        child = by_trial[number]
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        expected = {f"LinearRegression.{p.name}": str(v) for p, v in param_map.items()}
        assert child.data.params == expected
        assert child.info.status == "FINISHED"
        metrics = child.data.metrics
        assert metrics["mean_val_rmse"] == pytest.approx(model.avgMetrics[number], rel=1e-9)
        assert {"std_val_rmse", "split0_val_rmse", "split1_val_rmse", "fit_time"} <= set(metrics)

    best = min(range(4), key=lambda i: model.avgMetrics[i])
    assert parent.data.metrics["mean_val_rmse"] == pytest.approx(model.avgMetrics[best])
    assert parent.data.tags["sparktune.best_trial"] == str(best)
    assert parent.data.metrics["trials_complete"] == 4

    client = MlflowClient(store)
    files = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"results.csv", "plots"} <= files
    plots = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    assert plots == {"plots/metric_history.png", "plots/param_effects.png"}
    table = mlflow.artifacts.load_text(f"{parent.info.artifact_uri}/results.csv")
    assert table.splitlines()[0].startswith("trial,state,param_LinearRegression.")

    assert "model" in files
    model_files = {a.path for a in client.list_artifacts(parent.info.run_id, "model")}
    assert {"model/MLmodel", "model/input_example.json"} <= model_files
    mlmodel = mlflow.artifacts.load_text(f"{parent.info.artifact_uri}/model/MLmodel")
    assert f"run_id: {parent.info.run_id}" in mlmodel and "artifact_path: model" in mlmodel
    assert "signature:" in mlmodel and "spark" in mlmodel
    # The run lists its model, as mlflow.spark.log_model would have recorded it.
    assert '"artifact_path": "model"' in parent.data.tags["mlflow.log-model.history"]


def test_failed_trial_is_a_failed_child(spark, data, store):
    failing = FailingStage()
    lr = LinearRegression(featuresCol="features", labelCol="price", maxIter=3)
    pipe = Pipeline(stages=[failing] + featurizers() + [lr])
    grid = ParamGridBuilder().addGrid(failing.fail, [False, True]).build()
    tvs = sparktune.TrainValidationSplit(
        estimator=pipe, estimatorParamMaps=grid, evaluator=rmse(), seed=1
    )
    model = track(tvs, Tracking(store, **NO_MODEL)).fit(data)
    parents, children = split(runs_of(store))
    assert len(parents) == 1 and len(children) == 2
    by_trial = {int(c.data.tags["sparktune.trial"]): c for c in children}
    ok, bad = by_trial[0], by_trial[1]
    assert ok.info.status == "FINISHED" and "mean_val_rmse" in ok.data.metrics
    assert bad.info.status == "FAILED" and bad.data.tags["sparktune.state"] == "failed"
    assert "FailingStage was asked to fail" in bad.data.tags["sparktune.error"]
    assert not [k for k in bad.data.metrics if "rmse" in k]
    assert bad.data.params == {"FailingStage.fail": "True"}
    assert parents[0].data.params["split"] == "train_ratio=0.75"
    assert model.run_id == parents[0].info.run_id


def refit_fails_pipeline():
    """A pipeline whose folds' training parts fit and whose 800-row refit fails.

    The indexer keeps labels a fold's training part lacks (a rare clarity can fall in one
    validation part only), so only the refit fails.
    """
    lr = LinearRegression(featuresCol="features", labelCol="price", maxIter=3)
    indexer, *rest = featurizers()
    indexer.setHandleInvalid("keep")
    return Pipeline(stages=[FailingStage(maxRows=700), indexer, *rest, lr]), lr


def test_a_failed_refit_keeps_the_trials_in_the_error_and_in_mlflow(spark, data, store):
    pipe, _ = refit_fails_pipeline()
    with pytest.raises(sparktune.RefitError, match=r"FailingStage got 800 rows") as caught:
        sparktune.tune(
            pipe,
            {"LinearRegression.regParam": [0.0, 1.0]},
            data,
            rmse(),
            strategy="grid",
            num_folds=2,
            seed=1,
            progress=False,
            tracking=Tracking(store, **FAST),
        )
    error = caught.value
    assert len(error.results) == 2 and (error.results["state"] == "complete").all()
    best = error.results.loc[error.results["rank"] == 1].iloc[0]
    assert error.best_params == {
        "LinearRegression.regParam": best["param_LinearRegression.regParam"]
    }
    parents, children = split(runs_of(store))
    assert len(parents) == 1 and len(children) == 2
    parent = parents[0]
    assert error.run_id == parent.info.run_id and parent.info.status == "FAILED"
    assert parent.data.metrics["mean_val_rmse"] == pytest.approx(best["mean_val_rmse"])
    artifacts = {a.path for a in MlflowClient(store).list_artifacts(parent.info.run_id)}
    assert "results.csv" in artifacts and "model" not in artifacts


def test_a_failed_refit_under_raise_policy_still_logs_the_search(spark, data, store):
    pipe, lr = refit_fails_pipeline()
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 1.0]).build()
    cv = sparktune.CrossValidator(
        estimator=pipe,
        estimatorParamMaps=grid,
        evaluator=rmse(),
        numFolds=2,
        errorPolicy="raise",
    )
    with pytest.raises(Exception, match="FailingStage got 800 rows") as raised:
        track(cv, Tracking(store, **FAST)).fit(data)
    assert not isinstance(raised.value, sparktune.RefitError)
    parents, children = split(runs_of(store))
    assert len(parents) == 1 and len(children) == 2 and parents[0].info.status == "FAILED"
    artifacts = {a.path for a in MlflowClient(store).list_artifacts(parents[0].info.run_id)}
    assert "results.csv" in artifacts


def test_no_secret_reaches_mlflow(spark, data, store, monkeypatch):
    conf_secret, env_secret = uuid.uuid4().hex, uuid.uuid4().hex
    monkeypatch.setenv("SPARKTUNE_TEST_API_TOKEN", env_secret)
    spark.conf.set("spark.hadoop.fs.s3a.secret.key", conf_secret)
    spark.conf.set("spark.hadoop.fs.s3a.endpoint", f"https://user:{conf_secret}@s3.example")
    spark.conf.set("spark.hadoop.sparktune.note", f"copied {env_secret} here")
    try:
        pipe, lr = lr_pipeline()
        grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 1.0]).build()
        tvs = sparktune.TrainValidationSplit(
            estimator=pipe, estimatorParamMaps=grid, evaluator=rmse(), seed=2
        )
        track(tvs, Tracking(store, **NO_MODEL)).fit(data)
    finally:
        for key in ("secret.key", "endpoint"):
            spark.conf.unset(f"spark.hadoop.fs.s3a.{key}")
        spark.conf.unset("spark.hadoop.sparktune.note")

    runs = runs_of(store)
    assert len(runs) == 3
    parent = split(runs)[0][0]
    assert parent.data.params["spark.hadoop.fs.s3a.secret.key"] == REDACTED
    assert "s3.example" in parent.data.params["spark.hadoop.fs.s3a.endpoint"]
    assert "copied" in parent.data.params["spark.hadoop.sparktune.note"]
    texts = [mlflow.artifacts.load_text(f"{parent.info.artifact_uri}/results.csv")]
    for run in runs:
        texts += [f"{k}={v}" for k, v in {**run.data.params, **run.data.tags}.items()]
    for text in texts:
        assert conf_secret not in text and env_secret not in text


def test_default_store_env_uri_and_off(spark, data, tmp_path, monkeypatch):
    pipe, lr = lr_pipeline()
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 1.0]).build()

    def search(tracking):
        tvs = sparktune.TrainValidationSplit(
            estimator=pipe, estimatorParamMaps=grid, evaluator=rmse(), seed=2
        )
        return track(tvs, tracking).fit(data)

    off = search(False)
    assert off.run_id is None and not (tmp_path / "mlflow.db").exists()

    mlflow.set_tracking_uri(None)
    default = search(Tracking(**NO_MODEL))
    assert (tmp_path / "mlflow.db").exists()
    assert [r.info.run_id for r in split(runs_of("sqlite:///mlflow.db"))[0]] == [default.run_id]

    elsewhere = f"sqlite:///{tmp_path}/env.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", elsewhere)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "from-env")
    from_env = search(Tracking(**NO_MODEL))
    parents, children = split(runs_of(elsewhere, "from-env"))
    assert [p.info.run_id for p in parents] == [from_env.run_id] and len(children) == 2


def test_autolog_does_not_log_fits_twice(spark, data, store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    mlflow.pyspark.ml.autolog(log_models=False, silent=True)
    try:
        pipe, lr = lr_pipeline()
        featurized = Pipeline(stages=featurizers()).fit(data).transform(data)
        before = len(runs_of(store))
        lr.fit(featurized)  # autologging is really on: this fit is a run of its own
        assert len(runs_of(store)) == before + 1
        grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 1.0, 2.0]).build()
        tvs = sparktune.TrainValidationSplit(
            estimator=pipe, estimatorParamMaps=grid, evaluator=rmse(), seed=2, parallelism=2
        )
        model = track(tvs, Tracking(experiment="tuned", **NO_MODEL)).fit(data)
        parents, children = split(runs_of(store, "tuned"))
        assert [p.info.run_id for p in parents] == [model.run_id] and len(children) == 3
        assert len(runs_of(store)) == before + 1 + 1 + 3
        from mlflow.utils.autologging_utils import autologging_is_disabled

        assert not autologging_is_disabled("pyspark.ml")
    finally:
        mlflow.pyspark.ml.autolog(disable=True)


def test_nests_under_the_callers_active_run(spark, data, store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    pipe, lr = lr_pipeline()
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 1.0]).build()
    tvs = sparktune.TrainValidationSplit(
        estimator=pipe, estimatorParamMaps=grid, evaluator=rmse(), seed=2
    )
    with mlflow.start_run() as outer:
        model = track(tvs, Tracking(**NO_MODEL)).fit(data)
    search = MlflowClient(store).get_run(model.run_id)
    assert search.data.tags["mlflow.parentRunId"] == outer.info.run_id


def test_bad_tracking_input_fails_early():
    cv = sparktune.CrossValidator()
    with pytest.raises(ValidationError, match="no scheme"):
        track(cv, "mlruns")
    with pytest.raises(ValidationError, match="tracking must be"):
        track(cv, 5)
    with pytest.raises(ValidationError, match="attempts"):
        Tracking(attempts=0)
    with pytest.raises(ValidationError, match="track\\(\\) takes"):
        track(LinearRegression())


# -- a real mlflow server ------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for the module; the outage test, which stops it, runs last."""
    started = start_server(tmp_path_factory.mktemp("server"))
    yield started
    started.stop()


@pytest.mark.server
def test_search_logged_to_a_server(spark, data, server):
    pipe, lr = lr_pipeline()
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 1.0, 3.0]).build()
    tvs = sparktune.TrainValidationSplit(
        estimator=pipe, estimatorParamMaps=grid, evaluator=rmse(), seed=4, parallelism=2
    )
    model = track(tvs, Tracking(server.url, "served", **FAST)).fit(data)
    parents, children = split(runs_of(server.url, "served"))
    assert [p.info.run_id for p in parents] == [model.run_id] and len(children) == 3
    assert all(c.data.metrics["mean_val_rmse"] > 0 for c in children)
    assert parents[0].info.artifact_uri.startswith("mlflow-artifacts:")
    mlflow.set_tracking_uri(server.url)
    try:
        loaded = mlflow.spark.load_model(f"runs:/{model.run_id}/model")
    finally:
        mlflow.set_tracking_uri(None)
    assert loaded.transform(data).filter("prediction IS NULL").count() == 0


@pytest.mark.server
def test_search_survives_the_server_dying(spark, data, server, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    pipe, lr = lr_pipeline()
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 0.5, 1.0, 2.0, 4.0, 8.0]).build()
    tvs = sparktune.TrainValidationSplit(
        estimator=pipe, estimatorParamMaps=grid, evaluator=rmse(), seed=5, parallelism=2
    )
    tvs.callbacks.append(StopServerAfter(server, 2))
    model = track(tvs, Tracking(server.url, "dying", **{**NO_MODEL, "drain_timeout": 30})).fit(data)
    assert not server.healthy()
    assert list(model.results["state"]) == ["complete"] * 6
    assert model.bestModel is not None
    # Trials that ended after the server died cannot have been logged, and are reported.
    assert set(range(2, 6)) <= set(model.unlogged_trials)
    # Whatever is in the store is complete, and is not reported as missing.
    logged = split(runs_of(server.store_uri, "dying"))[1]
    for child in logged:
        number = int(child.data.tags["sparktune.trial"])
        if number not in model.unlogged_trials:
            assert child.data.params == {
                "LinearRegression.regParam": str(grid[number][lr.regParam])
            }
    numbers = {int(c.data.tags["sparktune.trial"]) for c in logged}
    assert set(range(6)) - set(model.unlogged_trials) <= numbers
    assert os.path.exists(server.database)


def test_a_long_value_is_cut_to_the_limit_saying_exactly_how_much_was_cut():
    text = "".join(str(i % 10) for i in range(1000))
    cut = truncate(text, 100)
    kept = cut.split("...")[0]
    assert len(cut) <= 100 and text.startswith(kept)
    assert cut.endswith(f"({len(text) - len(kept)} more characters)")
    assert truncate(text, 1000) == text
