"""``tune_groups``: one tuned scikit-learn model per group, each group's search in one task.

Every input is checked on the driver before the job (the space against the estimator's
params, the scorer, the columns, the limits, the scheduler's resource, the checkpoint);
each group's whole search then runs in one ``mapInArrow`` task with the same engine as
:func:`sparktune.tune` (:mod:`sparktune.lifecycle.groups`). :func:`load_group_models` reads
the saved models back and predicts each row with its group's model.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from sparktune.core.errors import ValidationError
from sparktune.core.schedulers import Scheduler
from sparktune.core.settings import (
    Budget,
    Checkpointing,
    ErrorPolicy,
    SearchSettings,
    Split,
    fold_split,
)
from sparktune.core.stopping import stoppers
from sparktune.frontends.common import trial_limit, unpacked
from sparktune.lifecycle.groups import (
    INDEX_FILE,
    TRIALS,
    GroupSearch,
    plain,
    result_schema,
    run_groups,
    write_index,
)
from sparktune.search import is_study, make_strategy, strategy_name
from sparktune.search.describe import describe_space
from sparktune.search.sklearn_space import resolve_sklearn
from sparktune.spark.local_checks import check_string_columns, scorer_problem
from sparktune.spark.local_fit import ScorerFn, resolve_scorer
from sparktune.spark.resources import resolve_sklearn_scheduler
from sparktune.tracking import Tracking, group_store
from sparktune.tracking.groups import log_group_search
from sparktune.tracking.settings import resolve as resolve_tracking

if TYPE_CHECKING:
    from optuna.samplers import BaseSampler

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
    strategy: str | BaseSampler = "tpe",
    max_trials: int | None = None,
    num_folds: int | None = None,
    seed: int = 0,
    model_path: str | os.PathLike[str] | None = None,
    warn_group_rows: int = WARN_GROUP_ROWS,
    max_group_rows: int = MAX_GROUP_ROWS,
    tracking: bool | str | Tracking | None = None,
    experiment: str | None = None,
    train_ratio: float | None = None,
    parallelism: int = 1,
    timeout: float | None = None,
    group_timeout: float | None = None,
    early_stopping: int | None = None,
    scheduler: Scheduler | None = None,
    error_policy: ErrorPolicy | str = "continue",
    points_to_evaluate: Sequence[Mapping[Any, Any]] | None = None,
    train_metrics: bool = False,
    checkpoint: str | os.PathLike[str] | Checkpointing | None = None,
    resume: bool = False,
    trials_path: str | os.PathLike[str] | None = None,
    split: Split | None = None,
    budget: Budget | None = None,
) -> DataFrame:
    """Tune ``estimator`` separately on every group of ``df``; one row per group.

    Each group's search runs inside one Spark task with :func:`sparktune.tune`'s engine:
    ``strategy`` over ``space`` (any strategy ``tune`` takes, Optuna samplers included),
    ``max_trials`` trials (20 by default, every point of a grid; ``parallelism`` at once on
    the task's threads), seeded k-fold
    (``num_folds``, 3 by default) or one ``train_ratio`` split, ``metric`` a scorer name or
    callable. The limits are ``tune``'s, per group: ``group_timeout`` (seconds per group),
    ``early_stopping``, a ``scheduler`` (ASHA / Hyperband over an iteration param or rows;
    Racing / MedianStopping over folds),
    ``error_policy`` (``"raise"`` ends a group's search at its first failing trial; the
    group's row says so and the others go on); ``timeout`` bounds the whole run: groups not
    started by then are skipped (state ``skipped``, ``stop_reason`` ``timeout``).

    The result has the group keys, ``best_params`` (JSON), ``best_metric``, ``n_rows``,
    ``n_trials``, ``state`` (complete, failed, skipped), ``error``, ``model_file``,
    ``elapsed`` and ``stop_reason``. A group that fails, has too few rows for its folds or
    more than ``max_group_rows`` rows is a row with its error; groups over
    ``warn_group_rows`` are logged. ``trials_path``: a CSV of every group's trials (the
    group keys, then ``tune``'s per-trial columns). With ``model_path`` (a folder every
    executor and the driver can write), each tuned group's refit model is saved there, with
    an index that :func:`load_group_models` reads. ``checkpoint``: a folder (shared like
    ``model_path``) where each group's result is kept as soon as it ends; with
    ``resume=True`` a killed run searches only the groups not kept. ``tracking``: one MLflow
    run with the settings, the per-group table, summary metrics and a plot (no run per group).
    ``split`` (:class:`~sparktune.Split`), ``budget`` (:class:`~sparktune.Budget`, its
    ``timeout`` the run's) and a :class:`~sparktune.Checkpointing` may stand for the flat
    keywords, as in :func:`sparktune.tune`.
    """
    if split is not None or budget is not None or isinstance(checkpoint, Checkpointing):
        return tune_groups(**unpacked(locals(), "tune_groups"))
    keys = [group_by] if isinstance(group_by, str) else list(group_by)
    chosen = _check(df, keys, label, features)
    resolved = resolve_sklearn(estimator, space)  # the names and values, before any task
    scorer = resolve_scorer(metric)
    problem = scorer_problem(metric, estimator, label)
    if problem is not None:
        raise ValidationError(problem)
    text = {f.name for f in df.schema.fields if isinstance(f.dataType, StringType)}
    check_string_columns([c for c in chosen if c in text], estimator)
    resource = None
    if scheduler is not None:
        scheduler, resource = resolve_sklearn_scheduler(scheduler, estimator, resolved.params)
    split = fold_split(Split.of(num_folds, train_ratio), scheduler)
    if is_study(strategy):
        raise ValidationError(
            "tune_groups runs one search per group, and an optuna.Study holds one search: "
            "give its sampler (strategy=study.sampler) or a sampler name instead."
        )
    settings = SearchSettings(
        entry_point="tune_groups",
        strategy=strategy_name(strategy),
        metrics=(scorer.name,),
        larger_is_better=scorer.larger_is_better,
        split=split,
        seed=seed,
        max_trials=max_trials,
        parallelism=parallelism,
        timeout=group_timeout,
        early_stopping=early_stopping,
        error_policy=error_policy,
        train_metrics=train_metrics,
        space=describe_space(space),
        estimator=" ".join(repr(estimator).split()),
        params=tuple(resolved.params),
        scheduler=scheduler,
    )
    stoppers(timeout=timeout)  # checks the run's timeout as the group's
    points = tuple(points_to_evaluate or ())
    probe = make_strategy(
        strategy, resolved, seed=seed, larger_is_better=scorer.larger_is_better,
        points_to_evaluate=points,
    )  # fmt: skip
    settings = replace(settings, max_trials=trial_limit(probe, max_trials))
    if split.kind == "kfold":
        for name, value in (("num_folds", split.num_folds), ("max_group_rows", max_group_rows)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 2:
                raise ValidationError(f"{name} must be an integer >= 2, got {value!r}.")
    options = resolve_tracking(tracking, experiment)
    path = _folder(model_path)
    store = None
    if checkpoint is not None or resume:
        if checkpoint is None:
            raise ValidationError(
                "resume=True needs the checkpoint folder of the run to resume: pass "
                "checkpoint='path/to/folder' (the same folder as the first run)."
            )
        identity = {
            **settings.identity(),
            "group_by": keys, "label": label, "features": chosen,
            "max_group_rows": max_group_rows, "model_path": path,
        }  # fmt: skip
        store = str(group_store.prepare(checkpoint, identity, resume).path)
    search = GroupSearch(
        group_by=tuple(keys),
        estimator=estimator,
        space=space,
        scorer=scorer,
        label=label,
        features=tuple(chosen),
        strategy=strategy,
        max_trials=int(settings.max_trials or 0),
        num_folds=split.num_folds if split.kind == "kfold" else None,
        train_ratio=split.train_ratio,
        num_repeats=split.num_repeats,
        seed=seed,
        max_group_rows=max_group_rows,
        model_path=path,
        parallelism=parallelism,
        timeout=group_timeout,
        deadline=None if timeout is None else time.time() + timeout,
        early_stopping=early_stopping,
        scheduler=scheduler,
        resource=resource,
        error_policy=settings.error_policy,
        train_metrics=train_metrics,
        points_to_evaluate=points,
        checkpoint=store,
    )
    table = run_groups(df, search)
    trials = table.pop(TRIALS)
    if trials_path is not None:
        _write_trials(trials_path, keys, table, trials)
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
        described.update(timeout=timeout, group_timeout=group_timeout)
        params = {**described, "group_by": ", ".join(keys), "label": label}
        params.update(model_path=path, groups=len(table))
        log_group_search(options, params, table, scorer.name)
    states = table["state"].value_counts().to_dict()
    logger.info("tune_groups: %d group(s) by state %s", len(table), states)
    spark = df.sparkSession
    return spark.createDataFrame(table, schema=result_schema(df, keys))


def _folder(model_path: str | os.PathLike[str] | None) -> str | None:
    """``model_path`` as an absolute folder (the driver's working directory, not a task's)."""
    if model_path is None:
        return None
    path = os.path.abspath(model_path)
    os.makedirs(path, exist_ok=True)
    return path


def _write_trials(
    path: str | os.PathLike[str], keys: Sequence[str], table: pd.DataFrame, trials: pd.Series
) -> None:
    """Write every group's trials as one CSV: the group keys, then ``tune``'s columns."""
    frames = []
    for (_, row), records in zip(table.iterrows(), trials):
        frame = pd.DataFrame(json.loads(records or "[]"))
        if len(frame):
            frames.append(frame.assign(**{k: row[k] for k in keys})[[*keys, *frame.columns]])
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=keys)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    out.to_csv(path, index=False)
    logger.info(
        "tune_groups: %d trial(s) of %d group(s) written to %s", len(out), len(frames), path
    )


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
