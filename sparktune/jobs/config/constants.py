"""The words a job spec may use: evaluator kinds and metrics, distributions, data formats.

Kept in one place: the models (:mod:`sparktune.jobs.config.spec` and its sections), their
error messages and the JSON Schema all read them from here.
"""

from __future__ import annotations

#: Evaluator kinds and the metric names Spark accepts for each.
METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "regression": ("RegressionEvaluator", ("rmse", "mse", "r2", "mae", "var")),
    "binary": ("BinaryClassificationEvaluator", ("areaUnderROC", "areaUnderPR")),
    "multiclass": (
        "MulticlassClassificationEvaluator",
        (
            "f1",
            "accuracy",
            "weightedPrecision",
            "weightedRecall",
            "weightedTruePositiveRate",
            "weightedFalsePositiveRate",
            "weightedFMeasure",
            "truePositiveRateByLabel",
            "falsePositiveRateByLabel",
            "precisionByLabel",
            "recallByLabel",
            "fMeasureByLabel",
            "logLoss",
            "hammingLoss",
        ),
    ),
    "clustering": ("ClusteringEvaluator", ("silhouette",)),
}

#: Distributions of the search space and the arguments each takes (choice: a list of values).
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "uniform": ("low", "high"),
    "quniform": ("low", "high", "q"),
    "loguniform": ("low", "high"),
    "qloguniform": ("low", "high", "q"),
    "normal": ("mu", "sigma"),
    "lognormal": ("mu", "sigma"),
    "randint": ("low", "high"),
    "uniformint": ("low", "high"),
    "choice": (),
}

#: File formats ``data.format`` names (Spark's reader formats).
FORMATS = ("parquet", "csv", "json", "orc", "delta")

#: A stage name: the space names its params ``name.param``, so no dots.
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
