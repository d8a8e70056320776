"""The background writer: every MLflow write of a search, one at a time, each retried.

One worker thread (a single-thread :class:`~concurrent.futures.ThreadPoolExecutor`) runs the
jobs in the order they were submitted, so a sqlite store never sees concurrent writers and a
child run is never written before its parent; the search threads only submit. A job that
fails for a reason another attempt may fix (connection or server trouble, not bad content)
is retried with exponential backoff by ``tenacity``. Once MLflow keeps failing, later jobs
get one attempt each (degraded mode) until one succeeds again, so an outage costs one
attempt per job rather than the whole backoff schedule. :meth:`Writer.drain` waits a bounded
time for the jobs still pending and gives up on the rest, which the caller reports.

A job's ``action`` must resume where a failed attempt stopped (e.g. not create its run twice).
An attempt already running when the drain gives up is not interrupted: it ends on its own,
within MLflow's HTTP timeout, and Python waits for it at interpreter exit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_when_event_set,
    wait_exponential,
)

from sparktune.core.errors import describe_error

logger = logging.getLogger(__name__)

#: MLflow error codes that another attempt cannot fix.
PERMANENT = frozenset(
    {
        "INVALID_PARAMETER_VALUE",
        "RESOURCE_ALREADY_EXISTS",
        "RESOURCE_DOES_NOT_EXIST",
        "BAD_REQUEST",
        "INVALID_STATE",
        "PERMISSION_DENIED",
        "UNAUTHENTICATED",
    }
)


def transient(exc: BaseException) -> bool:
    """Whether trying again may help: connection and server trouble, not bad content."""
    code = getattr(exc, "error_code", None)
    if code is not None:
        return code not in PERMANENT
    return not isinstance(exc, ValueError | TypeError | AttributeError | KeyError)


@dataclass(frozen=True, eq=False)
class Job:
    """One unit of logging; ``trial`` is the trial it logs, if it logs one."""

    label: str
    action: Callable[[], None]
    trial: int | None = None


class Writer:
    """Runs jobs one at a time on a background thread, retrying each with backoff.

    ``attempts`` tries per job, waiting ``backoff`` seconds before the second and doubling
    up to ``max_backoff``.
    """

    def __init__(self, attempts: int, backoff: float, max_backoff: float) -> None:
        self._attempts = attempts
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sparktune-mlflow")
        self._submitted: list[tuple[Job, Future[bool]]] = []
        self._abandoned = threading.Event()
        self._degraded = False  # touched by the worker thread only

    def submit(self, job: Job) -> None:
        """Queue ``job`` behind every job submitted before it."""
        self._submitted.append((job, self._executor.submit(self._run, job)))

    def drain(self, timeout: float) -> list[Job]:
        """Wait up to ``timeout`` s for every queued job; stop, and return those not done.

        Jobs not started are dropped, and a job waiting to retry tries no more.
        """
        _, pending = wait([future for _, future in self._submitted], timeout)
        self._abandoned.set()
        self._executor.shutdown(wait=False, cancel_futures=True)
        return [job for job, future in self._submitted if future in pending]

    @property
    def failed(self) -> list[Job]:
        """The jobs that ran and gave up (their attempts spent, or a permanent error)."""
        return [
            job
            for job, future in self._submitted
            if future.done() and not future.cancelled() and not future.result()
        ]

    def _run(self, job: Job) -> bool:
        """Write ``job``, retrying transient failures; whether it was written."""
        attempts = 1 if self._degraded else self._attempts
        errors: list[Exception] = []

        def attempt() -> None:
            if errors and self._abandoned.is_set():
                raise errors[-1]  # the drain gave up during the backoff: no further attempt
            try:
                job.action()
            except Exception as exc:
                errors.append(exc)
                logger.debug(
                    "MLflow write %r failed (attempt %d)", job.label, len(errors), exc_info=exc
                )
                raise

        retrying = Retrying(
            stop=stop_after_attempt(attempts) | stop_when_event_set(self._abandoned),
            wait=wait_exponential(multiplier=self._backoff, max=self._max_backoff),
            retry=retry_if_exception(transient),
            sleep=self._abandoned.wait,  # a drain that gives up ends the backoff at once
            reraise=True,
        )
        started = time.monotonic()
        try:
            retrying(attempt)
        except Exception as exc:
            self._degraded = self._degraded or transient(exc)
            logger.warning(
                "MLflow: could not log %s (%d attempt(s)): %s",
                job.label,
                len(errors),
                describe_error(exc),
            )
            return False
        logger.debug("MLflow: %s written in %.2f s", job.label, time.monotonic() - started)
        self._degraded = False
        return True
