"""Metric and task agree: checks, before any fit, that the metric suits the estimator and label.

A classification metric on a regressor's predictions (``accuracy`` of ``LinearRegression``)
or a regression metric on a classifier's would score every trial without an error and
return a meaningless "best" model. So would an evaluator that reads a column nothing
produces (``areaUnderROC`` needs ``rawPrediction``), or a classification metric on a
continuous label. Each is refused here with the metric, the label and the estimator named.
The kinds are read from the classes (no Spark), so ``sparktune validate`` finds them too;
only the label's values take one aggregate job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.ml.evaluation import Evaluator
from pyspark.ml.param import Params
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from sparktune.core.errors import ValidationError

CLASSIFICATION, REGRESSION, CLUSTERING = "classification", "regression", "clustering"

#: The task each pyspark evaluator scores, by class name.
EVALUATOR_TASKS = {
    "RegressionEvaluator": REGRESSION,
    "BinaryClassificationEvaluator": CLASSIFICATION,
    "MulticlassClassificationEvaluator": CLASSIFICATION,
    "ClusteringEvaluator": CLUSTERING,
}

#: Metrics to suggest instead, per task.
SUGGESTED = {
    REGRESSION: "a regression metric (rmse, mae, r2)",
    CLASSIFICATION: "a classification metric (areaUnderROC, f1, accuracy)",
}

#: The evaluator param that names the column a metric reads, by evaluator class.
_READS = {
    "RegressionEvaluator": "predictionCol",
    "BinaryClassificationEvaluator": "rawPredictionCol",
    "MulticlassClassificationEvaluator": "predictionCol",
    "ClusteringEvaluator": "predictionCol",
}


def stage_task(cls: type) -> str | None:
    """The task a stage class learns (classification, regression, clustering), if known.

    Read from its module (``pyspark.ml.classification`` ...) or, for other libraries such as
    ``xgboost.spark``, from its name (``...Classifier``, ``...Regressor``).
    """
    module, name = cls.__module__, cls.__name__
    classifier = name.endswith(("Classifier", "LogisticRegression"))
    if module.startswith("pyspark.ml.classification") or classifier:
        return CLASSIFICATION
    if module.startswith("pyspark.ml.regression") or name.endswith(("Regressor", "Regression")):
        return REGRESSION
    if module.startswith("pyspark.ml.clustering"):
        return CLUSTERING
    return None


def read_param(evaluator_class: str, metric: str) -> str | None:
    """The param naming the column ``metric`` of ``evaluator_class`` reads besides the label."""
    if evaluator_class == "MulticlassClassificationEvaluator" and metric == "logLoss":
        return "probabilityCol"
    return _READS.get(evaluator_class)


def task_problem(
    evaluator_class: str, metric: str, label: str | None, predictor: str, predictor_cls: type
) -> str | None:
    """Why ``metric`` cannot score ``predictor`` (a stage named so, of ``predictor_cls``),
    or None: a classification metric on a regressor, a regression metric on a classifier."""
    task = EVALUATOR_TASKS.get(evaluator_class)
    own = stage_task(predictor_cls)
    if task not in SUGGESTED or own not in SUGGESTED or own == task:
        return None
    what = "regressor" if own == REGRESSION else "classifier"
    return (
        f"metric {metric!r} ({evaluator_class}) scores a {task}, but the final estimator "
        f"{predictor!r} ({predictor_cls.__name__}) is a {what} of label {label!r}: every "
        f"trial would be scored meaninglessly. Use {SUGGESTED[own]}, or a "
        f"{'classifier' if own == REGRESSION else 'regressor'}."
    )


def missing_input_problem(
    evaluator_class: str,
    metric: str,
    param: str,
    column: str,
    label: str | None,
    predictor: str | None,
    predictor_cls: type | None,
) -> str:
    """The message for a metric whose input column (``param`` = ``column``) nothing makes."""
    by = (
        f"its final estimator {predictor!r} ({predictor_cls.__name__}) has no {param}"
        if predictor_cls is not None and not hasattr(predictor_cls, param)
        else "no stage makes it"
    )
    hint = (
        f"Use {SUGGESTED[REGRESSION]} for a regressor, or a classifier"
        if predictor_cls is not None and stage_task(predictor_cls) == REGRESSION
        else f"Set the evaluator's {param} to a column the pipeline makes"
    )
    return (
        f"metric {metric!r} ({evaluator_class}) reads {param}={column!r}, which the pipeline "
        f"does not produce: {by} (label {label!r}). {hint}."
    )


def final_predictor(stages: Sequence[Params]) -> Params | None:
    """The last stage that predicts (it has a ``predictionCol``), if any."""
    return next((s for s in reversed(stages) if s.hasParam("predictionCol")), None)


def check_task(
    dataset: DataFrame,
    stages: Sequence[Params],
    evaluators: Mapping[str, Evaluator],
    made: set[str],
) -> None:
    """Fail when an evaluator does not suit the pipeline's final estimator or the label.

    ``made`` are the columns the stages add. Class-level mismatches are found without a
    job; a classification metric's label values take one aggregate job.
    """
    predictor = final_predictor(stages)
    available = set(dataset.columns) | made
    for evaluator in evaluators.values():
        kind = type(evaluator).__name__
        metric = _param(evaluator, "metricName") or kind
        label = _param(evaluator, "labelCol")
        if predictor is not None:
            problem = task_problem(kind, metric, label, predictor.uid, type(predictor))
            if problem:
                raise ValidationError(problem)
        param = read_param(kind, metric)
        column = _param(evaluator, param) if param else None
        if column is not None and column not in available:
            raise ValidationError(
                missing_input_problem(
                    kind,
                    metric,
                    param or "",
                    column,
                    label,
                    predictor.uid if predictor is not None else None,
                    type(predictor) if predictor is not None else None,
                )
            )
    _check_label_values(dataset, evaluators, made, predictor)


def _check_label_values(
    dataset: DataFrame,
    evaluators: Mapping[str, Evaluator],
    made: set[str],
    predictor: Params | None,
) -> None:
    """A classification metric needs whole-number labels (binary ones: 0 and 1)."""
    numeric = {f.name for f in dataset.schema.fields if isinstance(f.dataType, T.NumericType)}
    wanted: dict[str, tuple[str, str, bool]] = {}
    for evaluator in evaluators.values():
        kind = type(evaluator).__name__
        label = _param(evaluator, "labelCol")
        if EVALUATOR_TASKS.get(kind) != CLASSIFICATION or label not in numeric or label in made:
            continue
        binary = kind == "BinaryClassificationEvaluator"
        metric = _param(evaluator, "metricName") or kind
        if label not in wanted or binary:
            wanted[label] = (kind, metric, binary)
    if not wanted:
        return
    columns = []
    for label, (_, _, binary) in wanted.items():
        value = F.col(label)
        bad = {"fraction": value != F.floor(value)}
        if binary:
            bad["other"] = ~value.isin(0, 1)
        for what, condition in bad.items():
            columns.append(F.count(F.when(condition, 1)).alias(f"{label}#{what}"))
            columns.append(F.max(F.when(condition, value)).alias(f"{label}#{what}_example"))
    row = dataset.select(*columns).first()
    found = row.asDict() if row is not None else {}
    estimator = (
        f"the final estimator {predictor.uid!r} ({type(predictor).__name__})"
        if predictor is not None
        else "the pipeline"
    )
    for label, (kind, metric, binary) in wanted.items():
        rows, example = found.get(f"{label}#fraction"), found.get(f"{label}#fraction_example")
        if rows:
            raise ValidationError(
                f"metric {metric!r} ({kind}) scores classes, but the label column {label!r} "
                f"holds non-integer values (e.g. {example}) in {rows} row(s): it looks "
                f"continuous, so {estimator} would be scored meaninglessly. Use "
                f"{SUGGESTED[REGRESSION]} with a regressor, or make the label classes first "
                "(e.g. Bucketizer)."
            )
        rows, example = found.get(f"{label}#other"), found.get(f"{label}#other_example")
        if binary and rows:
            raise ValidationError(
                f"metric {metric!r} ({kind}) needs labels 0 and 1, but the label column "
                f"{label!r} has other values (e.g. {example}) in {rows} row(s) for "
                f"{estimator}. Use a MulticlassClassificationEvaluator metric (f1, accuracy) "
                "for more classes."
            )


def _param(holder: Params, name: str) -> Any:
    """``holder``'s value of the param ``name``, or None when it has no such (set) param."""
    if not holder.hasParam(name) or not holder.isDefined(holder.getParam(name)):
        return None
    return holder.getOrDefault(name)
