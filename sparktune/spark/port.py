"""The classic session's port for the engine: job tags on fold threads, cancel by tag.

Spark's thread-local properties (job tags, description, interrupt-on-cancel) are set in the
pool thread itself, and ``inheritable_thread_target`` carries the session's local properties
there, as pyspark's own tuning classes do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from pyspark.sql import SparkSession
from pyspark.util import inheritable_thread_target

T = TypeVar("T")


class ClassicPort:
    """Runs fold tasks under job tags on a classic session and cancels them by tag."""

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

        return inheritable_thread_target(self.spark)(tagged)

    def cancel(self, tag: str) -> None:
        """Cancel the running and queued Spark jobs carrying ``tag``."""
        self.spark.sparkContext.cancelJobsWithTag(tag)
