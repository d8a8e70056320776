"""One search per group, each inside one Spark task (``mapInArrow`` over balanced bins).

:class:`GroupSearch` describes the search every group gets (estimator, space, scorer,
strategy, split, limits, scheduler, failure policy); :func:`search_group` runs it on one
group's rows inside the task with the same :class:`~sparktune.core.engine.Engine` as
:func:`sparktune.tune`: a :class:`~sparktune.spark.rows_objective.RowsObjective` on the
group's rows and a :class:`~sparktune.core.port.ThreadPort` (no Spark in the task), so
strategies, timeouts, early stopping, schedulers and the failure policy are the engine's.
The best candidate is refit on all the group's rows and saved under ``model_path``; the
group's trials come back as ``tune``'s results table (JSON) beside its row, and with a
checkpoint folder the result is kept as soon as the group ends
(:mod:`sparktune.tracking.group_store`). Whatever goes wrong in a group (too few rows for
its folds, too many rows, every trial failing) becomes that group's row with its ``state``
and ``error``: the job itself never fails for one group.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import (
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from sparktune.core.engine import Engine
from sparktune.core.errors import describe_error
from sparktune.core.port import ThreadPort
from sparktune.core.results import results_frame
from sparktune.core.schedulers import ROWS, Scheduler
from sparktune.core.settings import ErrorPolicy
from sparktune.core.stopping import stoppers
from sparktune.core.trial import Trial, TrialState
from sparktune.search import make_strategy
from sparktune.search.sklearn_space import SklearnSpace
from sparktune.spark.group_layout import GROUP, each_group, spread
from sparktune.spark.local_fit import Scorer, fit_candidate, fold_indices
from sparktune.spark.port import is_connect
from sparktune.spark.rows_objective import RowsObjective
from sparktune.spark.slots import cluster_slots
from sparktune.tracking.group_store import GroupStore, key_digest, plain

logger = logging.getLogger(__name__)

#: The result columns after the group keys, as :func:`result_schema` types them.
RESULT_FIELDS = [
    StructField("best_params", StringType()),
    StructField("best_metric", DoubleType()),
    StructField("n_rows", LongType()),
    StructField("n_trials", IntegerType()),
    StructField("state", StringType()),
    StructField("error", StringType()),
    StructField("model_file", StringType()),
    StructField("elapsed", DoubleType()),
    StructField("stop_reason", StringType()),
]
#: The column the tasks return each group's trials in (JSON records), beside its row.
TRIALS = "trials"
#: The per-group model index written next to the models.
INDEX_FILE = "index.json"
#: Partitions of groups per task slot (:func:`task_count`).
TASKS_PER_SLOT = 2
#: Groups' result rows a task returns at once: one Arrow batch each, and a bounded buffer.
ROWS_PER_BATCH = 16

__all__ = ["INDEX_FILE", "GroupSearch", "plain", "result_schema", "run_groups", "search_group"]


@dataclass(frozen=True)
class GroupSearch:
    """The search each group gets, shipped to the tasks (plain, picklable values).

    ``timeout`` bounds each group's search, ``deadline`` (seconds since the epoch) the
    whole run: a group not started by then is skipped, one running then is cut short.
    ``parallelism`` trials of a group run at once on the task's threads; ``resource`` is
    the param a ``scheduler``'s budget sets (None: rows); ``checkpoint`` is the folder
    each finished group's result is kept in (and read back from on a resumed run).
    """

    group_by: tuple[str, ...]
    estimator: Any
    space: Any
    scorer: Scorer
    label: str
    features: tuple[str, ...]
    strategy: Any
    max_trials: int
    num_folds: int | None
    seed: int
    max_group_rows: int
    model_path: str | None = None
    train_ratio: float | None = None
    num_repeats: int = 1
    parallelism: int = 1
    timeout: float | None = None
    deadline: float | None = None
    early_stopping: int | None = None
    scheduler: Scheduler | None = None
    resource: str | None = None
    error_policy: ErrorPolicy = ErrorPolicy.CONTINUE
    train_metrics: bool = False
    points_to_evaluate: tuple[Mapping[Any, Any], ...] = ()
    checkpoint: str | None = None


def result_schema(data: DataFrame, group_by: Sequence[str]) -> StructType:
    """The schema of the per-group table: the group keys' own types, then the results."""
    keys = [data.schema[name] for name in group_by]
    return StructType([StructField(k.name, k.dataType, True) for k in keys] + RESULT_FIELDS)


