"""The engine's one view of Spark: run work in a thread under job tags, cancel a tag.

The engine imports nothing from pyspark; a session port (``sparktune.spark.port``) carries
each fold task's Spark jobs under the search's and the trial's tags, so a timeout or a
failing fold can cancel exactly that trial's jobs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

T = TypeVar("T")


class SessionPort(Protocol):
    """Runs fold tasks on a session and cancels them by tag."""

    def in_thread(
        self, task: Callable[[], T], tags: Sequence[str], description: str
    ) -> Callable[[], T]:
        """``task`` wrapped to run on a pool thread with ``tags`` on every job it starts."""
        ...

    def cancel(self, tag: str) -> None:
        """Cancel every running or queued job carrying ``tag`` (no-op when there is none)."""
        ...


class ThreadPort:
    """A session port for trials that start no Spark job: a group's search inside one task.

    Tasks run on the engine's threads as they are; there are no job tags to carry or cancel.
    Cancelling is the engine's own: queued folds are dropped, and a fit already running ends
    on its own (the engine waits for it), so a timeout overruns by at most one fit.
    """

    def in_thread(
        self, task: Callable[[], T], tags: Sequence[str], description: str
    ) -> Callable[[], T]:
        """``task`` itself: nothing to tag."""
        return task

    def cancel(self, tag: str) -> None:
        """Nothing to cancel: no Spark jobs run under this port."""
