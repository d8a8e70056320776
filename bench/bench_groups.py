"""Issue 17: one tuned model per group, each group's search in one Spark task.

Diamonds grouped by ``cut`` x ``color`` x ``clarity`` (276 groups), ``TRIALS`` TPE trials
of a Ridge on the numeric columns per group, 3-fold CV: ``sparktune.tune_groups`` against
a driver-side loop over the groups running the very same searches one after another
(``lifecycle.groups.search_group``, the engine on each group's pandas rows), the two
interleaved over ``ROUNDS`` rounds (5 by default), each one's fastest kept: the first
``tune_groups`` of a process starts its Python workers, and the next few are still
slower (20, 17, 14, 12, 12 s in one run). Also the
share of the two cores the tasks kept busy: the groups' summed search time over (wall
time x 2).
"""

from __future__ import annotations

import math
import os

import pandas as pd
from hyperopt import hp
from sklearn.linear_model import Ridge

import sparktune
from bench.common import CATEGORICAL, NUMERIC, best_of, session
from sparktune.jobs.datasets import load_diamonds
from sparktune.lifecycle.groups import GroupSearch, search_group
from sparktune.spark.local_fit import resolve_scorer

TRIALS = int(os.environ.get("BENCH_GROUPS_TRIALS", "8"))
ROUNDS = int(os.environ.get("BENCH_GROUPS_ROUNDS", "5"))
FOLDS = 3
SPACE = {"alpha": hp.loguniform("alpha", math.log(1e-3), math.log(1e2))}
METRIC = "neg_root_mean_squared_error"


def main() -> dict[str, float]:
    """Time both ways of tuning every group, interleaved over ``ROUNDS`` rounds (each one's
    fastest kept); print wall times, ratio and core share."""
    spark = session()
    data = load_diamonds(spark).repartition(4).cache()
    groups = data.select(*CATEGORICAL).distinct().count()
    common = dict(estimator=Ridge(), space=SPACE, label="price", num_folds=FOLDS, seed=0)
    frame = data.toPandas()
    search = GroupSearch(
        group_by=tuple(CATEGORICAL), scorer=resolve_scorer(METRIC), features=tuple(NUMERIC),
        strategy="tpe", max_trials=TRIALS, max_group_rows=10**9, **common,
    )  # fmt: skip
    print(f"  {groups} groups x {TRIALS} trials, {ROUNDS} round(s) interleaved", flush=True)
    best = best_of(
        {
            "tune_groups": lambda: sparktune.tune_groups(
                data,
                group_by=CATEGORICAL,
                metric=METRIC,
                features=NUMERIC,
                strategy="tpe",
                max_trials=TRIALS,
                tracking=False,
                **common,
            ).toPandas(),  # fmt: skip
            "driver-side loop over the groups": lambda: pd.concat(
                [search_group(search, rows) for _, rows in frame.groupby(CATEGORICAL)]
            ),
        },
        ROUNDS,
    )
    (seconds, table), (loop_seconds, looped) = best.values()
    busy = table["elapsed"].sum() / (seconds * 2)
    tuned, tuned_loop = ((t["state"] == "complete").sum() for t in (table, looped))
    print(
        f"  tune_groups/loop {seconds / loop_seconds:.2f}x; {tuned} groups tuned ({tuned_loop} "
        f"in the loop); the tasks kept {busy:.0%} of 2 cores busy",
        flush=True,
    )
    return {"tune_groups_s": seconds, "loop_s": loop_seconds, "core_share": busy}
