"""What Spark holds and has free, read from the driver's JVM (a classic session only).

The one module that reads Spark's storage and task status through private JVM handles
(``SparkContext`` through py4j, its status store): the fold cache sizes itself from it and
``bench large`` reports from it. Every function answers ``None`` (or an empty answer) where
the JVM cannot be reached, as on Spark Connect, so callers fall back to fixed defaults.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from py4j.protocol import Py4JError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StorageMemory:
    """Storage memory over the driver and executors: the most Spark may use to cache, and
    what is free now (both include the memory execution may borrow back)."""

    total: int
    free: int


@dataclass(frozen=True)
class Cached:
    """Bytes Spark holds for persisted RDDs and DataFrames: in memory and on local disk."""

    memory: int
    disk: int


def _context(spark: Any) -> Any | None:
    """The JVM ``SparkContext`` of ``spark``, or None (Spark Connect, a stopped session)."""
    try:
        return spark.sparkContext._jsc.sc()
    except Exception:  # Connect raises its own error types for sparkContext
        return None


def storage_memory(spark: Any) -> StorageMemory | None:
    """Spark's storage memory (``getExecutorMemoryStatus``), summed; None without a JVM."""
    sc = _context(spark)
    if sc is None:
        return None
    try:
        values = sc.getExecutorMemoryStatus().values().iterator()
        total = free = 0
        while values.hasNext():
            pair = values.next()
            total, free = total + int(pair._1()), free + int(pair._2())
    except Py4JError:
        logger.debug("cannot read Spark's storage memory status", exc_info=True)
        return None
    return StorageMemory(total, free)


def cached(spark: Any) -> Cached | None:
    """What Spark's block managers hold for persisted data (``getRDDStorageInfo``)."""
    sc = _context(spark)
    if sc is None:
        return None
    try:
        infos = sc.getRDDStorageInfo()
        memory = sum(int(info.memSize()) for info in infos)
        disk = sum(int(info.diskSize()) for info in infos)
    except Py4JError:
        logger.debug("cannot read Spark's storage info", exc_info=True)
        return None
    return Cached(memory, disk)


#: Task metrics summed over stages (the status store's per-stage totals), in ms or bytes.
STAGE_METRICS = (
    "executorRunTime",
    "jvmGcTime",
    "memoryBytesSpilled",
    "diskBytesSpilled",
    "inputBytes",
    "shuffleWriteBytes",
)


def stage_totals(spark: Any) -> dict[str, dict[str, int]]:
    """Task metrics of every stage Spark's status store keeps, summed per stage name.

    Keys are the stage names (``count at ...``, ``treeAggregate at ...``); each value
    holds :data:`STAGE_METRICS` and ``tasks`` and ``stages``. Empty without a JVM.
    """
    sc = _context(spark)
    if sc is None:
        return {}
    totals: dict[str, dict[str, int]] = {}
    try:
        # AppStatusStore.stageList(statuses, details, withSummaries, unsortedQuantiles,
        # taskStatus) -> a Scala Seq: py4j passes every argument (Scala defaults are not
        # seen from Java)
        gateway = spark.sparkContext._gateway
        stages = sc.statusStore().stageList(
            None, False, False, gateway.new_array(gateway.jvm.double, 0),
            gateway.jvm.java.util.ArrayList(),
        )  # fmt: skip
        for i in range(stages.size()):
            stage = stages.apply(i)
            row = totals.setdefault(
                str(stage.name()).split(" at ")[0],
                dict.fromkeys((*STAGE_METRICS, "tasks", "stages"), 0),
            )
            for name in STAGE_METRICS:
                row[name] += int(getattr(stage, name)())
            row["tasks"] += int(stage.numCompleteTasks())
            row["stages"] += 1
    except Py4JError:
        logger.debug("cannot read Spark's stage metrics", exc_info=True)
        return {}
    return totals


def persisted_bytes(df: Any) -> int | None:
    """Bytes Spark holds (memory and disk) for persisted, materialized ``df``; None where
    that cannot be read (Spark Connect, or ``df`` is not cached)."""
    try:
        spark = df.sparkSession
        found = spark._jsparkSession.sharedState().cacheManager().lookupCachedData(df._jdf)
        if not found.isDefined():
            return None
        builder = found.get().cachedRepresentation().cacheBuilder()
        rdd_id = int(builder.cachedColumnBuffers().id())
        infos = spark.sparkContext._jsc.sc().getRDDStorageInfo()
    except (AttributeError, Py4JError):
        logger.debug("cannot read the size of a persisted DataFrame", exc_info=True)
        return None
    held = [int(i.memSize()) + int(i.diskSize()) for i in infos if int(i.id()) == rdd_id]
    return held[0] if held else int(builder.sizeInBytesStats().value())
