"""scikit-learn internals sparktune relies on: the param constraints estimators declare.

Read duck-typed from the estimator (no scikit-learn import): a class that declares no
constraints (an older scikit-learn, or a third-party estimator) simply has none.
"""

from __future__ import annotations

from typing import Any


def parameter_constraints(estimator: Any) -> dict[str, list[Any]]:
    """Param name -> the constraints ``estimator``'s class declares for it (may be empty)."""
    constraints = getattr(estimator, "_parameter_constraints", None)
    return dict(constraints) if isinstance(constraints, dict) else {}


def validate_params(estimator: Any) -> bool:
    """Check ``estimator``'s param values against its declared constraints, as ``fit`` would.

    Returns False (nothing checked) when it declares none; raises scikit-learn's own
    ``InvalidParameterError`` (a ``ValueError``/``TypeError``) for a refused value.
    """
    validate = getattr(estimator, "_validate_params", None)
    if not (callable(validate) and parameter_constraints(estimator)):
        return False
    validate()
    return True


def scorer_function(name: str) -> Any:
    """The metric function behind scikit-learn's scorer ``name`` (e.g. ``mean_squared_error``
    for ``"neg_root_mean_squared_error"``), or None for an unknown name."""
    from sklearn.metrics import get_scorer

    try:
        return get_scorer(name)._score_func
    except (ValueError, AttributeError):
        return None
