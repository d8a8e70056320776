"""``pipeline``: the stages in order, each a pyspark ML class with its params."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, Field, Strict

from sparktune.jobs.config.classes import param_problems, resolve_class
from sparktune.jobs.config.constants import NAME_PATTERN
from sparktune.jobs.config.errors import describe
from sparktune.jobs.config.fields import Params, importable, non_empty
from sparktune.jobs.config.section import Finding, Section, expect

Identifier = Annotated[
    str,
    Strict(),
    Field(pattern=NAME_PATTERN),
    expect(
        lambda value: (
            "expected letters, digits and _ (the space names its params "
            f"NAME.param), got {describe(value)}"
        )
    ),
]
ClassPath = Annotated[
    str,
    Strict(),
    Field(min_length=1),
    AfterValidator(importable(resolve_class)),
    expect("a class name such as pyspark.ml.regression.LinearRegression"),
]


class StageSpec(Section):
    """One pipeline stage: its name (its uid and its prefix in the space), class and params."""

    name: Identifier
    """The stage's uid; the search space names its params `name.param`."""
    class_path: ClassPath = Field(alias="class")
    """A pyspark.ml Estimator or Transformer: `module.Class`, or a bare class name from
    pyspark.ml.feature, .regression, .classification, .clustering, .recommendation or
    xgboost.spark."""
    params: Params = {}
    """The stage's Params (or constructor arguments) and their values. A predictor's
    labelCol defaults to data.label."""

    @property
    def cls(self) -> type:
        """The stage class :attr:`class_path` names."""
        return resolve_class(self.class_path)

    @classmethod
    def check(cls, raw: dict[str, Any]) -> Iterable[Finding]:
        """Params the class does not declare, or values its Params' types refuse."""
        stage = _resolved(raw.get("class"))
        params = raw.get("params")
        if stage is None or not isinstance(params, dict):
            return []
        return [(("params", key), message) for key, message in param_problems(stage, params)]


class PipelineSpec(Section):
    """The pipeline: its stages in order (a pyspark.ml Pipeline)."""

    stages: Annotated[
        non_empty(tuple[StageSpec, ...], "minItems"), expect("a non-empty list of stages")
    ]
    """The stages, in order; each stage's name must be unique."""

    @classmethod
    def check(cls, raw: dict[str, Any]) -> Iterable[Finding]:
        """A stage name used twice (names are uids and space prefixes)."""
        seen = set()
        for i, name in enumerate(_names(raw.get("stages"))):
            if name in seen:
                yield (
                    ("stages", i, "name"),
                    f"stage name {name!r} is used twice; names must be unique",
                )
            if name is not None:
                seen.add(name)


def _names(stages: Any) -> list[str | None]:
    """The name written for each stage of a raw list of stages (None where there is none)."""
    if not isinstance(stages, list):
        return []
    return [
        s.get("name") if isinstance(s, dict) and isinstance(s.get("name"), str) else None
        for s in stages
    ]


def _resolved(path: Any) -> type | None:
    if not isinstance(path, str):
        return None
    try:
        return resolve_class(path)
    except ValueError:
        return None


def stage_classes(pipeline: Any) -> tuple[list[str], Mapping[str, type]]:
    """From a raw ``pipeline``: every stage name written (valid stage or not), in order, and
    the class of each named stage whose class resolves."""
    stages = pipeline.get("stages") if isinstance(pipeline, dict) else None
    names = _names(stages)
    classes = {}
    for name, stage in zip(names, stages or []):
        found = _resolved(stage.get("class")) if name is not None else None
        if found is not None:
            classes[name] = found
    return [n for n in names if n is not None], classes