def model_file(key: Sequence[Any]) -> str:
    """A file name for a group's model: a hash of its key (safe for any key value)."""
    return f"group-{key_digest(key)}.joblib"


def search_group(search: GroupSearch, rows: pd.DataFrame) -> pd.DataFrame:
    """Run ``search`` on one group's ``rows``; its one-row result with its trials (never raises).

    A group kept by a checkpoint (and whose model file is still there) is not searched again.
    """
    started = time.time()
    key = [rows[name].iloc[0] for name in search.group_by]
    store = GroupStore(search.checkpoint) if search.checkpoint is not None else None
    kept = store.load(key) if store is not None else None
    if kept is not None and _model_kept(search, kept["row"]):
        row = {**kept["row"], **dict(zip(search.group_by, key)), TRIALS: kept["trials"]}
        return pd.DataFrame([row])
    out: dict[str, Any] = dict(zip(search.group_by, key))
    out.update(
        best_params=None, best_metric=math.nan, n_rows=len(rows), n_trials=0, error=None,
        model_file=None, stop_reason=None, **{TRIALS: "[]"},
    )  # fmt: skip
    remaining = None if search.deadline is None else search.deadline - started
    if len(rows) > search.max_group_rows:
        out.update(
            state="skipped",
            error=f"the group has {len(rows)} rows, over max_group_rows={search.max_group_rows}; "
            "raise max_group_rows= to tune it in one task",
        )
    elif remaining is not None and remaining <= 0:
        out.update(
            state="skipped",
            stop_reason="timeout",
            error="not started: the run's timeout had passed; resume or raise timeout=",
        )
        return _row(out, started)  # not kept: a resumed run searches it
    else:
        try:
            folds = fold_indices(
                len(rows), search.num_folds, search.seed, search.train_ratio, search.num_repeats
            )
        except Exception as exc:
            out.update(state="skipped", error=f"too small: {exc}")
        else:
            try:
                out.update(_tune(search, rows, folds, key, remaining))
            except Exception as exc:  # a group's failure is its row, never the job's
                out.update(state="failed", error=f"{type(exc).__name__}: {exc}")
    row = _row(out, started)
    if store is not None:
        fields = {k: v for k, v in row.iloc[0].items() if k != TRIALS}
        store.save(key, fields, row.iloc[0][TRIALS])
    return row


def _model_kept(search: GroupSearch, row: Mapping[str, Any]) -> bool:
    """Whether a kept group's model (if it had one) is in this run's ``model_path``."""
    name = row.get("model_file")
    if name is None or search.model_path is None:
        return name is None or search.model_path is None
    return os.path.exists(os.path.join(search.model_path, name))


def _tune(
    search: GroupSearch,
    rows: pd.DataFrame,
    folds: list[Any],
    key: Sequence[Any],
    remaining: float | None,
) -> dict[str, Any]:
    """The engine's search of one group, its best refit and saved; the result columns."""
    x, y = rows[list(search.features)], rows[search.label]
    scorer = search.scorer
    space = SklearnSpace(search.estimator, search.space)
    strategy = make_strategy(
        copy.deepcopy(search.strategy),  # a sampler's state is each group's own
        space,
        seed=search.seed,
        larger_is_better=scorer.larger_is_better,
        points_to_evaluate=search.points_to_evaluate,
    )
    resource = search.resource if search.resource is not None else ROWS
    objective = RowsObjective(search.estimator, x, y, folds, scorer, search.train_metrics, resource)
    engine = Engine(
        objective, ThreadPort(), search.parallelism, search.error_policy, (), search.scheduler
    )
    limits = [t for t in (search.timeout, remaining) if t is not None]
    error = None
    try:
        outcome = engine.run(
            strategy, stoppers(search.max_trials, min(limits, default=None), search.early_stopping)
        )
        trials, reason = list(outcome.trials), outcome.stop_reason
    except Exception as exc:  # the raise policy, or every trial failed
        trials, reason, error = list(engine.trials), "failed", describe_error(exc)
    table = results_frame(trials, (scorer.name,), scorer.larger_is_better)
    result: dict[str, Any] = {
        "n_trials": len(trials),
        "stop_reason": reason,
        TRIALS: table.to_json(orient="records", default_handler=str),
    }
    complete = [t for t in trials if t.state is TrialState.COMPLETE and not math.isnan(t.value)]
    if error is not None or not complete:
        first = next((t.error for t in trials if t.error), None)
        why = error or first or f"no trial completed (stop reason: {reason})"
        return {**result, "state": "failed", "error": why}
    best = _best(complete, scorer.larger_is_better)
    result.update(
        state="complete",
        best_params=json.dumps(plain(dict(best.candidate.param_map)), sort_keys=True),
        best_metric=best.value,
    )
    if search.model_path is not None:
        import joblib

        full = {}
        if search.scheduler is not None and search.resource is not None:
            full = {search.resource: int(getattr(search.scheduler, "max_resource", 0))}
        model = fit_candidate(search.estimator, {**best.candidate.param_map, **full}, x, y)
        name = model_file(key)
        joblib.dump(model, os.path.join(search.model_path, name))
        result["model_file"] = name
    return result


