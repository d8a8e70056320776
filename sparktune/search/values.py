"""Values of a search space, converted to what each Param takes before any Spark job.

Values go through each Param's type converter, so integer params (``maxDepth``,
``maxIter``, ``numTrees``, and XGBoost's ``max_depth`` or ``n_estimators``) receive ints
even from ``hp.quniform``. A value a Param cannot take raises
:class:`~sparktune.errors.ValidationError` naming the space name, the value and a fix.
"""

from __future__ import annotations

import typing
from typing import Any

import numpy as np
from pyspark.ml import Estimator, Pipeline, Transformer
from pyspark.ml.param import Param, Params

from sparktune.compat.xgboost import mirrored_sklearn_class
from sparktune.core.errors import ValidationError


def estimator_value(name: str, raw: Any) -> list[Estimator]:
    """The stages list of the final-estimator holder for a value of ``"estimator"``."""
    value = python_value(raw)
    if not isinstance(value, Estimator):
        raise ValidationError(
            f"The space gives {name!r} the value {value!r}; the final estimator must be a "
            "pyspark.ml Estimator (e.g. LogisticRegression(...))."
        )
    return [value]


def param_value(name: str, param: Param, stage: Params, raw: Any) -> Any:
    """``raw`` (a value the space gives ``name``) as ``param`` of ``stage`` takes it."""
    value = python_value(raw)
    where = f"{type(stage).__name__}.{param.name}"
    if param.name == "stages" and isinstance(stage, Pipeline):
        if not isinstance(value, list) or not all(
            isinstance(s, Estimator | Transformer) for s in value
        ):
            raise ValidationError(
                f"The space gives {name!r} the value {value!r}; {where} takes lists of "
                "pipeline stages (Estimators and Transformers)."
            )
        return value
    integer = takes_integers(stage, param)
    try:
        converted = param.typeConverter(value)
        if integer and isinstance(converted, float):
            if not converted.is_integer():
                raise TypeError(f"{converted} is not an integer")
            converted = int(converted)
    except (TypeError, ValueError) as exc:
        hint = ""
        if isinstance(value, list):
            hint = " (inside hp.choice a list is one value: use hp.choice for alternatives)"
        elif integer:
            hint = (
                " It takes integers: use a list of ints, hp.quniform(label, low, high, 1) "
                "or hp.uniformint."
            )
        raise ValidationError(
            f"The space gives {name!r} the value {value!r}, which {where} does not take "
            f"({exc}).{hint}"
        ) from None
    return converted


def takes_integers(stage: Params, param: Param) -> bool:
    """Whether ``param`` takes integers though its converter does not say so (e.g. XGBoost's).

    xgboost.spark's params carry no type; their types are the annotations of the
    scikit-learn estimator they mirror (``max_depth: Optional[int]``).
    """
    mirrored = mirrored_sklearn_class(stage)
    if mirrored is not None:
        for cls in mirrored.__mro__:
            init = cls.__dict__.get("__init__")
            if init is None:
                continue
            try:
                hint = typing.get_type_hints(init).get(param.name)
            except (NameError, TypeError):  # unresolvable annotations: no answer here
                continue
            if hint is not None:
                return int in (hint, *typing.get_args(hint)) and float not in typing.get_args(hint)
    if stage.hasDefault(param):
        default = stage.getOrDefault(param)
        return type(default) is int
    return False


def python_value(value: Any) -> Any:
    """numpy scalars as Python scalars, tuples (hyperopt's lists) as lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [python_value(v) for v in value]
    return value


def same(a: Any, b: Any) -> bool:
    """Whether two values of a space are equal (Params objects only when identical)."""
    if isinstance(a, Params) or isinstance(b, Params):
        return a is b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return bool(a == b)
