"""The data of a single-machine search: a pandas frame on the driver, checked and split once.

A Spark DataFrame is collected only when it has at most ``max_collect_rows`` rows (else a
:class:`ValidationError` names the limit and the argument that raises it); a pandas frame
is taken as is. The label and feature columns are checked before any task runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame

from sparktune.core.errors import ValidationError

#: Rows of a Spark DataFrame a single-machine search collects at most (``max_collect_rows``).
MAX_COLLECT_ROWS = 1_000_000


@dataclass(frozen=True)
class LocalData:
    """Features and label of a single-machine search, with its folds' row indices."""

    frame: pd.DataFrame
    x: pd.DataFrame
    y: pd.Series
    label: str
    folds: tuple[tuple[np.ndarray, np.ndarray], ...]


def collect(
    data: pd.DataFrame | DataFrame, max_collect_rows: int = MAX_COLLECT_ROWS
) -> pd.DataFrame:
    """``data`` as a pandas frame: itself, or a Spark DataFrame collected within the limit."""
    if isinstance(data, pd.DataFrame):
        return data
    if not isinstance(max_collect_rows, int) or max_collect_rows < 1:
        raise ValidationError(
            f"max_collect_rows must be a positive integer, got {max_collect_rows!r}."
        )
    if data.limit(max_collect_rows + 1).count() > max_collect_rows:
        raise ValidationError(
            f"The data has more than max_collect_rows={max_collect_rows} rows; a "
            "single-machine estimator trains on one machine's copy. Raise "
            "max_collect_rows=, sample the data, or use a Spark ML estimator."
        )
    return data.toPandas()


def check_columns(data: Any, label: str | None, features: Sequence[str] | None) -> None:
    """Fail unless ``data`` is a pandas or Spark DataFrame with ``label`` and ``features``."""
    if not isinstance(data, pd.DataFrame | DataFrame):
        raise ValidationError(
            "data must be a pandas DataFrame or a Spark DataFrame for a scikit-learn "
            f"estimator, got {type(data).__name__}."
        )
    if not isinstance(label, str):
        raise ValidationError(
            "label= must name the label column of the data for a scikit-learn estimator, "
            f"got {label!r}."
        )
    names = [str(c) for c in data.columns]
    if label not in names:
        raise ValidationError(f"The label column {label!r} is not in the data; columns: {names}.")
    if features is not None:
        missing = [c for c in features if c not in names]
        if missing:
            raise ValidationError(
                f"Feature column(s) {missing} are not in the data; columns: {names}."
            )
    if len([c for c in (features if features is not None else names) if c != label]) == 0:
        raise ValidationError("The data has no feature columns besides the label.")


def features_and_label(
    frame: pd.DataFrame, label: str, features: Sequence[str] | None
) -> tuple[pd.DataFrame, pd.Series]:
    """The feature columns (all but the label by default) and the label column of ``frame``."""
    check_columns(frame, label, features)
    if len(frame) == 0:
        raise ValidationError("The data has no rows.")
    chosen = [c for c in frame.columns if c != label] if features is None else list(features)
    return frame[chosen], frame[label]
