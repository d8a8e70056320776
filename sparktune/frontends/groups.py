"""``tune_groups``: one tuned scikit-learn model per group, each group's search in one task.

Every input is checked on the driver before the job (the space against the estimator's
params, the scorer, the columns, the limits); each group's whole search then runs in one
``applyInPandas`` task (:mod:`sparktune.lifecycle.groups`). :func:`load_group_models` reads
the saved models back and predicts each row with its group's model.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from sparktune.core.errors import ValidationError
from sparktune.core.settings import SearchSettings
from sparktune.lifecycle.groups import (
    INDEX_FILE,
    GroupSearch,
    plain,
    result_schema,
    run_groups,
    write_index,
)
from sparktune.search.describe import describe_space
from sparktune.search.sklearn_space import resolve_sklearn
from sparktune.spark.local_checks import check_string_columns, scorer_problem
from sparktune.spark.local_fit import ScorerFn, resolve_scorer
from sparktune.tracking import Tracking
from sparktune.tracking.groups import log_group_search
from sparktune.tracking.settings import resolve as resolve_tracking

logger = logging.getLogger(__name__)

#: Rows over which a group is reported (logged) as large.
WARN_GROUP_ROWS = 100_000
#: Rows over which a group is refused (its row says so): one task holds it in memory.
MAX_GROUP_ROWS = 1_000_000


def tune_groups(
    df: DataFrame,
    *,
    group_by: str | Sequence[str],
    estimator: Any,
    space: Mapping[Any, Any],
    metric: str | ScorerFn,
    label: str,
    features: Sequence[str] | None = None,
    strategy: str = "tpe",
    max_trials: int = 20,
    num_folds: int = 3,
    seed: int = 0,
    model_path: str | os.PathLike[str] | None = None,
    warn_group_rows: int = WARN_GROUP_ROWS,
    max_group_rows: int = MAX_GROUP_ROWS,
    tracking: bool | str | Tracking = True,
    experiment: str | None = None,
) -> DataFrame:
    """Tune ``estimator`` separately on every group of ``df``; one row per group.

    Each group's search (``strategy`` over ``space``, ``max_trials`` trials one after
    another, ``num_folds``-fold seeded k-fold, ``metric`` a scorer name or callable) runs
    inside one Spark task. The result has the group keys, ``best_params`` (JSON),
    ``best_metric``, ``n_rows``, ``n_trials``, ``state`` (complete, failed, skipped),
    ``error``, ``model_file`` and ``elapsed``. A group that fails, has too few rows for its
    folds or more than ``max_group_rows`` rows is a row with its error; groups over
    ``warn_group_rows`` are logged. With ``model_path`` (a folder every executor and the
    driver can write), each tuned group's refit model is saved there, one file per group,
    with an index that :func:`load_group_models` reads. ``tracking``: one MLflow run with
    the settings, the per-group table, summary metrics and a plot (no run per group).
    """
    keys = [group_by] if isinstance(group_by, str) else list(group_by)
    chosen = _check(df, keys, label, features)
    resolve_sklearn(estimator, space)  # the names and values, before any task
    scorer = resolve_scorer(metric)
    problem = scorer_problem(metric, estimator, label)
    if problem is not None:
        raise ValidationError(problem)
    text = {f.name for f in df.schema.fields if isinstance(f.dataType, StringType)}
    check_string_columns([c for c in chosen if c in text], estimator)
    settings = SearchSettings(
        entry_point="tune_groups",
        strategy=strategy,
        metrics=(scorer.name,),
        larger_is_better=scorer.larger_is_better,
        seed=seed,
        max_trials=max_trials,
        space=describe_space(space),
        estimator=" ".join(repr(estimator).split()),
    )
    for name, value in (("num_folds", num_folds), ("max_group_rows", max_group_rows)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 2:
            raise ValidationError(f"{name} must be an integer >= 2, got {value!r}.")
    options = resolve_tracking(tracking, experiment)
    path = None
    if model_path is not None:
        path = os.path.abspath(model_path)  # the driver's working directory, not a task's
        os.makedirs(path, exist_ok=True)
    search = GroupSearch(
        group_by=tuple(keys),
        estimator=estimator,
        space=space,
        scorer=scorer,
        label=label,
        features=tuple(chosen),
        strategy=strategy,
        max_trials=int(max_trials),
        num_folds=num_folds,
        seed=seed,
        max_group_rows=max_group_rows,
        model_path=path,
    )
    table = run_groups(df, search)
    large = table[table["n_rows"] > warn_group_rows]
    if len(large):
        logger.warning(
            "%d group(s) have more than warn_group_rows=%d rows (largest: %d): %s",
            len(large),
            warn_group_rows,
            int(large["n_rows"].max()),
            large[keys].head(5).to_dict("records"),
        )
    if path is not None:
        write_index(path, search, table)
    if options is not None:
        described = settings.described()
        for unused in ("parallelism", "timeout", "early_stopping", "error_policy", "split"):
            described.pop(unused)  # a group's trials run one after another, all to the end
        params = {**described, "group_by": ", ".join(keys), "label": label}
        params.update(folds=num_folds, model_path=path, groups=len(table))
        log_group_search(options, params, table, scorer.name)
    states = table["state"].value_counts().to_dict()
    logger.info("tune_groups: %d group(s) by state %s", len(table), states)
    spark = df.sparkSession
    return spark.createDataFrame(table, schema=result_schema(df, keys))


def _check(
    df: DataFrame, keys: Sequence[str], label: str, features: Sequence[str] | None
) -> list[str]:
    """Fail unless the group, label and feature columns are in ``df``; the feature columns."""
    if not isinstance(df, DataFrame):
        raise ValidationError(f"df must be a Spark DataFrame, got {type(df).__name__}.")
    if not keys:
        raise ValidationError("group_by must name at least one column.")
    missing = [c for c in [*keys, label, *(features or [])] if c not in df.columns]
    if missing:
        raise ValidationError(f"Column(s) {missing} are not in df; columns: {df.columns}.")
    chosen = list(features) if features is not None else [
        c for c in df.columns if c not in keys and c != label
    ]  # fmt: skip
    if not chosen:
        raise ValidationError("df has no feature columns besides the group and label columns.")
    return chosen


class GroupModels:
    """Models saved by :func:`tune_groups`, applied to each row's group by ``applyInPandas``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.path.abspath(path)
        index_file = os.path.join(self.path, INDEX_FILE)
        if not os.path.exists(index_file):
            raise ValidationError(
                f"{self.path!r} holds no per-group models ({INDEX_FILE} is missing); give the "
                "model_path of a tune_groups run."
            )
        with open(index_file, encoding="utf-8") as source:
            index = json.load(source)
        self.group_by: list[str] = index["group_by"]
        self.features: list[str] = index["features"]
        self.files: dict[tuple[Any, ...], str] = {
            tuple(g["key"]): g["file"] for g in index["groups"]
        }

    def predict(self, df: DataFrame, prediction_col: str = "prediction") -> DataFrame:
        """``df`` with ``prediction_col`` from each row's group model.

        Raises :class:`ValidationError` (before scoring) naming groups with no model.
        """
        missing = [c for c in [*self.group_by, *self.features] if c not in df.columns]
        if missing:
            raise ValidationError(f"Column(s) {missing} are not in df; columns: {df.columns}.")
        seen = [tuple(r) for r in df.select(*self.group_by).distinct().collect()]
        unseen = [key for key in seen if _key(key) not in self.files]
        if unseen:
            raise ValidationError(
                f"{len(unseen)} group(s) of df have no tuned model in {self.path!r} "
                f"(unseen, failed or skipped by tune_groups), e.g. {unseen[:5]} for "
                f"{self.group_by}; filter them out or tune them first."
            )
        files, path, keys, features = self.files, self.path, self.group_by, self.features
        schema = StructType([*df.schema.fields, StructField(prediction_col, DoubleType())])

        def score(rows: pd.DataFrame) -> pd.DataFrame:
            import joblib

            key = _key(tuple(rows[k].iloc[0] for k in keys))
            if key not in files:
                raise KeyError(f"no tuned model for group {dict(zip(keys, key))} in {path}")
            model = joblib.load(os.path.join(path, files[key]))
            return rows.assign(**{prediction_col: model.predict(rows[features]).astype(float)})

        return df.groupBy(*keys).applyInPandas(score, schema)


def load_group_models(path: str | os.PathLike[str]) -> GroupModels:
    """The per-group models saved under ``path`` by :func:`tune_groups`."""
    return GroupModels(path)


def _key(values: Sequence[Any]) -> tuple[Any, ...]:
    """A group key as the index stores it (JSON's plain values)."""
    return tuple(plain(list(values)))
