"""Checks of a search's input that run before any fit, each naming the input and the fix."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from py4j.protocol import Py4JJavaError
from pyspark.errors import IllegalArgumentException
from pyspark.ml.evaluation import Evaluator, JavaEvaluator
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.linalg import VectorUDT
from pyspark.ml.param import Param, Params
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from sparktune.compat.pyspark import is_remote_stage, push_params_to_jvm
from sparktune.core.errors import ValidationError
from sparktune.spark.splits import Fold

logger = logging.getLogger(__name__)

#: Evaluator kinds, their classes and the metric names Spark accepts for each (checked
#: client-side on Spark Connect, where the evaluator's params cannot reach a JVM).
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

#: Column types a VectorAssembler takes.
_ASSEMBLED = (T.NumericType, T.BooleanType, VectorUDT)


def check_evaluator(evaluator: Evaluator) -> None:
    """Fail when an evaluator's params (e.g. metricName) are not ones Spark accepts."""
    if not isinstance(evaluator, Evaluator):
        raise ValidationError(
            f"evaluator must be a pyspark.ml.evaluation.Evaluator, got {type(evaluator)!r}."
        )
    if isinstance(evaluator, JavaEvaluator) and is_remote_stage(evaluator):
        _check_metric_name(evaluator)  # Spark Connect: the evaluator lives on the server
    elif isinstance(evaluator, JavaEvaluator):
        try:
            push_params_to_jvm(evaluator)
        except (IllegalArgumentException, Py4JJavaError) as exc:
            doc = evaluator.getParam("metricName").doc if evaluator.hasParam("metricName") else ""
            metric = (
                evaluator.getOrDefault("metricName") if evaluator.hasParam("metricName") else ""
            )
            raise ValidationError(
                f"{type(evaluator).__name__} does not accept metricName {metric!r}: {doc}"
            ) from exc


def _check_metric_name(evaluator: JavaEvaluator) -> None:
    """Fail when ``evaluator``'s metricName is not one its class accepts (known classes)."""
    accepted = {cls: names for cls, names in METRICS.values()}.get(type(evaluator).__name__)
    if accepted is None or not evaluator.hasParam("metricName"):
        return
    metric = evaluator.getOrDefault("metricName")
    if metric not in accepted:
        raise ValidationError(
            f"{type(evaluator).__name__} does not accept metricName {metric!r}: "
            f"{evaluator.getParam('metricName').doc}"
        )


def check_param_maps(param_maps: Sequence[Mapping[Param, Any]]) -> None:
    """Fail when a param map gives a value its Param's type converter rejects.

    pyspark's ParamMaps bypass the converters, so such a value would otherwise fail each fit.
    """
    for index, param_map in enumerate(param_maps):
        for param, value in param_map.items():
            try:
                param.typeConverter(value)
            except TypeError as exc:
                raise ValidationError(
                    f"estimatorParamMaps[{index}] sets {param.parent}.{param.name} to {value!r}, "
                    f"which that param does not take ({exc}); give a value of its type."
                ) from None


def check_not_empty(dataset: DataFrame) -> None:
    """Fail on a DataFrame with no rows (one cheap job, before any fit)."""
    if not isinstance(dataset, DataFrame):
        raise ValidationError(f"The data must be a Spark DataFrame, got {type(dataset)!r}.")
    if dataset.isEmpty():
        raise ValidationError("The DataFrame to tune on is empty: it has no rows.")


def output_columns(stage: Params) -> list[str]:
    """The columns ``stage`` adds to the data (its output/prediction column params)."""
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
    made: set[str] = set()
    for stage in stages:
        _check_input_types(dataset, stage, made)
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
        available.update(output_columns(stage))
        made.update(output_columns(stage))
    for name, evaluator in evaluators.items():
        if evaluator.hasParam("labelCol"):
            label = evaluator.getOrDefault("labelCol")
            if label not in available:
                raise ValidationError(
                    f"Evaluator {name!r} reads labelCol={label!r}, which is not a column of the "
                    f"data nor made by a stage. Data columns: {dataset.columns}."
                )


