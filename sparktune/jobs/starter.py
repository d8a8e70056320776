"""``sparktune init``: a starter job spec written from a data file's columns.

The file is read with pandas (a sample of its rows, no Spark), each column classed as
numeric or categorical, and the task inferred from the label (a string label, or a few
whole-number values: classification; else regression). The spec it writes indexes and
one-hot encodes the categorical columns (unseen and missing values kept as a category),
imputes missing numbers (median), assembles the features and tunes a random forest with
TPE, scored by rmse, areaUnderROC (two classes) or f1. It is checked with the same models
as ``sparktune validate`` before it is written, and ``sparktune run`` runs it as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sparktune.core.errors import ValidationError
from sparktune.jobs.config.data import EXTENSIONS
from sparktune.jobs.config.suggest import did_you_mean
from sparktune.jobs.datasets import DATASETS, diamonds_pandas

#: Rows read to class the columns and infer the task.
SAMPLE_ROWS = 20_000
#: A numeric label with at most this many whole-number values is taken as classes.
MAX_CLASSES = 10
#: A categorical column with more distinct values than this is left out (an id, a date).
MAX_LEVELS = 100
TASKS = ("classification", "regression")


@dataclass
class Columns:
    """The file's columns as the starter spec uses them."""

    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # numeric columns with missing values
    left_out: dict[str, str] = field(default_factory=dict)  # column -> why


