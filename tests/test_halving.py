"""Successive halving on real Spark: GBT budgets by maxIter, rows rungs, resume, MLflow, errors."""

from __future__ import annotations

import json

import pytest
from conftest import featurizers
from mlflow import MlflowClient
from pyspark.ml import Pipeline
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.regression import GBTRegressor, LinearRegression
from pyspark.ml.tuning import CrossValidatorModel, ParamGridBuilder
from test_tune import TagRecorder, jobs_submitted, trial_jobs

import sparktune
from sparktune import ASHA, TrialState, ValidationError


@pytest.fixture(scope="module")
def small(diamonds):
    frame = diamonds.limit(900).cache()
    frame.count()
    yield frame
    frame.unpersist()


def rmse():
    return RegressionEvaluator(labelCol="price", metricName="rmse")


def gbt_pipeline():
    gbt = GBTRegressor(featuresCol="features", labelCol="price", maxDepth=3, seed=1)
    return Pipeline(stages=featurizers() + [gbt]), gbt


SPACE = {"GBTRegressor.maxDepth": [2, 3, 4], "GBTRegressor.stepSize": [0.05, 0.2, 0.5]}


def spans(jobs, gap=1.5):
    """Each trial's evaluations as (start, end) spans: its jobs less than ``gap`` s apart."""
    by_trial: dict[int, list[tuple[int, int]]] = {}
    for trial, start, end in sorted(jobs, key=lambda j: j[1]):
        runs = by_trial.setdefault(trial, [])
        if runs and start - runs[-1][1] < gap * 1000:
            runs[-1] = (runs[-1][0], max(runs[-1][1], end))
        else:
            runs.append((start, end))
    return by_trial