def _check_input_types(dataset: DataFrame, stage: Params, made: set[str]) -> None:
    """Fail when a data column has a type the stage cannot read (found from the schema, no job).

    A VectorAssembler takes numeric, boolean and vector columns; a label is numeric.
    """
    schema = {f.name: f.dataType for f in dataset.schema.fields}
    if isinstance(stage, VectorAssembler) and stage.isDefined(stage.inputCols):
        for column in stage.getInputCols():
            dtype = schema.get(column)
            if column in made or dtype is None or isinstance(dtype, _ASSEMBLED):
                continue
            raise ValidationError(
                f"Stage {stage.uid} (VectorAssembler) reads column {column!r}, which is "
                f"{dtype.simpleString()}; it takes numeric, boolean or vector columns. Index a "
                "string column first (StringIndexer, then OneHotEncoder) and assemble the result."
            )
    for column in label_columns(dataset, [stage], made):
        dtype = schema[column]
        if not isinstance(dtype, T.NumericType):
            raise ValidationError(
                f"Stage {stage.uid} ({type(stage).__name__}): the label column {column!r} is "
                f"{dtype.simpleString()}, but labels must be numeric. Index it with a "
                "StringIndexer (then learn its outputCol) or cast it to double."
            )


def label_columns(
    dataset: DataFrame, holders: Iterable[Params], made: Iterable[str] = ()
) -> list[str]:
    """The ``labelCol`` of each stage or evaluator that reads it from the data (not a stage)."""
    made = set(made)
    found = []
    for holder in holders:
        if not holder.hasParam("labelCol") or not holder.isDefined(holder.getParam("labelCol")):
            continue
        column = holder.getOrDefault("labelCol")
        if column in dataset.columns and column not in made and column not in found:
            found.append(column)
    return found


def check_labels(dataset: DataFrame, holders: Sequence[Params]) -> None:
    """Fail when a label column of the data holds NaN or null (one aggregate job over the data).

    ``holders`` are the stages and evaluators; labels made by a stage are not checked.
    """
    made = {c for holder in holders for c in output_columns(holder)}
    numeric = {f.name for f in dataset.schema.fields if isinstance(f.dataType, T.NumericType)}
    columns = [c for c in label_columns(dataset, holders, made) if c in numeric]
    if not columns:
        return
    counts = dataset.select(
        *[F.count(F.when(F.col(c).isNull() | F.isnan(F.col(c)), 1)).alias(c) for c in columns]
    ).first()
    bad = {c: counts[c] for c in columns if counts[c]}
    if bad:
        column, count = next(iter(bad.items()))
        raise ValidationError(
            f"The label column {column!r} has NaN or null values in {count} row(s); Spark "
            f"cannot fit or score them. Drop them first: data.dropna(subset=[{column!r}])."
        )


def check_folds(folds: Sequence[Fold], allow_empty_validation: bool = False) -> None:
    """Fail when a fold has no training or no validation rows (one job, before any fit).

    With ``allow_empty_validation`` (the drop-ins, as pyspark's classes go on) a fold with
    no validation rows is logged as a warning instead.
    """
    present = _sides_with_rows(folds)
    for fold in folds:
        for kind in ("training", "validation"):
            if f"{kind} {fold.index}" in present:
                continue
            if kind == "validation" and allow_empty_validation:
                logger.warning(
                    "Fold %d has no validation rows (the data has too few rows for %d "
                    "fold(s)); as in pyspark, its metric is what the evaluator gives on no "
                    "rows. Use fewer folds or more data for a meaningful score.",
                    fold.index,
                    len(folds),
                )
                continue
            raise ValidationError(
                f"Fold {fold.index} has no {kind} rows: the data has too few rows for "
                f"{len(folds)} fold(s). Use fewer folds (num_folds / numFolds), a "
                "train_ratio that leaves rows on both sides, or more data."
            )


def _sides_with_rows(folds: Sequence[Fold]) -> set[str]:
    """Names (``"training 0"``, ``"validation 0"``, ...) of the fold sides that have rows.

    Folds cut from one DataFrame are counted by one aggregate over it; others by a union
    of one-row probes.
    """
    sources = [fold.source for fold in folds if fold.source is not None]
    if len(sources) == len(folds) and len({id(df) for df, _ in sources}) == 1:
        columns = [
            F.count(F.when(cond, 1)).alias(f"{kind} {fold.index}")
            for fold, (_, inside) in zip(folds, sources)
            for kind, cond in (("training", ~inside), ("validation", inside))
        ]
        counts = sources[0][0].select(*columns).first()
        return {name for name, count in counts.asDict().items() if count}
    probes = [
        side.select(F.lit(f"{kind} {fold.index}").alias("side")).limit(1)
        for fold in folds
        for kind, side in (("training", fold.train), ("validation", fold.validation))
    ]
    return {row[0] for row in functools.reduce(DataFrame.unionAll, probes).collect()}


def _as_list(value: object) -> Iterable[str]:
    return value if isinstance(value, list) else [value]  # type: ignore[return-value]
