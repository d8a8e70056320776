"""A user's training function as the engine's objective: one call of ``fn`` per trial.

``fn(params)`` returns the loss (a number) or a dict as hyperopt objectives return one
(``loss`` or the named metric, optional ``status``, any other entries recorded). Where it
runs is the ``placement``:

- ``"executors"``: each trial is one Spark task (``fn`` and the params shipped with
  cloudpickle); classic sessions run ``parallelize([0], 1).map``, Spark Connect sessions
  (no RDDs) a one-row ``mapInPandas``. The task catches ``fn``'s exceptions and returns
  them, so a failing trial is recorded once, never retried by Spark;
- ``"driver"``: ``fn`` runs on the engine's driver thread, under the trial's job tags, for
  an ``fn`` that itself runs Spark jobs (a Spark ML fit); a timeout cancels those jobs.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import socket
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pandas as pd
from pyspark import cloudpickle

from sparktune.core.trial import Candidate, FoldResult
from sparktune.spark.port import is_connect

logger = logging.getLogger(__name__)

PLACEMENTS = ("executors", "driver")
STATUS_OK, STATUS_FAIL = "ok", "fail"


class TrialFailed(RuntimeError):
    """``fn`` raised, returned ``status`` other than ok, or returned no usable loss.

    ``result`` is what ``fn`` returned (None when it raised), for a hyperopt ``Trials``.
    """

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


def call(fn: Callable[[Any], Any], argument: Any) -> dict[str, Any]:
    """Run ``fn(argument)`` and time it; an exception is returned, not raised (in a task,
    a raised one would make Spark retry the trial)."""
    started, clock = time.time(), time.perf_counter()
    try:
        value = fn(argument)
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    info = {"executor": _where(), "started": started, "ended": time.time()}
    return {"value": value, "time": time.perf_counter() - clock, "info": info}


def interpret(value: Any, metric: str) -> tuple[float, dict[str, float]]:
    """The primary value and the other numeric metrics in what ``fn`` returned.

    Raises :class:`TrialFailed` saying what was returned when it holds no usable number.
    """
    if isinstance(value, Mapping):
        status = value.get("status", STATUS_OK)
        if status != STATUS_OK:
            error = value.get("error") or value.get("exception") or "no error given"
            raise TrialFailed(f"fn returned status {status!r} ({error})", value)
        key = metric if metric in value else "loss"
        if key not in value:
            raise TrialFailed(
                f"fn returned a dict without {metric!r}"
                + (" or 'loss'" if metric != "loss" else "")
                + f" (keys: {sorted(map(str, value))}); return the loss or a dict with it.",
                value,
            )
        primary = _number(value[key], f"fn's {key!r}", value)
        extra = {
            str(name): float(v)
            for name, v in value.items()
            if name not in (key, "status") and _is_number(v)
        }
        return primary, extra
    return _number(value, "fn", value), {}


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _number(value: Any, what: str, result: Any) -> float:
    if not _is_number(value) or math.isnan(float(value)):
        shown = repr(value)
        shown = shown if len(shown) <= 200 else shown[:200] + "..."
        raise TrialFailed(
            f"{what} returned {shown} ({type(value).__name__}), not a number; return a float "
            "loss or a dict such as {'loss': 0.1, 'status': 'ok'}.",
            result,
        )
    return float(value)


class FunctionObjective:
    """Evaluates candidates by calling ``fn``: one call per trial (one "fold")."""

    def __init__(
        self,
        fn: Callable[[Any], Any],
        argument: Callable[[Candidate], Any],
        spark: Any,
        *,
        metric: str = "loss",
        larger_is_better: bool = False,
        placement: str = "executors",
        resource: str | None = None,
        integral: bool = True,
    ) -> None:
        self.fn = fn
        self.argument = argument
        self.primary = metric
        self.larger_is_better = larger_is_better
        self.placement = placement
        self.resource = resource
        self.integral = integral
        self._spark = spark
        self._run = _on_driver if placement == "driver" else _runner(spark)

    @property
    def num_folds(self) -> int:
        """One: a function is its own validation."""
        return 1

    def evaluate(
        self, candidate: Candidate, fold_index: int, budget: float | None = None
    ) -> FoldResult:
        """Call ``fn`` on ``candidate`` (with the scheduler's budget in its params)."""
        argument = self.argument(candidate)
        if budget is not None and self.resource is not None:
            argument = {**argument, self.resource: int(budget) if self.integral else budget}
        try:
            out = self._run(self.fn, argument)
        except Exception as exc:
            unshipped = _unimportable_module(self.fn, exc)
            if unshipped is None:
                raise
            raise TrialFailed(
                f"fn's module {unshipped!r} cannot be imported on the executors (the task "
                f"failed with ModuleNotFoundError): a function from an importable module is "
                "shipped by reference. Make the module importable there "
                "(spark.sparkContext.addPyFile, spark-submit --py-files, or install it), "
                f"call cloudpickle.register_pickle_by_value({unshipped}) before tuning, or "
                "define fn in the notebook or script itself."
            ) from exc
        if "error" in out:
            logger.debug("trial failed:\n%s", out["traceback"])
            raise TrialFailed(out["error"])
        value, extra = interpret(out["value"], self.primary)
        # other numbers fn returned are split0_<name> columns of the results; ``model``
        # keeps what fn returned (a hyperopt Trials' result)
        info = {**extra, **out["info"]}
        metrics = {self.primary: value}
        return FoldResult(fold_index, metrics, {}, out["time"], out["value"], info)

    def close(self) -> None:
        """Nothing to release."""


def _unimportable_module(fn: Callable[[Any], Any], error: Exception) -> str | None:
    """The root of ``fn``'s module if ``error`` is a task's failure to import it, else None."""
    module = str(getattr(fn, "__module__", "") or "")
    root = module.partition(".")[0]
    if not root or root == "__main__":
        return None
    text = str(error)
    return root if f"No module named '{root}" in text else None


def _on_driver(fn: Callable[[Any], Any], argument: Any) -> dict[str, Any]:
    out = call(fn, argument)
    if "info" in out:
        out["info"]["executor"] = "driver"
    return out


def _runner(spark: Any) -> Callable[[Callable[[Any], Any], Any], dict[str, Any]]:
    """How one call runs as one Spark task on ``spark``'s kind of session."""
    if is_connect(spark):
        return lambda fn, argument: _in_pandas_task(spark, fn, argument)
    return lambda fn, argument: _in_rdd_task(spark.sparkContext, fn, argument)


def _packed(fn: Callable[[Any], Any], argument: Any) -> bytes:
    """``call``'s result pickled in the task (so any value ``fn`` returns comes back)."""
    out = call(fn, argument)
    try:
        return cloudpickle.dumps(out)
    except Exception as exc:
        returned = type(out.get("value")).__name__
        error = f"fn returned a {returned} that cannot be pickled back to the driver: {exc}"
        return cloudpickle.dumps({"error": error, "traceback": traceback.format_exc()})


def _in_rdd_task(sc: Any, fn: Callable[[Any], Any], argument: Any) -> dict[str, Any]:
    (packed,) = sc.parallelize([0], 1).map(lambda _: _packed(fn, argument)).collect()
    return cloudpickle.loads(packed)


def _in_pandas_task(spark: Any, fn: Callable[[Any], Any], argument: Any) -> dict[str, Any]:
    def task(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for _ in batches:
            pass
        yield pd.DataFrame({"out": [_packed(fn, argument)]})

    (row,) = spark.range(1, numPartitions=1).mapInPandas(task, "out binary").collect()
    return cloudpickle.loads(row["out"])


def _where() -> str:
    """The executor running this call ("driver" outside a task)."""
    from pyspark import TaskContext

    if TaskContext.get() is None:
        return "driver"
    return os.environ.get("SPARK_EXECUTOR_ID") or f"{socket.gethostname()}:{os.getppid()}"