def _best(complete: Sequence[Trial], larger_is_better: bool) -> Trial:
    pick = max if larger_is_better else min
    return pick(complete, key=lambda t: t.value)


def run_groups(data: DataFrame, search: GroupSearch) -> pd.DataFrame:
    """Tune every group of ``data`` (each wholly inside one task); the per-group table with
    each group's trials (JSON) in its :data:`TRIALS` column.

    The groups are spread over :func:`task_count` partitions balanced by their estimated
    cost (:func:`sparktune.spark.group_layout.spread`), an explicit count that adaptive
    query execution keeps, so the tasks end at about the same time; each task cuts its
    rows into groups (:func:`~sparktune.spark.group_layout.each_group`) and returns their
    result rows :data:`ROWS_PER_BATCH` at a time, by group number; the keys are joined
    back on the driver from the groups' count (Spark's own values of them).
    """
    columns = [*search.group_by, *search.features, search.label]
    schema = StructType(
        [StructField(GROUP, LongType(), False), *RESULT_FIELDS, StructField(TRIALS, StringType())]
    )
    arrow_schema = to_arrow_schema(schema)
    names = schema.fieldNames()

    def batch(done: list[pd.DataFrame]) -> pa.RecordBatch:
        frame = pd.concat(done, ignore_index=True)[names]
        return pa.RecordBatch.from_pandas(frame, schema=arrow_schema, preserve_index=False)

    def task(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        done: list[pd.DataFrame] = []
        for rows in each_group(batches):
            done.append(search_group(search, rows).assign(**{GROUP: rows[GROUP].iloc[0]}))
            if len(done) == ROWS_PER_BATCH:
                yield batch(done)
                done = []
        if done:
            yield batch(done)

    rows = data.select(*dict.fromkeys(columns))
    placed, groups = spread(rows, list(search.group_by), task_count(data.sparkSession))
    results = placed.mapInArrow(task, schema).toPandas()
    keys = pd.DataFrame([list(key) for key in groups], columns=list(search.group_by), dtype=object)
    keys[GROUP] = range(len(groups))
    return keys.merge(results, on=GROUP).drop(columns=GROUP)


def task_count(spark: Any) -> int:
    """Partitions for the groups: 2 per task slot (classic), else the shuffle partitions.

    The bins are balanced by an estimate; two per slot let Spark's scheduling even out
    what the estimate misses (a slow machine, a costly group), while every task more costs
    its Python worker a fixed setup (about 0.15 s here, measured with ``bench groups``).
    """
    if not is_connect(spark):
        return TASKS_PER_SLOT * cluster_slots(spark)
    return int(spark.conf.get("spark.sql.shuffle.partitions"))


def write_index(path: str, search: GroupSearch, table: pd.DataFrame) -> None:
    """Write the models' index (group key -> file, and what the models read) under ``path``."""
    saved = table[table["model_file"].notna()]
    groups = [
        {"key": plain([row[k] for k in search.group_by]), "file": row["model_file"]}
        for _, row in saved.iterrows()
    ]
    index = {
        "group_by": list(search.group_by),
        "features": list(search.features),
        "label": search.label,
        "groups": groups,
    }
    with open(os.path.join(path, INDEX_FILE), "w", encoding="utf-8") as out:
        json.dump(index, out, indent=1)


def _row(out: dict[str, Any], started: float) -> pd.DataFrame:
    out["elapsed"] = time.time() - started
    return pd.DataFrame([out])
