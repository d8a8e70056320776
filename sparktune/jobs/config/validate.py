"""Read a job spec file, apply ``--set`` overrides, and validate it into a :class:`JobSpec`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pydantic
import yaml

from sparktune.jobs.config.errors import Problem, SpecError, problems_of
from sparktune.jobs.config.overrides import apply_override
from sparktune.jobs.config.spec import JobSpec


def load(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> JobSpec:
    """Read the spec at ``path``, apply ``--set key.path=value`` overrides, and validate it.

    Raises :class:`SpecError` listing every mistake found (file, key path, what is expected).
    """
    source = str(path)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise SpecError(
            source, [Problem("", f"cannot read the spec file: {exc.strerror}")]
        ) from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(source, [Problem("", f"not valid YAML: {exc}")]) from exc
    return parse(raw, source, overrides)


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
