"""Read a job spec file, apply ``--set`` overrides, and validate it into a :class:`JobSpec`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pydantic
import yaml

from sparktune.jobs.config.errors import Problem, SpecError, SpecFileError, problems_of
from sparktune.jobs.config.overrides import apply_override
from sparktune.jobs.config.spec import JobSpec


def load(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> JobSpec:
    """Read the spec at ``path``, apply ``--set key.path=value`` overrides, and validate it.

    Raises :class:`SpecError` listing every mistake found (file, key path, what is expected);
    a file that cannot be read, is not UTF-8 or not YAML is one :class:`SpecFileError` line
    naming the file and, where known, the line.
    """
    return parse(read(path), str(path), overrides)


def read(path: str | os.PathLike[str]) -> Any:
    """The YAML document at ``path`` (safe loader), or a SpecFileError saying where and why."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SpecFileError(source, f"cannot read the spec file: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SpecFileError(
            source,
            f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the spec as UTF-8",
            line,
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecFileError(source, *_yaml_problem(exc)) from None


def _yaml_problem(exc: yaml.YAMLError) -> tuple[str, int | None, int | None]:
    """A YAML error in one line (without PyYAML's ``<unicode string>`` marks) and its line."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    context_mark = getattr(exc, "context_mark", None)
    if context and context_mark is not None:
        problem += f" ({context} at line {context_mark.line + 1})"
    elif context:
        problem += f" ({context})"
    if mark is None:
        return f"not valid YAML: {problem}", None, None
    return f"not valid YAML: {problem}", mark.line + 1, mark.column + 1


def parse(raw: Any, source: str = "<spec>", overrides: Sequence[str] = ()) -> JobSpec:
    """Validate an already-loaded spec (a mapping); see :func:`load`.

    Overrides that cannot be applied are problems too, listed first.
    """
    problems: list[Problem] = []
    if raw is None:
        raw = {}
    for item in overrides:
        raw = apply_override(raw, item, problems)
    try:
        spec = JobSpec.model_validate(raw, context={"source": source})
    except pydantic.ValidationError as exc:
        problems += problems_of(exc)
    if problems:
        raise SpecError(source, problems)
    return spec
