"""The featurized-fold cache: persisted prefix outputs, shared by every candidate of a fold.

Entries are built once per key (concurrent users of a key wait for the first builder),
counted while in use, evicted least-recently-used beyond a byte budget, and all
unpersisted by :meth:`FoldCache.close`, which the engine calls however the search ends.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from sparktune.compat.pyspark import cached_relation_frame, storage_memory
from sparktune.compat.pyspark import cached_size as compat_cached_size

logger = logging.getLogger(__name__)


def lineage_free(df: DataFrame, session: SparkSession | None = None) -> DataFrame:
    """``df`` (persisted and materialized) as a DataFrame whose plan is just its cached data.

    Every query on a persisted DataFrame re-analyzes its whole lineage and looks it up in
    the cache manager; for featurized folds that planning took more driver time than the
    fits. A plan that starts at the cached relation skips both, and Spark still recomputes
    lost partitions from the lineage the relation keeps. The result belongs to ``session``
    (a session sharing ``df``'s context; default: ``df``'s own). ``df`` itself is returned
    where the cached relation cannot be reached (e.g. Spark Connect).
    """
    frame = cached_relation_frame(df, session or df.sparkSession)
    if frame is None:
        logger.debug("cannot reach the cached relation; querying the persisted DataFrame")
        return df
    return frame


def cached_size(df: DataFrame) -> int:
    """Bytes a persisted, materialized DataFrame takes, as Spark's cache statistics report.

    0 where the statistics cannot be reached (Spark Connect): such entries never count
    toward the budget, and the cache keeps them until the search ends.
    """
    return compat_cached_size(df)


@dataclass
class Entry:
    """One cached fold: featurized train and validation parts and the fitted prefix."""

    train: DataFrame
    validation: DataFrame
    prefix_model: Any
    size: int = 0
    refs: int = 0
    error: BaseException | None = None
    frames: list[DataFrame] = field(default_factory=list)

    def unpersist(self) -> None:
        """Release the persisted data of this entry."""
        for frame in self.frames:
            frame.unpersist(blocking=True)


class FoldCache:
    """Thread-safe LRU cache of featurized folds with a byte budget (``None``: unbounded)."""

    def __init__(
        self,
        budget_bytes: int | None = None,
        storage_level: StorageLevel = StorageLevel.MEMORY_AND_DISK,
    ) -> None:
        self.budget_bytes = budget_bytes
        self.storage_level = storage_level
        self._entries: OrderedDict[Hashable, Entry] = OrderedDict()
        self._building: set[Hashable] = set()
        self._cond = threading.Condition()
        self.evictions = 0

    def persist(self, df: DataFrame) -> DataFrame:
        """Persist ``df`` at the cache's storage level (used by entry builders)."""
        return df.persist(self.storage_level)

    @contextmanager
    def use(self, key: Hashable, build: Callable[[], Entry]) -> Iterator[Entry]:
        """Yield the entry for ``key``, building it with ``build`` if absent; pin it meanwhile."""
        entry = self._acquire(key, build)
        try:
            yield entry
        finally:
            with self._cond:
                entry.refs -= 1
                self._evict()

    def _acquire(self, key: Hashable, build: Callable[[], Entry]) -> Entry:
        with self._cond:
            while key in self._building:
                self._cond.wait()
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                if entry.error is not None:
                    raise entry.error
                entry.refs += 1
                return entry
            self._building.add(key)
        try:
            entry = build()
            entry.size = sum(cached_size(f) for f in entry.frames)
        except BaseException as exc:
            entry = Entry(None, None, None, error=exc)  # type: ignore[arg-type]
            with self._cond:
                self._building.discard(key)
                self._entries[key] = entry
                self._cond.notify_all()
            raise
        with self._cond:
            self._building.discard(key)
            self._entries[key] = entry
            entry.refs += 1
            self._evict()
            self._cond.notify_all()
        logger.debug("cached fold %s: %.1f MiB", key, entry.size / 2**20)
        return entry

    def entries(self) -> list[Entry]:
        """A snapshot of the entries held, least recently used first (failed builds included)."""
        with self._cond:
            return list(self._entries.values())

    def _evict(self) -> None:
        if self.budget_bytes is None:
            return
        total = sum(e.size for e in self._entries.values())
        for key in list(self._entries):
            if total <= self.budget_bytes:
                break
            entry = self._entries[key]
            if entry.refs > 0 or entry.error is not None:
                continue
            del self._entries[key]
            entry.unpersist()
            total -= entry.size
            self.evictions += 1
            logger.info(
                "evicted cached fold %s (%.1f MiB) to stay in budget", key, entry.size / 2**20
            )

    def close(self) -> None:
        """Unpersist every entry; called when the search ends, however it ends."""
        with self._cond:
            entries = list(self._entries.values())
            self._entries.clear()
        for entry in entries:
            entry.unpersist()


def default_cache_budget(spark: SparkSession) -> int:
    """Half of the storage memory Spark reports across the driver and executors."""
    return max(storage_memory(spark) // 2, 64 * 2**20)
