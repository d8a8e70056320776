"""Session ports: the one place that knows a classic session from a Spark Connect one.

The engine sees only ``in_thread`` (run a fold task under job tags) and ``cancel`` (by
tag). The lifecycle also asks a port for the session candidates fit in, the fold cache's
byte budget, and the callback that releases data left by interrupted fits; each answer
differs between the two kinds of session, and nothing else in sparktune branches on it.

- :class:`ClassicPort`: Spark's thread-local job tags (``SparkContext.addJobTag``) carried
  to pool threads by ``thread_target``, cancel with ``cancelJobsWithTag``;
  candidates fit in the interpreted clone of the session.
- :class:`ConnectPort`: session tags (``SparkSession.addTag``, thread-local: each fold task
  adds its trial's tags on its pool thread and removes them when it ends, since pool
  threads are reused), cancel with ``interruptTag``; no clone (the session runs uncompiled
  while the search runs instead), no server-side cache statistics.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from pyspark.sql import SparkSession

from sparktune.compat.pyspark import check_connect, thread_target
from sparktune.core.callbacks import Callback
from sparktune.spark.cache import default_cache_budget
from sparktune.spark.cleanup import ReleaseLeftovers
from sparktune.spark.fold_plan import local_disk_budget
from sparktune.spark.session import INTERPRETED, interpreted_session

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: The fold cache's budget on Spark Connect, where the server's storage memory is not
#: visible to the client (pass ``cache_budget`` to choose another).
CONNECT_CACHE_BUDGET = 1024 * 2**20


def is_connect(spark: Any) -> bool:
    """Whether ``spark`` is a Spark Connect session (``SparkSession.builder.remote(...)``)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


class ClassicPort:
    """Runs fold tasks under job tags on a classic session and cancels them by tag."""

    connect = False

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    def in_thread(
        self, task: Callable[[], T], tags: Sequence[str], description: str
    ) -> Callable[[], T]:
        """``task`` wrapped to run on a pool thread with ``tags`` on every Spark job it starts."""
        sc = self.spark.sparkContext

        def tagged() -> T:
            for tag in tags:
                sc.addJobTag(tag)
            sc.setInterruptOnCancel(True)
            sc.setJobDescription(description)
            return task()

        return thread_target(self.spark, tagged)

    def cancel(self, tag: str) -> None:
        """Cancel the running and queued Spark jobs carrying ``tag``."""
        self.spark.sparkContext.cancelJobsWithTag(tag)

    def candidate_session(self) -> SparkSession:
        """The interpreted clone candidates fit and score in (no per-fit code generation)."""
        return interpreted_session(self.spark)

    def cache_budget(self) -> int:
        """The fold cache's memory budget: half of the storage memory the cluster reports,
        or what is free of it if less."""
        return default_cache_budget(self.spark)

    def disk_budget(self) -> int | None:
        """The local disk the fold cache may fill (half the free space of Spark's local
        directories, read on the driver)."""
        return local_disk_budget(self.spark)

    def leftovers(self) -> list[Callback]:
        """The callback that unpersists what interrupted fits left persisted."""
        return [ReleaseLeftovers(self.spark)]

    @contextlib.contextmanager
    def searching(self) -> Iterator[None]:
        """Nothing to change for the search: candidates have their own (cloned) session."""
        yield


class ConnectPort:
    """Runs fold tasks under session tags on a Spark Connect session; cancels by tag."""

    connect = True

    def __init__(self, spark: Any) -> None:
        self.spark = spark

    def in_thread(
        self, task: Callable[[], T], tags: Sequence[str], description: str
    ) -> Callable[[], T]:
        """``task`` wrapped to add ``tags`` on its pool thread, and remove them when it ends.

        ``thread_target`` makes the session the pool thread's active one (and
        carries the caller's own tags there): a released model is deleted from the server
        through the thread's active session, and without one the delete is silently skipped
        (the server's model cache would fill). Connect has no job descriptions: the tags
        name the search and the trial.
        """
        spark = self.spark

        def tagged() -> T:
            for tag in tags:
                spark.addTag(tag)
            try:
                return task()
            finally:
                for tag in tags:
                    spark.removeTag(tag)

        return thread_target(spark, tagged)

    def cancel(self, tag: str) -> None:
        """Interrupt the operations carrying ``tag`` on the server."""
        self.spark.interruptTag(tag)

    def candidate_session(self) -> Any:
        """The session itself: a Connect session cannot be cloned into an interpreted one."""
        logger.debug("Spark Connect: candidates fit without the interpreted clone")
        return self.spark

    def cache_budget(self) -> int:
        """:data:`CONNECT_CACHE_BUDGET`: the server's memory is not visible from here."""
        logger.debug("Spark Connect: fold cache budget %d bytes", CONNECT_CACHE_BUDGET)
        return CONNECT_CACHE_BUDGET

    def disk_budget(self) -> int | None:
        """None (unbounded): the server's disks are not visible from here, and sizes are not
        either, so nothing is evicted for want of room."""
        return None

    def leftovers(self) -> list[Callback]:
        """None: the client cannot list the server's persisted RDDs."""
        logger.debug("Spark Connect: data left by interrupted fits is the server's to release")
        return []

    @contextlib.contextmanager
    def searching(self) -> Iterator[None]:
        """Run the session's queries uncompiled while the search runs, then restore it.

        The session cannot be cloned, so the interpreted mode the classic port gives only to
        candidates (see ``interpreted_session``) is set on the session itself for the
        search; a ``spark.sql.codegen.factoryMode`` the user set wins.
        """
        key, value = INTERPRETED
        conf = self.spark.conf
        if conf.get(key, None) is not None:
            yield
            return
        conf.set(key, value)
        try:
            yield
        finally:
            if conf.get(key, None) == value:  # unless someone set it meanwhile
                conf.unset(key)


def port_for(spark: Any) -> ClassicPort | ConnectPort:
    """The port of ``spark``'s kind of session (Connect needs pyspark 4)."""
    check_connect(spark)
    return ConnectPort(spark) if is_connect(spark) else ClassicPort(spark)
