"""A one-line rendering of a search space, as run settings and logs show it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hyperopt.pyll import Apply, Literal
from pyspark.ml.param import Param, Params


def describe_space(space: Any) -> str:
    """A one-line rendering of a search space: ``{'lr.regParam': loguniform(-5, 0), ...}``.

    hyperopt expressions are shown by distribution (``choice(...)`` for ``hp.choice``),
    Param keys as ``'<parent uid>.<name>'`` and Params values (stages) as ``Class(uid)``.
    """

    def render(value: Any) -> str:
        if isinstance(value, Literal):
            return render(value.obj)
        if isinstance(value, Apply):
            args = value.pos_args
            if value.name in ("float", "int") and len(args) == 1:
                return render(args[0])
            if value.name == "hyperopt_param":
                return render(args[1])
            if value.name == "switch":
                return f"choice({', '.join(render(a) for a in args[1:])})"
            if value.name == "dict":
                return "{" + ", ".join(f"{k!r}: {render(v)}" for k, v in value.named_args) + "}"
            if value.name == "pos_args":
                return "[" + ", ".join(render(a) for a in args) + "]"
            return f"{value.name}({', '.join(render(a) for a in args)})"
        if isinstance(value, Mapping):
            return "{" + ", ".join(f"{render_key(k)}: {render(v)}" for k, v in value.items()) + "}"
        if isinstance(value, list | tuple):
            return "[" + ", ".join(render(v) for v in value) + "]"
        return repr(_stage_or_value(value))

    def render_key(key: Any) -> str:
        if isinstance(key, Param):
            return repr(f"{key.parent}.{key.name}")
        return repr(key)

    return render(space)


def _stage_or_value(value: Any) -> Any:
    """A Params value (a stage) as ``Class(uid)``; anything else as is."""
    return f"{type(value).__name__}({value.uid})" if isinstance(value, Params) else value
