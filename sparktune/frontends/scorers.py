"""One naming rule for the scorer: ``metric=`` and ``extra_metrics=`` in every front end.

``metric`` is what a search optimizes: a Spark ML evaluator, a scikit-learn scorer name or
callable, or for a function the name of the entry it returns; ``extra_metrics`` are
recorded too. The spellings used before (``evaluator``, ``extra_evaluators``, ``scoring``)
still work with a DeprecationWarning; the pyspark drop-ins keep pyspark's ``evaluator``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from pyspark.ml.param import Params

from sparktune.core.errors import ValidationError
from sparktune.search.sklearn_space import is_sklearn_estimator


def is_function(thing: Any) -> bool:
    """Whether ``thing`` is a training function (a callable that is not an estimator)."""
    return callable(thing) and not isinstance(thing, Params) and not is_sklearn_estimator(thing)


def deprecated(old: str, new: str) -> None:
    """Warn that the keyword ``old`` is now spelled ``new``."""
    warnings.warn(
        f"{old}= is deprecated; use {new}= (the same value).", DeprecationWarning, stacklevel=4
    )


def renamed(new_value: Any, old_value: Any, old: str, new: str) -> Any:
    """``new_value``, or ``old_value`` given under the deprecated keyword ``old`` (warned).

    None and an empty sequence count as not given.
    """
    if not _given(old_value):
        return new_value
    deprecated(old, new)
    if _given(new_value):
        raise ValidationError(f"Give {new}= or its old spelling {old}=, not both.")
    return old_value


def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, list | tuple) and not value)


def scorer_arguments(
    metric: Any,
    extra_metrics: Sequence[Any],
    evaluator: Any = None,
    extra_evaluators: Sequence[Any] = (),
) -> tuple[Any, Sequence[Any]]:
    """``(metric, extra_metrics)`` from ``tune()``'s keywords, old spellings warned."""
    metric = renamed(metric, evaluator, "evaluator", "metric")
    extra = renamed(
        tuple(extra_metrics), tuple(extra_evaluators), "extra_evaluators", "extra_metrics"
    )
    return metric, tuple(extra)
