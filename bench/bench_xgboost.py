"""Issue 7: SparkXGBRegressor after the diamonds featurizers.

8 param maps x 3 folds: pyspark ``CrossValidator(parallelism=2)`` against
``sparktune.CrossValidator(parallelism=2)`` (same seed, so the same folds and metrics), then
a 16-trial TPE search with ``sparktune.tune`` at parallelism 2.
"""

from __future__ import annotations

import math

from hyperopt import hp
from pyspark.ml import Pipeline
from pyspark.ml import tuning as pt
from pyspark.ml.evaluation import RegressionEvaluator
from xgboost.spark import SparkXGBRegressor

import sparktune
from bench.common import diamonds, featurizers, session, timed, warm_up

SEED = 7


def regressor() -> SparkXGBRegressor:
    """One XGBoost worker per fit, so two fits share local[2]'s two slots."""
    return SparkXGBRegressor(
        features_col="features", label_col="price", n_estimators=50, num_workers=1, verbosity=0
    )


def main() -> dict[str, float]:
    """Time both CrossValidators and the TPE search; print and return the figures."""
    spark = session()
    data = diamonds(spark)
    warm_up(data)
    evaluator = RegressionEvaluator(labelCol="price", metricName="rmse")
    stage = regressor()
    pipe = Pipeline(stages=featurizers() + [stage])
    grid = (
        pt.ParamGridBuilder()
        .addGrid(stage.max_depth, [4, 6])
        .addGrid(stage.learning_rate, [0.1, 0.3])
        .addGrid(stage.min_child_weight, [1.0, 5.0])
        .build()
    )
    common = dict(
        estimator=pipe, estimatorParamMaps=grid, evaluator=evaluator, numFolds=3, seed=SEED
    )
    print(f"diamonds: {data.count()} rows, SparkXGBRegressor, 8 param maps x 3 folds, local[2]")
    t_pyspark, theirs = timed(
        "pyspark CrossValidator(parallelism=2)",
        lambda: pt.CrossValidator(parallelism=2, **common).fit(data),
    )
    t_ours, ours = timed(
        "sparktune CrossValidator(parallelism=2)",
        lambda: sparktune.CrossValidator(parallelism=2, **common).fit(data),
    )
    worst = max(abs(a - b) / abs(b) for a, b in zip(ours.avgMetrics, theirs.avgMetrics))
    space = {
        "SparkXGBRegressor.max_depth": hp.quniform("max_depth", 3, 8, 1),
        "SparkXGBRegressor.learning_rate": hp.loguniform("eta", math.log(0.03), math.log(0.5)),
        "SparkXGBRegressor.min_child_weight": hp.loguniform("mcw", 0.0, math.log(20.0)),
        "SparkXGBRegressor.subsample": hp.uniform("subsample", 0.6, 1.0),
    }
    t_tpe, tuned = timed(
        "sparktune tune(strategy='tpe', 16 trials, p=2)",
        lambda: sparktune.tune(
            Pipeline(stages=featurizers() + [regressor()]),
            space,
            data,
            evaluator,
            strategy="tpe",
            max_trials=16,
            parallelism=2,
            num_folds=3,
            seed=SEED,
            refit=False,
            train_metrics=False,
            tracking=False,
            progress=False,
        ),
    )
    out = {
        "rows": float(data.count()),
        "pyspark_cv_p2_s": t_pyspark,
        "sparktune_cv_p2_s": t_ours,
        "ratio_vs_pyspark_p2": t_ours / t_pyspark,
        "best_rmse_pyspark": min(theirs.avgMetrics),
        "best_rmse_sparktune": min(ours.avgMetrics),
        "max_rel_metric_diff": worst,
        "tpe_16_trials_s": t_tpe,
        "tpe_best_rmse": tuned.best_metric,
    }
    print(
        f"  sparktune/pyspark: {out['ratio_vs_pyspark_p2']:.2f}x of parallelism=2; best rmse "
        f"{out['best_rmse_sparktune']:.2f} vs {out['best_rmse_pyspark']:.2f} (max relative "
        f"metric difference {worst:.1e}); TPE best rmse {tuned.best_metric:.2f} "
        f"with {tuned.best_params}"
    )
    data.unpersist()
    return out
