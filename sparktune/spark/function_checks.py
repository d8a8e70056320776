"""Checks of a training function before any Spark job: its signature, and whether it ships.

A function placed on the executors is pickled with cloudpickle. When that fails the error
names the captured object at fault (a SparkSession, a DataFrame, a lock: what lives on the
driver only) and the two ways out: create it inside ``fn``, or ``placement="driver"``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from pyspark import cloudpickle

from sparktune.core.errors import ValidationError

#: How deep the search for the unpicklable object goes into functions ``fn`` references.
_DEPTH = 3


def check_signature(fn: Any) -> None:
    """``fn`` is callable with one positional argument (the params), else ValidationError."""
    if not callable(fn):
        raise ValidationError(f"fn must be callable, got {type(fn).__name__}.")
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # a builtin or C callable: it will say so itself
    try:
        signature.bind(None)
    except TypeError:
        name = getattr(fn, "__name__", type(fn).__name__)
        raise ValidationError(
            f"fn must take one argument, the params dict (fn(params) -> loss); "
            f"{name}{signature} does not. Wrap it, e.g. lambda params: {name}(**params)."
        ) from None


#: How to run an ``fn`` that cannot be shipped, from ``tune()``.
DRIVER = "run the trials on the driver with placement='driver' (needed when fn runs Spark jobs)"


def check_picklable(fn: Callable[..., Any], remedy: str = DRIVER) -> None:
    """``fn`` pickles with cloudpickle, else ValidationError naming what it captures."""
    try:
        cloudpickle.dumps(fn)
    except Exception as exc:
        culprit = _culprit(fn, _DEPTH)
        name = getattr(fn, "__name__", type(fn).__name__)
        what = (
            f"it references {culprit[0]!r}, a {culprit[1]}, which cannot be pickled"
            if culprit
            else f"pickling failed: {type(exc).__name__}: {exc}"
        )
        raise ValidationError(
            f"fn {name!r} cannot be sent to the executors: {what}. Create that object "
            f"inside fn, or {remedy}."
        ) from None


def _culprit(fn: Any, depth: int) -> tuple[str, str] | None:
    """The first (name, type) of what ``fn`` references that does not pickle."""
    for name, value in _references(fn):
        try:
            cloudpickle.dumps(value)
            continue
        except Exception:
            pass
        if depth > 0 and (inspect.isfunction(value) or inspect.ismethod(value)):
            inner = _culprit(value, depth - 1)
            if inner is not None:
                return inner
        return name, f"{type(value).__module__}.{type(value).__qualname__}"
    return None


def _references(fn: Any) -> Iterator[tuple[str, Any]]:
    """What ``fn`` captures: a bound method's object, closure cells, globals, defaults."""
    if inspect.ismethod(fn):
        yield "self", fn.__self__
        fn = fn.__func__
    if not inspect.isfunction(fn):
        yield from vars(fn).items() if hasattr(fn, "__dict__") else ()
        return
    try:
        found = inspect.getclosurevars(fn)
    except (TypeError, ValueError):
        return
    yield from found.nonlocals.items()
    yield from (
        (name, value) for name, value in found.globals.items() if not inspect.ismodule(value)
    )
    for name, value in inspect.signature(fn).parameters.items():
        if value.default is not inspect.Parameter.empty:
            yield name, value.default