def test_asha_over_gbt_iterations_promotes_by_the_rule_and_picks_from_the_top_rung(spark, small):
    pipe, _ = gbt_pipeline()
    recorder = TagRecorder()
    result = sparktune.tune(
        pipe,
        SPACE,
        small,
        rmse(),
        strategy="grid",
        scheduler=ASHA(min_resource=1, max_resource=9),
        parallelism=2,
        train_ratio=0.75,
        seed=3,
        callbacks=[recorder],
        progress=False,
        tracking=False,
    )
    trials = result.trials
    assert len(trials) == 9
    assert all(t.rungs and t.rungs[0].resource == 1.0 for t in trials)
    assert sum(t.rung >= 1 for t in trials) <= 3
    assert sum(t.rung >= 2 for t in trials) <= 1
    assert {t.state for t in trials} == {TrialState.COMPLETE, TrialState.PRUNED}
    best = result.best_trial
    assert best.state is TrialState.COMPLETE and best.rungs[-1].resource == 9.0
    assert best.value == min(t.value for t in trials if t.state is TrialState.COMPLETE)
    table = result.results
    assert {"rung", "resource", "rung0_val_rmse"} <= set(table.columns)
    assert table.loc[table["state"] == "pruned", "rank"].isna().all()
    assert result.best_model.stages[-1].getMaxIter() == 9
    # k in flight: from the second trial's first job (the first builds the shared featurized
    # fold alone) until the last evaluation starts, both slots are busy most of the time
    by_trial = spans(trial_jobs(spark, recorder.tag))
    every = sorted(s for runs in by_trial.values() for s in runs)
    start = sorted(runs[0][0] for runs in by_trial.values())[1]
    last_start = every[-1][0]
    step = max((last_start - start) // 200, 1)
    moments = range(start, last_start, step)
    busy = [sum(a <= m < b for a, b in every) >= 2 for m in moments]
    assert sum(busy) / len(busy) >= 0.6, f"two evaluations at once only {sum(busy)}/{len(busy)}"


class CountingEvaluator(RegressionEvaluator):
    """RMSE that also records how many rows each scored DataFrame had."""

    counts: list[int] = []

    def _evaluate(self, dataset):
        CountingEvaluator.counts.append(dataset.count())
        return super()._evaluate(dataset)


def test_rows_rungs_fit_on_fewer_rows_and_score_on_the_whole_validation_part(spark, small):
    lr = LinearRegression(featuresCol="features", labelCol="price", maxIter=10)
    pipe = Pipeline(stages=[*featurizers(), lr])
    CountingEvaluator.counts = []
    result = sparktune.tune(
        pipe,
        {"LinearRegression.regParam": [0.0, 0.1, 1.0, 10.0, 100.0, 1000.0]},
        small,
        CountingEvaluator(labelCol="price", metricName="rmse"),
        strategy="grid",
        scheduler=ASHA("rows", min_resource=1 / 3, max_resource=1.0),
        train_ratio=0.75,
        seed=5,
        train_metrics=False,
        progress=False,
        tracking=False,
        refit=False,
    )
    assert [r.resource for r in result.trials[0].rungs][0] == pytest.approx(1 / 3)
    assert sum(t.rung == 1 for t in result.trials) == 2  # 6 // 3
    counts = CountingEvaluator.counts
    assert len(counts) == 6 + 2  # every rung scored once per trial (one split)
    assert len(set(counts)) == 1 and counts[0] < small.count()


@pytest.mark.parametrize(
    ("scheduler", "space", "words"),
    [
        (ASHA("numTrees", 1, 9), {}, "has no param 'numTrees'"),
        (ASHA("maxIter", 1, 9), {"LinearRegression.maxIter": [5, 10]}, "also in the search space"),
        (ASHA("StandardScaler.withMean", 1, 9), {}, "must be a param of the final estimator"),
        (ASHA("maxIter", 1.5, 9), {}, "whole numbers"),
        ("asha", {}, "scheduler must be sparktune.ASHA"),
    ],
)
def test_a_bad_resource_is_refused_before_any_spark_job(spark, small, scheduler, space, words):
    lr = LinearRegression(featuresCol="features", labelCol="price")
    pipe = Pipeline(stages=[*featurizers(), lr])
    space = {"LinearRegression.regParam": [0.0, 1.0], **space}
    before = jobs_submitted(spark)
    with pytest.raises(ValidationError, match=words):
        sparktune.tune(
            pipe, space, small, rmse(), scheduler=scheduler, progress=False, tracking=False
        )
    assert jobs_submitted(spark) == before


def test_a_trial_killed_at_rung_one_resumes_there_and_mlflow_logs_each_rung(spark, small, tmp_path):
    pipe, _ = gbt_pipeline()
    checkpoint = tmp_path / "search.json"
    settings = dict(
        strategy="grid",
        scheduler=ASHA(min_resource=1, max_resource=9),
        train_ratio=0.75,
        seed=3,
        progress=False,
        checkpoint=checkpoint,
        refit=False,
    )
    first = sparktune.tune(pipe, SPACE, small, rmse(), tracking=False, **settings)
    document = json.loads(checkpoint.read_text())
    # As if the process died while the best trial ran rung 1: it had finished rung 0 only.
    best = first.best_trial.number
    entry = next(e for e in document["trials"] if e["number"] == best)
    entry.update(state="paused", promoted=True, rungs=entry["rungs"][:1])
    checkpoint.write_text(json.dumps(document))
    store = f"sqlite:///{tmp_path}/mlflow.db"
    second = sparktune.tune(pipe, SPACE, small, rmse(), tracking=store, resume=True, **settings)
    again = {t.number: t for t in second.trials}
    assert [r.index for r in again[best].rungs] == [0, 1, 2]
    assert again[best].rungs[0] == first.best_trial.rungs[0]  # rung 0 not run again
    for number, trial in again.items():
        if number != best:
            assert trial.started == first.trials[number].started  # restored, not rerun
    assert second.best_metric == pytest.approx(first.best_metric, rel=1e-9)
    client = MlflowClient(store)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    child = next(
        r for r in runs if r.data.tags.get("sparktune.trial") == str(best) and r.info.status
    )
    history = client.get_metric_history(child.info.run_id, "mean_val_rmse")
    assert sorted(m.step for m in history) == [1, 3, 9]
    states = {r.data.tags.get("sparktune.state") for r in runs}
    assert "pruned" in states


def halving_cv(**params):
    pipe, gbt = gbt_pipeline()
    grid = (
        ParamGridBuilder()
        .addGrid(gbt.maxDepth, [2, 3, 4])
        .addGrid(gbt.stepSize, [0.05, 0.2, 0.5])
        .build()
    )
    settings = dict(factor=3, minResource=1, maxResource=9, numFolds=2, parallelism=2, seed=3)
    return sparktune.HalvingCrossValidator(
        estimator=pipe, estimatorParamMaps=grid, evaluator=rmse(), **{**settings, **params}
    )


def test_halving_cross_validator_bounds_promotions_and_loads_with_pyspark(spark, small, tmp_path):
    cv = halving_cv()
    assert cv.getResource() is None and cv.getFactor() == 3
    cv.save(str(tmp_path / "cv"))
    again = sparktune.HalvingCrossValidator.load(str(tmp_path / "cv"))
    assert (again.getFactor(), again.getMinResource(), again.getMaxResource()) == (3, 1, 9)
    model = cv.fit(small)
    assert isinstance(model, CrossValidatorModel)
    table = model.results
    assert len(table) == 9 and (table["rung"] >= 1).sum() <= 3
    assert (table["rung"] >= 2).sum() <= 1
    assert set(table["state"]) == {"complete", "pruned"}
    # avgMetrics of a pruned map: its metric at the last rung it reached (a lower budget)
    pruned = table.loc[table["state"] == "pruned"]
    assert (pruned["resource"] < 9).all()
    for row in pruned.itertuples():
        assert model.avgMetrics[row.trial] == pytest.approx(row.mean_val_rmse)
    assert model.bestModel.stages[-1].getMaxIter() == 9
    model.save(str(tmp_path / "model"))
    loaded = CrossValidatorModel.load(str(tmp_path / "model"))
    assert type(loaded) is CrossValidatorModel
    assert loaded.avgMetrics == pytest.approx(model.avgMetrics, nan_ok=True)
    assert loaded.bestModel.stages[-1].getMaxIter() == 9
    assert loaded.transform(small.limit(5)).select("prediction").count() == 5


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"factor": 1.5}, "reduction_factor must be a number >= 2"),
        ({"minResource": 9, "maxResource": 3}, "must be below max_resource"),
        ({"resource": "numTrees"}, "has no param 'numTrees'"),
    ],
)
def test_halving_cross_validator_refuses_bad_input_before_any_spark_job(
    spark, small, params, words
):
    cv = halving_cv(**params)
    before = jobs_submitted(spark)
    with pytest.raises(ValidationError, match=words):
        cv.fit(small)
    assert jobs_submitted(spark) == before


def test_halving_cross_validator_refuses_a_resource_in_the_param_maps(spark, small):
    pipe, gbt = gbt_pipeline()
    grid = ParamGridBuilder().addGrid(gbt.maxIter, [3, 9]).build()
    cv = sparktune.HalvingCrossValidator(
        estimator=pipe, estimatorParamMaps=grid, evaluator=rmse(), minResource=1, maxResource=9
    )
    before = jobs_submitted(spark)
    with pytest.raises(ValidationError, match="also in the search space"):
        cv.fit(small)
    assert jobs_submitted(spark) == before
