"""Checks of a search's input that run before any fit, each naming the input and the fix."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from py4j.protocol import Py4JJavaError
from pyspark.errors import IllegalArgumentException
from pyspark.ml.evaluation import Evaluator, JavaEvaluator
from pyspark.ml.param import Params
from pyspark.sql import DataFrame

from sparktune.errors import ValidationError


def check_evaluator(evaluator: Evaluator) -> None:
    """Fail when an evaluator's params (e.g. metricName) are not ones Spark accepts."""
    if not isinstance(evaluator, Evaluator):
        raise ValidationError(
            f"evaluator must be a pyspark.ml.evaluation.Evaluator, got {type(evaluator)!r}."
        )
    if isinstance(evaluator, JavaEvaluator):
        try:
            evaluator._transfer_params_to_java()
        except (IllegalArgumentException, Py4JJavaError) as exc:
            doc = evaluator.getParam("metricName").doc if evaluator.hasParam("metricName") else ""
            metric = (
                evaluator.getOrDefault("metricName") if evaluator.hasParam("metricName") else ""
            )
            raise ValidationError(
                f"{type(evaluator).__name__} does not accept metricName {metric!r}: {doc}"
            ) from exc


def check_not_empty(dataset: DataFrame) -> None:
    """Fail on a DataFrame with no rows (one cheap job, before any fit)."""
    if not isinstance(dataset, DataFrame):
        raise ValidationError(f"The data must be a Spark DataFrame, got {type(dataset)!r}.")
    if dataset.isEmpty():
        raise ValidationError("The DataFrame to tune on is empty: it has no rows.")


def _output_columns(stage: Params) -> list[str]:
    names = []
    for param_name in (
        "outputCol",
        "outputCols",
        "predictionCol",
        "probabilityCol",
        "rawPredictionCol",
    ):
        if stage.hasParam(param_name) and stage.isDefined(stage.getParam(param_name)):
            value = stage.getOrDefault(param_name)
            names.extend(value if isinstance(value, list) else [value])
    return names


def check_columns(
    dataset: DataFrame, stages: Sequence[Params], evaluators: Mapping[str, Evaluator]
) -> None:
    """Fail when a stage's input or label column, or an evaluator's label column, is missing.

    Columns made by earlier stages count as present, so only names that nothing provides
    are reported.
    """
    available = set(dataset.columns)
    for stage in stages:
        for param_name in ("inputCol", "inputCols", "labelCol", "featuresCol", "weightCol"):
            if not stage.hasParam(param_name) or not stage.isDefined(stage.getParam(param_name)):
                continue
            value = stage.getOrDefault(param_name)
            missing = [c for c in _as_list(value) if c and c not in available]
            if missing:
                raise ValidationError(
                    f"Stage {stage.uid} ({type(stage).__name__}) reads {param_name}={value!r}, "
                    f"but column(s) {missing} are neither in the data nor made by an earlier "
                    f"stage. Data columns: {dataset.columns}."
                )
        available.update(_output_columns(stage))
    for name, evaluator in evaluators.items():
        if evaluator.hasParam("labelCol"):
            label = evaluator.getOrDefault("labelCol")
            if label not in available:
                raise ValidationError(
                    f"Evaluator {name!r} reads labelCol={label!r}, which is not a column of the "
                    f"data nor made by a stage. Data columns: {dataset.columns}."
                )


def _as_list(value: object) -> Iterable[str]:
    return value if isinstance(value, list) else [value]  # type: ignore[return-value]
