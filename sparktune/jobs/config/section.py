"""What every part of a job spec shares: a pydantic model that words its own mistakes.

pydantic finds type and range errors, unknown and missing keys; :class:`Section` rewords
them as the spec's messages (``expected a positive integer, got 'two' (str)``, ``unknown
key; did you mean 'max_trials'?``) and adds the checks that span several keys of the raw
mapping, which run even when some key is wrong so that every mistake is reported at once.
Any error already worded is of the type ``spec`` and passes through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, WrapValidator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

if TYPE_CHECKING:  # pydantic exports it from 2.11; the annotation alone needs it
    from pydantic import ModelWrapValidatorHandler

from sparktune.jobs.config.errors import describe
from sparktune.jobs.config.suggest import did_you_mean

#: The pydantic error type of a message worded for the spec.
SPEC = "spec"

#: A location (relative to the section) and a message: one mistake a raw check found.
Finding = tuple[tuple[str | int, ...], str]


def issue(message: str) -> PydanticCustomError:
    """A worded mistake to raise from a validator (braces in ``message`` are kept)."""
    return PydanticCustomError(SPEC, message)


def raise_all(title: str, found: Iterable[Finding]) -> None:
    """Raise every finding at once, each at its own location (nothing if none)."""
    errors = [_line(loc, message, None) for loc, message in found]
    if errors:
        raise ValidationError.from_exception_data(title, errors)


def _line(loc: tuple[str | int, ...], message: str, value: Any) -> InitErrorDetails:
    return {"type": issue(message), "loc": loc, "input": value}


def expect(expected: str | Callable[[Any], str]) -> WrapValidator:
    """Word pydantic's errors about a value as one ``expected ..., got ...`` message.

    ``expected`` is what the value should be (``"a positive integer"``) or a function of the
    value giving the whole message. Mistakes found deeper and already worded (a stage in a
    list of stages) are kept as they are.
    """

    def wrap(value: Any, handler: Callable[[Any], Any]) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            errors = exc.errors()
            kept = [_line(e["loc"], e["msg"], e["input"]) for e in errors if e["type"] == SPEC]
            if len(kept) < len(errors):
                text = (
                    expected(value)
                    if callable(expected)
                    else f"expected {expected}, got {describe(value)}"
                )
                kept.insert(0, _line((), text, value))
            raise ValidationError.from_exception_data("value", kept) from None

    return WrapValidator(wrap)


def one_of(options: Sequence[str], kind: Any = None) -> Any:
    """A string that is one of ``options`` (its type ``kind``, else their ``Literal``), with a
    "did you mean" for a misspelt one."""

    def message(value: Any) -> str:
        hint = did_you_mean(str(value), options)
        return f"expected one of {list(options)}, got {describe(value)}{hint}"

    return Annotated[kind or Literal[tuple(options)], expect(message)]


class Section(BaseModel):
    """A mapping of a job spec. Unknown keys are mistakes; ``null`` means "not given".

    Subclasses may override :meth:`prepare` (defaults that depend on other keys, or a
    refusal of the mapping's shape) and :meth:`check` (rules that span several keys).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    @classmethod
    def keys(cls) -> list[str]:
        """The keys this section takes, as written in a spec."""
        return [field.alias or name for name, field in cls.model_fields.items()]

    @classmethod
    def prepare(cls, raw: dict[str, Any]) -> dict[str, Any]:
        """``raw`` before validation; raise :func:`issue` to refuse it whole."""
        return raw

    @classmethod
    def check(cls, raw: dict[str, Any]) -> Iterable[Finding]:
        """Mistakes that span several keys of ``raw`` (a mapping, its keys unvalidated)."""
        return ()

    @model_validator(mode="wrap")
    @classmethod
    def _find_every_mistake(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise issue(f"expected a mapping with keys {cls.keys()}, got {describe(data)}")
        raw = cls.prepare({key: value for key, value in data.items() if value is not None})
        errors: list[InitErrorDetails] = []
        try:
            model = handler(raw)
        except ValidationError as exc:
            errors = [_line(e["loc"], cls._message(e), e["input"]) for e in exc.errors()]
        errors += [_line(loc, message, raw) for loc, message in cls.check(raw)]
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return model

    @classmethod
    def _message(cls, error: Any) -> str:
        """A pydantic error about this section, in the spec's words."""
        if error["type"] == "missing":
            return "missing; this key is required"
        if error["type"] == "extra_forbidden":
            keys = cls.keys()
            hint = did_you_mean(str(error["loc"][-1]), keys)
            return f"unknown key{hint or f'; expected one of {keys}'}"
        return error["msg"]