def read_sample(data: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A sample of ``data`` (a file, or a bundled data set's name) and its ``data`` section."""
    if data in DATASETS and not Path(data).exists():
        return diamonds_pandas().head(SAMPLE_ROWS), {"dataset": data}
    path = Path(data)
    if not path.exists():
        hint = did_you_mean(data, list(DATASETS))
        raise ValidationError(
            f"no such file or directory: {path.resolve()}{hint} (give a CSV, Parquet or "
            f"JSON file, or a bundled data set: {list(DATASETS)})"
        )
    kind = EXTENSIONS.get(path.suffix.lower().lstrip("."))
    try:
        if kind == "csv":
            frame = pd.read_csv(path, nrows=SAMPLE_ROWS)
        elif kind == "parquet":
            frame = pd.read_parquet(path).head(SAMPLE_ROWS)
        elif kind == "json":
            frame = pd.read_json(path, lines=True, nrows=SAMPLE_ROWS)
        else:
            raise ValidationError(
                f"cannot tell the format of {data!r} from its extension; sparktune init reads "
                f".csv, .parquet and .json (JSON lines) files"
            )
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        if isinstance(exc, ValidationError):
            raise
        raise ValidationError(f"cannot read {data!r} as {kind}: {exc}") from None
    return frame, {"path": data}


def infer_task(label: pd.Series) -> str:
    """``classification`` for a string or boolean label or a few whole numbers, else
    ``regression``."""
    present = label.dropna()
    if not pd.api.types.is_numeric_dtype(present) or pd.api.types.is_bool_dtype(present):
        return "classification"
    whole = bool((present == present.round()).all())
    return "classification" if whole and present.nunique() <= MAX_CLASSES else "regression"


def classify_columns(frame: pd.DataFrame, label: str) -> Columns:
    """Numeric and categorical feature columns (all but the label)."""
    columns = Columns()
    for name in frame.columns:
        if name == label:
            continue
        values = frame[name]
        if values.isna().all():
            columns.left_out[str(name)] = "no values"
        elif pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            columns.numeric.append(str(name))
            if values.isna().any() and not pd.api.types.is_bool_dtype(values):
                columns.missing.append(str(name))
        elif values.nunique() > MAX_LEVELS:
            columns.left_out[str(name)] = f"{values.nunique()} distinct values (an id?)"
        else:
            columns.categorical.append(str(name))
    return columns


def starter_spec(
    frame: pd.DataFrame, source: Mapping[str, Any], label: str, task: str | None = None
) -> tuple[dict[str, Any], str]:
    """The starter spec for ``frame`` (read from ``source``), and a comment describing it."""
    if label not in frame.columns:
        names = [str(c) for c in frame.columns]
        hint = did_you_mean(label, names) or f"; columns: {names}"
        raise ValidationError(f"the label {label!r} is not a column of the data{hint}")
    if task is not None and task not in TASKS:
        raise ValidationError(f"--task must be one of {list(TASKS)}, got {task!r}")
    inferred = infer_task(frame[label])
    task = task or inferred
    columns = classify_columns(frame, label)
    if not columns.numeric and not columns.categorical:
        raise ValidationError(f"the data has no feature columns besides the label {label!r}")
    stages: list[dict[str, Any]] = []
    target = label
    classes = frame[label].dropna().unique()
    if task == "classification" and not set(classes) <= set(range(len(classes))):
        target = f"{label}_index"
        stages.append(_stage("label_index", "StringIndexer", inputCol=label, outputCol=target))
    assembled = list(columns.numeric)
    if columns.missing:
        imputed = [f"{c}_imputed" for c in columns.missing]
        stages.append(
            _stage(
                "impute", "Imputer", inputCols=columns.missing, outputCols=imputed,
                strategy="median",
            )
        )  # fmt: skip
        renamed = dict(zip(columns.missing, imputed))
        assembled = [renamed.get(c, c) for c in assembled]
    if columns.categorical:
        indexed = [f"{c}_index" for c in columns.categorical]
        vectors = [f"{c}_vector" for c in columns.categorical]
        stages.append(
            _stage(
                "index", "StringIndexer", inputCols=columns.categorical, outputCols=indexed,
                handleInvalid="keep",
            )
        )  # fmt: skip
        stages.append(
            _stage(
                "encode", "OneHotEncoder", inputCols=list(indexed), outputCols=vectors,
                handleInvalid="keep",
            )
        )  # fmt: skip
        assembled += vectors
    stages.append(_stage("assemble", "VectorAssembler", inputCols=assembled, outputCol="features"))
    forest = "RandomForestClassifier" if task == "classification" else "RandomForestRegressor"
    stages.append(_stage("model", forest, labelCol=target, seed=0))
    count = len(classes)
    metric = "rmse" if task == "regression" else "areaUnderROC" if count <= 2 else "f1"
    stem = Path(str(source.get("path") or source.get("dataset"))).stem or "job"
    spec = {
        "data": {**source, "label": target},
        "pipeline": {"stages": stages},
        "search": {
            "strategy": "tpe",
            "max_trials": 12,
            "parallelism": 2,
            "seed": 0,
            "space": {
                "model.numTrees": {"uniformint": [10, 60]},
                "model.maxDepth": {"uniformint": [3, 10]},
                "model.minInstancesPerNode": {"choice": [1, 5, 20]},
            },
        },
        "evaluation": {"folds": 3, "metric": metric},
        "tracking": {"experiment": stem},
        "output": {
            "model": f"output/{stem}/model",
            "results": f"output/{stem}/results.csv",
        },
    }
    return spec, _describe(label, task, inferred, columns, count, len(frame))


def _stage(name: str, cls: str, **params: Any) -> dict[str, Any]:
    return {"name": name, "class": cls, "params": params}


def _describe(
    label: str, task: str, inferred: str, columns: Columns, classes: int, rows: int
) -> str:
    """The comment at the head of the spec: what was read and decided."""
    lines = [
        "Starter spec written by `sparktune init` from the data's columns (first "
        f"{rows} rows read).",
        f"Task: {task} ("
        + (
            f"inferred from the label {label!r}: {classes} distinct values"
            if task == inferred
            else f"as --task says; the label {label!r} looked like {inferred}"
        )
        + ").",
        f"Numeric features: {', '.join(columns.numeric) or '(none)'}"
        + (
            f"; missing values imputed (median): {', '.join(columns.missing)}"
            if columns.missing
            else ""
        ),
        f"Categorical features (one-hot; missing and unseen values kept): "
        f"{', '.join(columns.categorical) or '(none)'}",
    ]
    lines += [f"Left out: {name} ({why})" for name, why in columns.left_out.items()]
    lines.append("Edit the stages, space and limits at will; check with `sparktune validate`.")
    return "\n".join(f"# {line}" for line in lines)


def render(spec: Mapping[str, Any], comment: str) -> str:
    """The spec as YAML text, ``comment`` first (column lists on one line)."""
    body = yaml.safe_dump(dict(spec), sort_keys=False, default_flow_style=None, width=100)
    return f"{comment}\n{body}"
