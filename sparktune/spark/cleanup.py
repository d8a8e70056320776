"""Release the data that fits of cancelled or failed trials left persisted.

Spark ML estimators persist intermediate RDDs while they train (GBT's binned points and
prediction errors, for example) and unpersist them when training ends; a fit cancelled by
a timeout or stopped by an error never gets there. The featurized-fold cache releases its
own data; this callback releases what such interrupted fits left behind.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pyspark.sql import SparkSession

from sparktune.compat.pyspark import persisted_rdds
from sparktune.core.callbacks import Callback
from sparktune.core.engine import Engine
from sparktune.core.trial import Trial, TrialState

logger = logging.getLogger(__name__)


def persistent_rdds(spark: SparkSession) -> set[int]:
    """Ids of the RDDs the SparkContext holds persisted right now."""
    return set(persisted_rdds(spark))


class ReleaseLeftovers(Callback):
    """After a search with cancelled or failed trials, unpersist RDDs persisted during it.

    Data persisted before the search is kept. An RDD that another thread of the same
    application persists while the search runs would be released too, if a trial failed or
    was cancelled.
    """

    def __init__(self, spark: SparkSession) -> None:
        self._spark = spark
        self._before: set[int] = set()

    def on_search_start(self, engine: Engine) -> None:
        """Note what was persisted before the search."""
        self._before = persistent_rdds(self._spark)

    def on_search_end(self, trials: Sequence[Trial], error: BaseException | None) -> None:
        """Unpersist what interrupted fits left behind (the engine has released its cache)."""
        if all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials):
            return
        held = persisted_rdds(self._spark)
        left = [rdd_id for rdd_id in held if rdd_id not in self._before]
        for rdd_id in left:
            held[rdd_id].unpersist(True)
        if left:
            logger.info("released %d RDD(s) left persisted by interrupted fits", len(left))
