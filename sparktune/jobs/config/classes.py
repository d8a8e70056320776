"""Stage and evaluator classes named in a spec: import them and read their Params, no Spark.

A pyspark ML class declares its Params as class attributes, so names and type converters
can be checked before a JVM exists (constructing a Java-backed stage would need one).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
from collections.abc import Mapping
from typing import Any

from pyspark.ml.base import Estimator, Transformer
from pyspark.ml.param import Param

from sparktune.jobs.config.errors import describe
from sparktune.jobs.config.suggest import did_you_mean

#: Where a bare class name (``LinearRegression``) is looked up, in this order.
STAGE_MODULES = (
    "pyspark.ml.feature",
    "pyspark.ml.regression",
    "pyspark.ml.classification",
    "pyspark.ml.clustering",
    "pyspark.ml.recommendation",
    "xgboost.spark",
)

#: What a pyspark type converter accepts, in words, for error messages.
CONVERTER_TEXT = {
    "toFloat": "a number",
    "toInt": "an integer",
    "toString": "a string",
    "toBoolean": "true or false",
    "toList": "a list",
    "toListFloat": "a list of numbers",
    "toListInt": "a list of integers",
    "toListString": "a list of strings",
    "toListListFloat": "a list of lists of numbers",
    "toVector": "a list of numbers",
    "toMatrix": "a matrix",
}


@functools.cache
def resolve_class(path: str) -> type:
    """Import a stage class from ``module.Class``, or find a bare ``Class`` in STAGE_MODULES.

    Raises ValueError (with the reason) when it cannot be found or is not a pipeline stage.
    Cached: a spec's classes are looked up by its checks and again by the runner.
    """
    if "." in path:
        cls = import_class(path)
    else:
        found = next((m for m in STAGE_MODULES if _has_class(m, path)), None)
        if found is None:
            raise ValueError(
                f"no class {path!r} in {', '.join(STAGE_MODULES)}; give the full class path, "
                "e.g. pyspark.ml.regression.LinearRegression"
            )
        cls = getattr(importlib.import_module(found), path)
    if not (isinstance(cls, type) and issubclass(cls, Estimator | Transformer)):
        raise ValueError(f"{path!r} is not a pyspark.ml Estimator or Transformer")
    return cls


def import_class(path: str) -> Any:
    """The attribute ``Class`` of module ``module`` for ``module.Class``.

    Raises ValueError saying what is missing (with a close class name of the module).
    """
    module_name, _, name = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import module {module_name!r} ({exc})") from exc
    cls = getattr(module, name, None)
    if cls is None:
        known = [n for n in dir(module) if isinstance(getattr(module, n), type)]
        raise ValueError(f"module {module_name!r} has no class {name!r}{did_you_mean(name, known)}")
    return cls


def _has_class(module_name: str, name: str) -> bool:
    if importlib.util.find_spec(module_name.split(".")[0]) is None:
        return False
    return isinstance(getattr(importlib.import_module(module_name), name, None), type)


def class_params(cls: type) -> dict[str, Param]:
    """The Params a stage or evaluator class declares, by name (read without starting Spark)."""
    params = {}
    for attr in dir(cls):
        value = inspect.getattr_static(cls, attr, None)
        if isinstance(value, Param):
            params[value.name] = value
    return params


def constructor_names(cls: type) -> set[str]:
    """Keyword arguments the class's ``__init__`` names (e.g. xgboost's ``label_col`` alias)."""
    signature = inspect.signature(cls.__init__)
    return {
        name
        for name, p in signature.parameters.items()
        if name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }


def check_value(param: Param, value: Any) -> str | None:
    """None when ``param``'s type converter accepts ``value``, else what it expects."""
    converter = param.typeConverter
    try:
        converter(value)
    except (TypeError, ValueError):
        name = getattr(converter, "__name__", "")
        return CONVERTER_TEXT.get(name, f"a value TypeConverters.{name} accepts")
    return None


def param_problems(cls: type, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(param name, message) for each of ``params`` that ``cls`` does not take as given.

    Names are checked against the class's Params (and ``__init__`` names, which some classes
    take as aliases), values against each Param's type converter.
    """
    known = class_params(cls)
    aliases = constructor_names(cls) - set(known)
    problems = []
    for key, value in params.items():
        if key in known:
            expected = check_value(known[key], value)
            if expected is not None:
                problems.append((key, f"expected {expected}, got {describe(value)}"))
        elif key not in aliases:
            names = sorted(known) + sorted(aliases)
            hint = did_you_mean(str(key), names) or f"; its params: {', '.join(names)}"
            problems.append((key, f"unknown param of {cls.__name__}{hint}"))
    return problems
