"""The tracker's background writer, without Spark or an MLflow store: retries, degraded
mode, ordering and the bounded drain, driven by real callables that fail a given number of
times."""

from __future__ import annotations

import threading
import time

import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_DOES_NOT_EXIST,
    TEMPORARILY_UNAVAILABLE,
)

from sparktune.tracking.writer import Job, Writer


class Flaky:
    """Fails its first ``fails`` calls with ``error``, then succeeds; records when it ran."""

    def __init__(self, fails: int, error: Exception | None = None) -> None:
        self.fails = fails
        self.error = error or ConnectionError("store unreachable")
        self.calls: list[float] = []
        self.threads: set[str] = set()

    def __call__(self) -> None:
        self.calls.append(time.monotonic())
        self.threads.add(threading.current_thread().name)
        if len(self.calls) <= self.fails:
            raise self.error


def run(writer: Writer, *actions: Flaky, timeout: float = 30.0) -> tuple[list[Job], list[Job]]:
    """Submit one job per action, drain; (jobs left pending, jobs that failed)."""
    jobs = [Job(f"job {i}", action, trial=i) for i, action in enumerate(actions)]
    for job in jobs:
        writer.submit(job)
    left = writer.drain(timeout)
    return left, writer.failed


def test_a_failing_write_is_retried_with_doubling_capped_backoff():
    flaky = Flaky(fails=3)
    left, failed = run(Writer(attempts=4, backoff=0.05, max_backoff=0.12), flaky)
    assert left == [] and failed == []
    assert len(flaky.calls) == 4
    gaps = [b - a for a, b in zip(flaky.calls, flaky.calls[1:])]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.12
    assert gaps[2] < 0.24 - 0.01  # capped at max_backoff, not doubled to 0.2
    assert all(name.startswith("sparktune-mlflow") for name in flaky.threads)


def test_a_write_gives_up_after_its_attempts():
    flaky = Flaky(fails=100)
    left, failed = run(Writer(attempts=3, backoff=0.0, max_backoff=0.0), flaky)
    assert left == [] and [job.trial for job in failed] == [0]
    assert len(flaky.calls) == 3


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad metric"),
        TypeError("not a string"),
        MlflowException("no such run", error_code=RESOURCE_DOES_NOT_EXIST),
        MlflowException("bad param", error_code=INVALID_PARAMETER_VALUE),
    ],
)
def test_a_permanent_error_is_not_retried(error):
    flaky = Flaky(fails=100, error=error)
    after = Flaky(fails=1)
    left, failed = run(Writer(attempts=4, backoff=0.0, max_backoff=0.0), flaky, after)
    assert len(flaky.calls) == 1 and [job.trial for job in failed] == [0]
    # Bad content is no outage: the next write still gets every attempt.
    assert len(after.calls) == 2 and left == []


def test_a_server_error_is_retried():
    flaky = Flaky(fails=1, error=MlflowException("busy", error_code=TEMPORARILY_UNAVAILABLE))
    left, failed = run(Writer(attempts=2, backoff=0.0, max_backoff=0.0), flaky)
    assert len(flaky.calls) == 2 and left == [] and failed == []


def test_while_mlflow_keeps_failing_each_write_gets_one_attempt_until_one_succeeds():
    down, still_down, back = Flaky(fails=100), Flaky(fails=100), Flaky(fails=0)
    flaky_again = Flaky(fails=2)
    left, failed = run(
        Writer(attempts=3, backoff=0.0, max_backoff=0.0), down, still_down, back, flaky_again
    )
    assert len(down.calls) == 3  # the outage is not known yet: every attempt
    assert len(still_down.calls) == 1  # degraded: one attempt
    assert len(back.calls) == 1  # one attempt, and it succeeds: no longer degraded
    assert len(flaky_again.calls) == 3  # so the next failing write gets its attempts again
    assert left == [] and [job.trial for job in failed] == [0, 1]


def test_writes_run_one_at_a_time_in_submission_order():
    order: list[int] = []
    active = []

    def job(number: int):
        def action() -> None:
            active.append(number)
            assert len(active) == 1, "two writes at once"
            time.sleep(0.005)
            order.append(number)
            active.remove(number)

        return action

    writer = Writer(attempts=1, backoff=0.0, max_backoff=0.0)
    for number in range(20):
        writer.submit(Job(str(number), job(number)))
    assert writer.drain(30) == [] and writer.failed == []
    assert order == list(range(20))


def test_the_drain_gives_up_on_time_and_reports_what_is_left():
    release = threading.Event()
    started = threading.Event()

    def stuck() -> None:
        started.set()
        release.wait(10)

    queued = Flaky(fails=0)
    writer = Writer(attempts=2, backoff=0.0, max_backoff=0.0)
    writer.submit(Job("stuck", stuck, trial=0))
    writer.submit(Job("queued", queued, trial=1))
    assert started.wait(10)
    began = time.monotonic()
    left = writer.drain(0.2)
    assert time.monotonic() - began < 1.0
    assert [job.label for job in left] == ["stuck", "queued"]
    release.set()
    time.sleep(0.1)
    assert queued.calls == []  # a job not started when the drain gave up never runs


def test_a_write_waiting_to_retry_stops_when_the_drain_gives_up():
    flaky = Flaky(fails=100)
    writer = Writer(attempts=5, backoff=30.0, max_backoff=30.0)
    writer.submit(Job("retrying", flaky, trial=3))
    deadline = time.monotonic() + 10
    while not flaky.calls and time.monotonic() < deadline:
        time.sleep(0.01)
    began = time.monotonic()
    left = writer.drain(0.2)
    assert time.monotonic() - began < 1.0 and [job.trial for job in left] == [3]
    time.sleep(0.2)
    assert len(flaky.calls) == 1  # no further attempt after the drain gave up
    assert [job.trial for job in writer.failed] == [3]
