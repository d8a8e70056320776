"""The engine's thread pool: fixed worker threads that run queued fold tasks in an order
chosen when a worker frees up, not when a task was queued.

First come, first served by default (as ``concurrent.futures.ThreadPoolExecutor``); an
objective may ask for its tasks fold-major (see ``Engine``), and it may decide so only
after the first tasks are queued, once it knows how large a fold is.
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import threading
from collections.abc import Callable
from typing import Any

#: Which queued task runs next: the smallest value of ``order(key, sequence)``.
Order = Callable[[tuple[int, ...], int], Any]


def first_come(key: tuple[int, ...], sequence: int) -> int:
    """The default order: the task queued first runs first."""
    return sequence


class OrderedPool:
    """``workers`` threads running submitted callables, the smallest ``order`` value first."""

    def __init__(
        self, workers: int, thread_name_prefix: str = "pool", order: Order = first_come
    ) -> None:
        self._order = order
        self._queue: list[tuple[tuple[int, ...], int, cf.Future[Any], Callable[[], Any]]] = []
        self._sequence = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{thread_name_prefix}_{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[[], Any], key: tuple[int, ...] = ()) -> cf.Future[Any]:
        """Queue ``fn`` (``key`` describes it to ``order``); its future is returned at once."""
        future: cf.Future[Any] = cf.Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("cannot submit to a pool that was shut down")
            self._queue.append((key, next(self._sequence), future, fn))
            self._cond.notify()
        return future

    def _next(self) -> tuple[cf.Future[Any], Callable[[], Any]] | None:
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            if not self._queue:
                return None
            item = min(self._queue, key=lambda task: self._order(task[0], task[1]))
            self._queue.remove(item)
            return item[2], item[3]

    def _work(self) -> None:
        while (task := self._next()) is not None:
            future, fn = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn()
            except BaseException as exc:  # the future carries it, as in ThreadPoolExecutor
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        """Take no more tasks; cancel the queued ones if asked; wait for the workers."""
        with self._cond:
            self._closed = True
            if cancel_futures:
                for _, _, future, _ in self._queue:
                    future.cancel()
                self._queue.clear()
            self._cond.notify_all()
        if wait:
            for thread in self._threads:
                thread.join()
