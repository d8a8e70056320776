"""The mistakes found in a job spec: each a key path and a message, raised together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pydantic

from sparktune.core.errors import ValidationError


@dataclass(frozen=True)
class Problem:
    """One mistake in a spec: where (a key path) and what was expected."""

    path: str
    message: str


class SpecError(ValidationError):
    """A job spec with mistakes; ``problems`` lists every one, each with its key path."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = [f"{source}: {count} problem{'s' if count != 1 else ''} in the job spec:"]
        lines += [f"  {source}: {p.path or '(top)'}: {p.message}" for p in self.problems]
        super().__init__("\n".join(lines))


class SpecFileError(SpecError):
    """A spec file that cannot be read, decoded or parsed: one line,
    ``file:line:column: message`` (line and column where known)."""

    def __init__(
        self, source: str, message: str, line: int | None = None, column: int | None = None
    ) -> None:
        super().__init__(source, [Problem("", message)])
        self.line = line
        where = ":".join(str(part) for part in (source, line, column) if part is not None)
        self.args = (f"{where}: {message}",)

    def __str__(self) -> str:
        return str(self.args[0])


def describe(value: Any) -> str:
    """A value as an error message shows it: ``a mapping``, ``a list`` or ``'x' (str)``."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"{value!r} ({type(value).__name__})"


def key_path(loc: Sequence[str | int]) -> str:
    """A pydantic error location as a key path: ``('pipeline', 'stages', 2, 'name')`` ->
    ``pipeline.stages[2].name`` (keys of ``search.space`` keep their dots)."""
    path = ""
    for key in loc:
        if isinstance(key, int):
            path += f"[{key}]"
        else:
            path = f"{path}.{key}" if path else str(key)
    return path


def problems_of(error: pydantic.ValidationError) -> list[Problem]:
    """The problems a validation of the spec found, in the order found.

    The models word every message themselves (:class:`~sparktune.jobs.config.section.Section`),
    so only the location needs translating.
    """
    return [Problem(key_path(e["loc"]), e["msg"]) for e in error.errors()]
