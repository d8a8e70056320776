"""The featurized-fold cache: persisted prefix outputs, shared by every candidate of a fold.

Entries are built once per key (concurrent users of a key wait for the first builder),
counted while in use, sized by what Spark holds for them, kept in memory while the memory
budget lasts and on local disk beyond it (the plan of :mod:`sparktune.spark.fold_plan`),
evicted least-recently-used when a new entry needs their room within the budget for both
(an idle entry stays while no other needs its room: its queued fits may still come), and
all unpersisted by
:meth:`FoldCache.close`, which the engine calls however the search ends.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from sparktune.compat import spark_status
from sparktune.compat.pyspark import cached_relation_frame
from sparktune.spark.fold_plan import FoldPlan, choose

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
    """Bytes Spark holds (in memory and on disk) for a persisted, materialized DataFrame.

    0 where that cannot be read (Spark Connect): such entries never count toward the
    budget, and the cache keeps them until the search ends. (The plan's statistics are no
    measure: before a cache is materialized they estimate, and the estimate stays.)
    """
    return spark_status.persisted_bytes(df) or 0


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
    on_disk: bool = False

    def unpersist(self) -> None:
        """Release the persisted data of this entry."""
        for frame in self.frames:
            frame.unpersist(blocking=True)


#: The entries a search will want next, each a key and its builder (``FoldCache.use``).
Ahead = Callable[[], Iterable[tuple[Hashable, Callable[[], Entry]]]]


class FoldCache:
    """Thread-safe LRU cache of featurized folds within byte budgets (``None``: unbounded).

    ``budget_bytes`` bounds what the entries hold in memory and on local disk together
    (before an entry is built, the least recently used entries not in use are evicted until
    it fits, and again once its size is known); ``memory_bytes``
    bounds what they hold in memory: an entry built when that is used up is persisted
    ``DISK_ONLY``. ``num_folds`` lets the first entry's size choose the :class:`FoldPlan`
    (logged once); ``plan`` is None until then.
    """

    def __init__(
        self,
        budget_bytes: int | None = None,
        storage_level: StorageLevel = StorageLevel.MEMORY_AND_DISK,
        memory_bytes: int | None = None,
        num_folds: int | None = None,
    ) -> None:
        self.budget_bytes = budget_bytes
        self.memory_bytes = memory_bytes
        self.storage_level = storage_level
        self.num_folds = num_folds
        self.plan: FoldPlan | None = None
        self._entries: OrderedDict[Hashable, Entry] = OrderedDict()
        self._building: set[Hashable] = set()
        self._on_disk: set[int] = set()  # ids of the frames persisted DISK_ONLY
        self._cond = threading.Condition()
        self.evictions = 0
        self.builds = 0

    def _memory_full(self) -> bool:
        """Whether one more fold would take the entries in memory past ``memory_bytes``."""
        if self.memory_bytes is None or self.plan is None:
            return False
        with self._cond:
            held = sum(e.size for e in self._entries.values() if not e.on_disk)
        return held + self.plan.fold_bytes > self.memory_bytes

    def persist(self, df: DataFrame) -> DataFrame:
        """Persist ``df`` for an entry being built: at the cache's storage level, or
        ``DISK_ONLY`` once the memory budget is used up."""
        if not self._memory_full():
            return df.persist(self.storage_level)
        persisted = df.persist(StorageLevel.DISK_ONLY)
        with self._cond:
            self._on_disk.add(id(persisted))
        return persisted

    @contextmanager
    def use(
        self,
        key: Hashable,
        build: Callable[[], Entry],
        ahead: Ahead | None = None,
    ) -> Iterator[Entry]:
        """Yield the entry for ``key``, building it with ``build`` if absent; pin it meanwhile.

        ``ahead`` lists entries the caller's search will want next (key, builder): a caller
        that would only wait for another thread building ``key`` builds the first of them
        that is absent meanwhile, when every fold fits in memory (a race over folds, whose
        candidates all wait for the same next fold, then builds two at a time).
        """
        entry = self._acquire(key, build, ahead)
        try:
            yield entry
        finally:
            with self._cond:
                entry.refs -= 1

    def _acquire(
        self,
        key: Hashable,
        build: Callable[[], Entry],
        ahead: Ahead | None = None,
    ) -> Entry:
        while True:
            with self._cond:
                if self._unsized():
                    self._cond.wait()  # the first fold's size picks the plan for the others
                    continue
                if key not in self._building:
                    entry = self._entries.get(key)
                    if entry is not None:
                        self._entries.move_to_end(key)
                        if entry.error is not None:
                            raise entry.error
                        entry.refs += 1
                        return entry
                    self._evict(incoming=self._expected_size())
                    self._building.add(key)
                    break
                spare = self._spare(ahead) if ahead is not None else None
                if spare is None:
                    self._cond.wait()
                    continue
                self._building.add(spare[0])
            self._build_ahead(*spare)
        return self._build(key, build, pin=True)

    def _unsized(self) -> bool:
        """Whether the first entry (whose size picks the plan) is still being built: until
        then no other is started, so that the plan, not the order of arrival, says how the
        others are persisted (two folds built at once on a small heap can exhaust it)."""
        return self.num_folds is not None and self.builds == 0 and bool(self._building)

    def _spare(self, ahead: Ahead) -> tuple[Hashable, Callable[[], Entry]] | None:
        """The first entry of ``ahead`` that is absent, if every fold fits in memory."""
        if self.plan is None or self.plan.kind != "memory":
            return None
        for key, build in ahead():
            if key not in self._entries and key not in self._building:
                return key, build
        return None

    def _build_ahead(self, key: Hashable, build: Callable[[], Entry]) -> None:
        """Build ``key`` for a later user; a failure is not kept (that user builds again)."""
        try:
            self._build(key, build, pin=False)
        except Exception:
            logger.debug("building fold %s ahead failed; it is built when needed", key)

    def _build(self, key: Hashable, build: Callable[[], Entry], pin: bool) -> Entry:
        """Build ``key`` (marked building by the caller) and keep it; pinned if ``pin``. A
        failure is kept for the users of ``key`` when pinned (built for its own use)."""
        try:
            entry = build()
            entry.size = sum(cached_size(f) for f in entry.frames)
            with self._cond:
                entry.on_disk = bool(entry.frames) and all(
                    id(f) in self._on_disk for f in entry.frames
                )
        except BaseException as exc:
            with self._cond:
                self._building.discard(key)
                if pin:
                    self._entries[key] = Entry(None, None, None, error=exc)  # type: ignore[arg-type]
                self._cond.notify_all()
            raise
        with self._cond:
            self._building.discard(key)
            self._entries[key] = entry
            entry.refs += 1 if pin else 0
            self.builds += 1
            self._choose_plan(entry.size)
            self._evict()
            self._cond.notify_all()
        where = "local disk" if entry.on_disk else "memory"
        logger.debug("cached fold %s: %.1f MiB (%s)", key, entry.size / 2**20, where)
        return entry

    def _choose_plan(self, size: int) -> None:
        """Choose the plan from the first entry's size, once; log it (or why there is none)."""
        if self.plan is not None or self.num_folds is None or self.builds != 1:
            return
        if size == 0:
            logger.info(
                "fold cache plan: the size of a cached fold is not visible here (Spark "
                "Connect); every fold is kept (memory, then local disk) until the search ends"
            )
            return
        self.plan = choose(size, self.num_folds, self.memory_bytes, self.budget_bytes)
        logger.info(self.plan.describe(self.memory_bytes, self.budget_bytes))

    def entries(self) -> list[Entry]:
        """A snapshot of the entries held, least recently used first (failed builds included)."""
        with self._cond:
            return list(self._entries.values())

    def _expected_size(self) -> int:
        """The size a new entry is expected to take: the plan's fold size, else the largest
        entry held."""
        if self.plan is not None:
            return self.plan.fold_bytes
        return max((e.size for e in self._entries.values()), default=0)

    def _evict(self, incoming: int = 0) -> None:
        """Evict idle entries, least recently used first, until those held and ``incoming``
        more bytes fit the budget (entries in use or failed stay)."""
        if self.budget_bytes is None:
            return
        total = sum(e.size for e in self._entries.values()) + incoming
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


#: The least memory budget the fold cache gets from Spark's storage memory.
MIN_MEMORY_BUDGET = 16 * 2**20


def default_cache_budget(spark: SparkSession) -> int:
    """The fold cache's memory budget: half of the storage memory Spark reports across the
    driver and executors, or what is free of it now if that is less.

    Half, because execution (fits, aggregations) may take back storage memory down to
    ``spark.memory.storageFraction`` (half by default); free, because data the user
    cached before the search keeps its place.
    """
    memory = spark_status.storage_memory(spark)
    if memory is None:
        return 1024 * 2**20
    return max(min(memory.total // 2, memory.free), MIN_MEMORY_BUDGET)
