"""The kinds of values a job spec holds, each with the message its mistakes get.

Scalars are strict (``"yes"`` is not ``true``, ``"3"`` is not ``3``): a spec says what it
means. Each type is also what the JSON Schema (``sparktune schema``) shows for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, Strict

from sparktune.jobs.config.section import expect, issue

Text = Annotated[str, Strict(), Field(pattern=r"\S"), expect("a non-empty string")]
Flag = Annotated[bool, Strict(), expect("true or false")]
Integer = Annotated[int, Strict(), expect("an integer")]
PositiveInt = Annotated[int, Strict(), Field(gt=0), expect("a positive integer")]
Folds = Annotated[int, Strict(), Field(ge=2), expect("an integer >= 2")]
Seconds = Annotated[
    float, Strict(), Field(gt=0, allow_inf_nan=False), expect("a positive number (seconds)")
]
Fraction = Annotated[
    float, Strict(), Field(gt=0, le=1, allow_inf_nan=False), expect("a number in (0, 1]")
]
OpenFraction = Annotated[
    float,
    Strict(),
    Field(gt=0, lt=1, allow_inf_nan=False),
    expect("a number strictly between 0 and 1"),
]
#: A finite number, kept an int when written as one (randint bounds stay integers).
Number = Annotated[int, Strict()] | Annotated[float, Strict(), Field(allow_inf_nan=False)]
#: Param names of a stage or evaluator to values (checked against the class's Params).
Params = Annotated[dict[str, Any], expect("a mapping of param names to values")]


def _as_text(value: Any) -> Any:
    """A scalar as Spark takes an option or conf value: text, ``true``/``false`` lower-case."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return value


Setting = Annotated[
    str,
    Strict(),
    BeforeValidator(_as_text, json_schema_input_type=str | int | float | bool),
    expect("a single value"),
]
#: Reader options or Spark conf: names to single values, kept as text.
Settings = Annotated[dict[str, Setting], expect("a mapping of names to values")]


def _refuse_empty(value: Any) -> Any:
    if not value:
        raise ValueError("empty")  # worded by the field's expect()
    return value


def non_empty(kind: Any, json_key: str) -> Any:
    """``kind``, a list or mapping, not empty (``json_key``: minItems or minProperties).

    Not pydantic's ``min_length``, which would also count the items that failed to validate.
    """
    return Annotated[kind, AfterValidator(_refuse_empty), Field(json_schema_extra={json_key: 1})]


def importable(resolve: Callable[[str], Any]) -> Callable[[str], str]:
    """A validator keeping a class path that ``resolve`` imports (its ValueError reported)."""

    def check(path: str) -> str:
        try:
            resolve(path)
        except ValueError as exc:
            raise issue(str(exc)) from None
        return path

    return check
