"""One search per group, each inside one Spark task (``groupBy(...).applyInPandas``).

:class:`GroupSearch` describes the search every group gets (estimator, space, scorer,
strategy, trials, folds, limits); :func:`search_group` runs it on one group's rows inside
the task: the same strategies as :func:`sparktune.tune` (grid, random, TPE, Optuna) asked
and told one trial after another, the same fold indices and scorers, the best candidate
refit on all the group's rows and saved under ``model_path``. Whatever goes wrong in a group
(too few rows for its folds, too many rows, every trial failing) becomes that group's row
with its ``state`` and ``error``: the job itself never fails for one group.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql.types import (
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from sparktune.core.trial import FoldResult, Trial, TrialState
from sparktune.search import make_strategy
from sparktune.search.sklearn_space import SklearnSpace
from sparktune.spark.local_fit import Scorer, fit_candidate, fold_indices, guarded_fold
from sparktune.spark.port import is_connect

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
]
#: The per-group model index written next to the models.
INDEX_FILE = "index.json"


@dataclass(frozen=True)
class GroupSearch:
    """The search each group gets, shipped to the tasks (plain, picklable values)."""

    group_by: tuple[str, ...]
    estimator: Any
    space: Any
    scorer: Scorer
    label: str
    features: tuple[str, ...]
    strategy: str
    max_trials: int
    num_folds: int
    seed: int
    max_group_rows: int
    model_path: str | None = None


def result_schema(data: DataFrame, group_by: Sequence[str]) -> StructType:
    """The schema of the per-group table: the group keys' own types, then the results."""
    keys = [data.schema[name] for name in group_by]
    return StructType([StructField(k.name, k.dataType, True) for k in keys] + RESULT_FIELDS)


def model_file(key: Sequence[Any]) -> str:
    """A file name for a group's model: a hash of its key (safe for any key value)."""
    digest = hashlib.sha1(json.dumps(plain(key)).encode("utf-8")).hexdigest()[:20]
    return f"group-{digest}.joblib"


def search_group(search: GroupSearch, rows: pd.DataFrame) -> pd.DataFrame:
    """Run ``search`` on one group's ``rows`` and return its one-row result (never raises)."""
    started = time.time()
    key = [rows[name].iloc[0] for name in search.group_by]
    out: dict[str, Any] = dict(zip(search.group_by, key))
    out.update(
        best_params=None, best_metric=math.nan, n_rows=len(rows), n_trials=0, error=None,
        model_file=None,
    )  # fmt: skip
    if len(rows) > search.max_group_rows:
        out.update(
            state="skipped",
            error=f"the group has {len(rows)} rows, over max_group_rows={search.max_group_rows}; "
            "raise max_group_rows= to tune it in one task",
        )
        return _row(out, started)
    try:
        folds = fold_indices(len(rows), search.num_folds, search.seed)
    except Exception as exc:
        out.update(state="skipped", error=f"too small: {exc}")
        return _row(out, started)
    try:
        out.update(_tune(search, rows, folds, key))
    except Exception as exc:  # a group's failure is its row, never the job's
        out.update(state="failed", error=f"{type(exc).__name__}: {exc}")
    return _row(out, started)


def _tune(
    search: GroupSearch, rows: pd.DataFrame, folds: list[Any], key: Sequence[Any]
) -> dict[str, Any]:
    """The sequential search of one group, its best refit and saved; the result columns."""
    x, y = rows[list(search.features)], rows[search.label]
    scorer = search.scorer
    space = SklearnSpace(search.estimator, search.space)
    strategy = make_strategy(
        search.strategy, space, seed=search.seed, larger_is_better=scorer.larger_is_better
    )
    trials: list[Trial] = []
    for number in range(search.max_trials):
        candidate = strategy.ask()
        if candidate is None:
            break
        began = time.time()
        outs = [
            guarded_fold(search.estimator, candidate.param_map, x, y, fold, scorer)
            for fold in folds
        ]
        error = next((o["error"] for o in outs if "error" in o), None)
        results = (
            ()
            if error
            else tuple(FoldResult(i, o["metrics"], {}, o["fit_time"]) for i, o in enumerate(outs))
        )
        trial = Trial(
            number=number,
            candidate=candidate,
            state=TrialState.FAILED if error else TrialState.COMPLETE,
            folds=results,
            primary=scorer.name,
            error=error,
            started=began,
            finished=time.time(),
        )
        trials.append(trial)
        strategy.tell(trial)
    complete = [t for t in trials if t.state is TrialState.COMPLETE and not math.isnan(t.value)]
    if not complete:
        first = next((t.error for t in trials if t.error), "no trial completed")
        return {"n_trials": len(trials), "state": "failed", "error": first}
    pick = max if scorer.larger_is_better else min
    best = pick(complete, key=lambda t: t.value)
    result = {
        "n_trials": len(trials),
        "state": "complete",
        "best_params": json.dumps(plain(dict(best.candidate.param_map)), sort_keys=True),
        "best_metric": best.value,
    }
    if search.model_path is not None:
        import joblib

        model = fit_candidate(search.estimator, best.candidate.param_map, x, y)
        name = model_file(key)
        joblib.dump(model, os.path.join(search.model_path, name))
        result["model_file"] = name
    return result


def run_groups(data: DataFrame, search: GroupSearch) -> pd.DataFrame:
    """Tune every group of ``data`` (each wholly inside one task); the per-group table.

    The rows are hash-partitioned by the group keys into :func:`task_count` partitions
    first: an explicit count that adaptive query execution keeps, where it would coalesce
    the small shuffle of ``groupBy`` alone into a partition or two (one busy core).
    """
    columns = [*search.group_by, *search.features, search.label]
    schema = result_schema(data, search.group_by)

    def task(rows: pd.DataFrame) -> pd.DataFrame:
        return search_group(search, rows)

    spread = data.select(*dict.fromkeys(columns)).repartition(
        task_count(data.sparkSession), *search.group_by
    )
    return spread.groupBy(*search.group_by).applyInPandas(task, schema).toPandas()


def task_count(spark: Any) -> int:
    """Partitions for the groups: 4 per task slot (classic), else the shuffle partitions."""
    if not is_connect(spark):
        return 4 * spark.sparkContext.defaultParallelism
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


def plain(value: Any) -> Any:
    """numpy and pandas scalars as Python's, recursively (for JSON)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value
