"""Racing over folds on a real session: the drop-in (saved and loaded with pyspark's
loader), ``tune(scheduler=Racing(...))`` for Spark ML with repeats and resume, and for a
scikit-learn estimator.

Ridge penalties of 1e4 and 1e5 on diamonds' price predict little more than the mean: their
RMSE is worse on every fold, so the paired test drops them right after the burn-in.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import featurizers
from hyperopt import hp
from pyspark.ml import Pipeline
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.regression import LinearRegression
from pyspark.ml.tuning import CrossValidatorModel, ParamGridBuilder
from sklearn.linear_model import Ridge

import sparktune
from sparktune import Racing, TrialState, ValidationError


@pytest.fixture(scope="module")
def small(diamonds):
    frame = diamonds.limit(600).cache()
    frame.count()
    yield frame
    frame.unpersist()


def rmse():
    return RegressionEvaluator(labelCol="price", metricName="rmse")


def linear():
    lr = LinearRegression(featuresCol="features", labelCol="price", maxIter=10)
    return Pipeline(stages=featurizers() + [lr]), lr


def test_racing_cross_validator_drops_bad_maps_after_burn_in_and_loads_with_pyspark(
    spark, small, tmp_path
):
    pipe, lr = linear()
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 1.0, 1e4, 1e5]).build()
    cv = sparktune.RacingCrossValidator(
        estimator=pipe, estimatorParamMaps=grid, evaluator=rmse(), numFolds=5, burnIn=3,
        parallelism=2, seed=5,
    )  # fmt: skip
    cv.save(str(tmp_path / "cv"))
    again = sparktune.RacingCrossValidator.load(str(tmp_path / "cv"))
    assert (again.getBurnIn(), again.getAlpha(), again.getTest()) == (3, 0.05, "anova")
    model = cv.fit(small)
    assert isinstance(model, CrossValidatorModel)
    table = model.results.set_index("trial")
    assert list(table.loc[[2, 3], "folds_run"]) == [3, 3]
    assert set(table.loc[[2, 3], "state"]) == {"pruned"}
    assert table.loc[2, "stopped_because"].startswith("racing: worse than trial")
    complete = table[table["state"] == "complete"]
    assert len(complete) >= 1 and (complete["folds_run"] == 5).all()
    assert set(table["state"]) <= {"complete", "pruned"}
    # a dropped map's avgMetrics entry is its mean over the folds it ran
    dropped = [table.loc[3, f"split{k}_val_rmse"] for k in range(3)]
    assert np.isnan(table.loc[3, "split3_val_rmse"])
    assert model.avgMetrics[3] == pytest.approx(np.mean(dropped))
    best = int(
        np.argmin(
            [m if s == "complete" else np.inf for m, s in zip(model.avgMetrics, table["state"])]
        )
    )
    assert model.bestModel.stages[-1].getRegParam() == grid[best][lr.regParam]
    model.save(str(tmp_path / "model"))
    loaded = CrossValidatorModel.load(str(tmp_path / "model"))
    assert type(loaded) is CrossValidatorModel
    assert loaded.avgMetrics == pytest.approx(model.avgMetrics)
    assert loaded.transform(small.limit(5)).select("prediction").count() == 5


def test_tune_races_over_repeated_folds_and_a_killed_race_resumes_where_it_was(
    spark, small, tmp_path
):
    pipe, _ = linear()
    checkpoint = tmp_path / "race.json"
    settings = dict(
        strategy="grid", scheduler=Racing(burn_in=3, num_repeats=2), num_folds=3, seed=2,
        progress=False, tracking=False, checkpoint=checkpoint, refit=False,
    )  # fmt: skip
    space = {"LinearRegression.regParam": [0.0, 1e4, 1e5]}
    first = sparktune.tune(pipe, space, small, rmse(), **settings)
    table = first.results.set_index("trial")
    assert {f"split{k}_val_rmse" for k in range(6)} <= set(table.columns)
    assert list(table["folds_run"]) == [6, 3, 3]
    # the second repeat cuts other folds: its metrics are not the first repeat's
    assert table.loc[0, "split3_val_rmse"] != table.loc[0, "split0_val_rmse"]
    document = json.loads(checkpoint.read_text())
    # as if the process died while the leader, alone in the race, ran its last three folds
    entry = document["trials"][0]
    entry.update(state="paused", promoted=True, folds=entry["folds"][:3], rungs=entry["rungs"][:1])
    checkpoint.write_text(json.dumps(document))
    second = sparktune.tune(pipe, space, small, rmse(), resume=True, **settings)
    again = {t.number: t for t in second.trials}
    assert [len(again[n].folds) for n in range(3)] == [6, 3, 3]
    # the burn-in folds were not run again
    assert [f.metrics for f in again[0].folds] == [f.metrics for f in first.trials[0].folds][:3] + [
        f.metrics for f in again[0].folds[3:]
    ]
    assert [f.fit_time for f in again[0].folds[:3]] == [
        f.fit_time for f in first.trials[0].folds[:3]
    ]
    assert again[0].state is TrialState.COMPLETE
    assert again[1].started == first.trials[1].started  # restored, not rerun
    assert second.best_metric == pytest.approx(first.best_metric, rel=1e-9)


def test_racing_needs_a_k_fold_split_before_any_spark_job(spark, small):
    pipe, _ = linear()
    with pytest.raises(ValidationError, match="needs a k-fold split"):
        sparktune.tune(
            pipe, {"LinearRegression.regParam": [0.0, 1.0]}, small, rmse(), strategy="grid",
            scheduler=Racing(), train_ratio=0.75, progress=False, tracking=False,
        )  # fmt: skip
    with pytest.raises(ValidationError, match="more folds than burn_in"):
        sparktune.tune(
            pipe, {"LinearRegression.regParam": [0.0, 1.0]}, small, rmse(), strategy="grid",
            scheduler=Racing(burn_in=3), num_folds=3, progress=False, tracking=False,
        )  # fmt: skip


def test_a_scikit_learn_search_by_tpe_races_over_folds(spark):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = x @ np.array([2.0, -1.0, 0.5]) + rng.normal(scale=0.3, size=200)
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=y)
    space = {"alpha": hp.choice("alpha", [0.01, 0.1, 1e5, 1e6])}
    result = sparktune.tune(
        Ridge(), space, frame, "neg_root_mean_squared_error", label="y", strategy="tpe",
        max_trials=6, num_folds=6, scheduler=Racing(burn_in=3), seed=1, parallelism=2,
        progress=False, tracking=False,
    )  # fmt: skip
    table = result.results
    strong = table["param_alpha"] >= 1e4
    assert (table.loc[strong, "state"] == "pruned").all()
    assert (table.loc[strong, "folds_run"] == 3).all()
    assert strong.any() and not strong.all()
    assert result.best_trial.params["alpha"] < 1e4
    assert len(result.best_trial.folds) == 6
