"""xgboost internals sparktune relies on: the scikit-learn class an ``xgboost.spark``
estimator mirrors (its params carry no types; that class's annotations do)."""

from __future__ import annotations

from typing import Any


def mirrored_sklearn_class(stage: Any) -> type | None:
    """The ``xgboost`` scikit-learn estimator class ``stage`` (an ``xgboost.spark``
    estimator) wraps, or None for any other stage."""
    xgb_cls = getattr(stage, "_xgb_cls", None)
    return xgb_cls() if callable(xgb_cls) else None
