"""Checks of a single-machine (scikit-learn) search's input, before any trial starts.

A string feature column fed to a numeric-only estimator fails every trial at fit time
(``could not convert string to float``); a classification scorer on a regressor or on a
continuous label (or a regression scorer on a classifier) scores every trial without an
error, meaninglessly. Both are found here from the estimator, the scorer and the collected
data, each naming the column or the scorer, the label and the estimator, and the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from sparktune.compat.sklearn import scorer_function
from sparktune.core.errors import ValidationError

#: scikit-learn transformers that take string columns (a first step that encodes them).
ENCODERS = frozenset(
    {
        "ColumnTransformer",
        "OneHotEncoder",
        "OrdinalEncoder",
        "TargetEncoder",
        "FunctionTransformer",
        "DictVectorizer",
        "FeatureHasher",
    }
)

_SUGGESTED = {
    "regression": "a regression scorer (neg_root_mean_squared_error, r2)",
    "classification": "a classification scorer (roc_auc, f1, accuracy)",
}


def first_step(estimator: Any) -> Any:
    """The step that first sees the data: the estimator, or a Pipeline's first step."""
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and steps:
        return first_step(steps[0][1])
    return estimator


def check_feature_types(x: pd.DataFrame, estimator: Any) -> None:
    """Fail when a string feature column reaches an estimator that only takes numbers.

    Only scikit-learn and XGBoost classes are judged (others, e.g. CatBoost, may take
    strings); a first step that encodes strings (``ColumnTransformer``, ``OneHotEncoder``,
    ...) takes them.
    """
    strings = [
        str(c)
        for c in x.columns
        if pd.api.types.is_object_dtype(x[c]) or pd.api.types.is_string_dtype(x[c])
    ]
    check_string_columns(strings, estimator)


def check_string_columns(strings: list[str], estimator: Any) -> None:
    """Fail when ``strings`` (feature columns holding strings) reach ``estimator`` and it
    takes numbers only (see :func:`check_feature_types`)."""
    first = first_step(estimator)
    cls = type(first)
    if not cls.__module__.startswith(("sklearn.", "xgboost.")) or cls.__name__ in ENCODERS:
        return
    if strings:
        name = type(estimator).__name__
        reads = name if first is estimator else f"{name} (its first step, {cls.__name__})"
        raise ValidationError(
            f"Feature column(s) {strings} hold strings, which {reads} cannot fit (every "
            "trial would fail with 'could not convert string to float'). Encode them: a "
            "scikit-learn Pipeline whose first step is a ColumnTransformer with a "
            "OneHotEncoder, or the pandas 'category' dtype for an estimator that takes "
            "categories; or leave them out of features= (data.features in a job spec)."
        )


def scorer_task(scorer: str | Callable[..., Any]) -> str | None:
    """The task a scikit-learn scorer name scores (regression, classification), if known.

    Read from the module of its score function (``sklearn.metrics._regression`` ...).
    """
    if not isinstance(scorer, str):
        return None
    function = scorer_function(scorer)
    if function is None:
        return None
    module = getattr(function, "__module__", "") or ""
    if module.endswith("_regression"):
        return "regression"
    if module.endswith(("_classification", "_ranking")):
        return "classification"
    return None


def estimator_task(estimator: Any) -> str | None:
    """``classification`` or ``regression`` for a scikit-learn estimator that says which."""
    from sklearn.base import is_classifier, is_regressor

    try:
        if is_classifier(estimator):
            return "classification"
        if is_regressor(estimator):
            return "regression"
    except Exception:  # an estimator whose tags cannot be read says nothing
        return None
    return None


def scorer_problem(scorer: str | Callable[..., Any], estimator: Any, label: str) -> str | None:
    """Why ``scorer`` cannot score ``estimator`` (a classifier's or a regressor's), or None."""
    task, own = scorer_task(scorer), estimator_task(estimator)
    if task is None or own is None or task == own:
        return None
    what = "regressor" if own == "regression" else "classifier"
    return (
        f"scoring {scorer!r} scores a {task}, but {type(estimator).__name__} is a {what} of "
        f"label {label!r}: every trial would be scored meaninglessly. Use {_SUGGESTED[own]}, "
        f"or a {'classifier' if own == 'regression' else 'regressor'}."
    )


def check_scorer(scorer: str | Callable[..., Any], estimator: Any, y: pd.Series) -> None:
    """Fail when the scorer does not suit the estimator, or a classification scorer meets a
    continuous label."""
    label = str(y.name)
    problem = scorer_problem(scorer, estimator, label)
    if problem is not None:
        raise ValidationError(problem)
    if scorer_task(scorer) != "classification":
        return
    from sklearn.utils.multiclass import type_of_target

    try:
        kind = type_of_target(y.dropna())
    except ValueError:
        return
    if kind.startswith("continuous"):
        example = next((v for v in y.dropna() if float(v) != int(v)), None)
        raise ValidationError(
            f"scoring {scorer!r} scores classes, but the label column {label!r} holds "
            f"non-integer values (e.g. {example}): it looks continuous, so "
            f"{type(estimator).__name__} would be scored meaninglessly. Use "
            f"{_SUGGESTED['regression']} with a regressor."
        )
