"""``estimator``: a scikit-learn-compatible estimator (or a scikit-learn ``Pipeline`` of steps).

The alternative to ``pipeline``: a single-machine model, tuned with each (trial x fold) as
one Spark task (or one search per group, with ``groups``). Nothing here starts Spark: the
classes are imported and constructed (scikit-learn constructors only store their
arguments), their ``get_params`` names checked, and scikit-learn's own parameter
constraints asked about the values where the estimator has them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import AfterValidator, Field, Strict

from sparktune.compat.sklearn import validate_params
from sparktune.jobs.config.classes import import_class
from sparktune.jobs.config.constants import NAME_PATTERN
from sparktune.jobs.config.errors import describe
from sparktune.jobs.config.fields import Params, Text, importable, non_empty
from sparktune.jobs.config.section import Finding, Section, expect, issue
from sparktune.jobs.config.suggest import did_you_mean
from sparktune.search.sklearn_space import is_sklearn_estimator

#: What scikit-learn's constraint errors start with, naming the param.
_CONSTRAINT = re.compile(r"The '(\w+)' parameter of ")


@functools.cache
def resolve_estimator_class(path: str) -> type:
    """Import a scikit-learn-compatible class from ``module.Class``.

    Raises ValueError (with the reason) when it cannot be imported or lacks ``get_params``,
    ``set_params`` or ``fit``.
    """
    if "." not in path:
        raise ValueError(
            f"give the full class path (module.Class) of {path!r}, e.g. "
            "sklearn.ensemble.HistGradientBoostingRegressor"
        )
    cls = import_class(path)
    if not (isinstance(cls, type) and is_sklearn_estimator(cls)):
        raise ValueError(
            f"{path!r} is not scikit-learn compatible (it needs get_params, set_params and fit)"
        )
    return cls


EstimatorClass = Annotated[
    str,
    Strict(),
    Field(min_length=1),
    AfterValidator(importable(resolve_estimator_class)),
    expect("a class path such as sklearn.ensemble.HistGradientBoostingRegressor"),
]
StepName = Annotated[
    str,
    Strict(),
    Field(pattern=NAME_PATTERN),
    expect(lambda value: f"expected letters, digits and _, got {describe(value)}"),
]


class StepSpec(Section):
    """One step of a scikit-learn Pipeline: its name (the space's ``name__param`` prefix),
    class and params."""

    name: StepName
    """The step's name; the search space names its params `name__param`."""
    class_path: EstimatorClass = Field(alias="class")
    """A scikit-learn-compatible class (a transformer, or the final estimator): `module.Class`."""
    params: Params = {}
    """Constructor arguments."""

    @classmethod
    def check(cls, raw: dict[str, Any]) -> Iterable[Finding]:
        """A name with ``__`` (scikit-learn's separator); params the class does not take."""
        name = raw.get("name")
        if isinstance(name, str) and "__" in name:
            yield (
                ("name",),
                f"a step name cannot contain '__' (the space's separator), got {name!r}",
            )
        yield from construction_problems(raw.get("class"), raw.get("params", {}))


class EstimatorSpec(Section):
    """A scikit-learn-compatible estimator to tune instead of a Spark pipeline: one `class`
    with its `params`, or a scikit-learn Pipeline of `steps`."""

    class_path: EstimatorClass | None = Field(None, alias="class")
    """The estimator class, e.g. sklearn.ensemble.HistGradientBoostingRegressor or
    xgboost.XGBRegressor (get_params, set_params and fit); the space names its params."""
    params: Params = {}
    """Constructor arguments of `class`."""
    steps: (
        Annotated[non_empty(tuple[StepSpec, ...], "minItems"), expect("a non-empty list of steps")]
        | None
    ) = None
    """A sklearn.pipeline.Pipeline of these steps instead of `class` (the last is the
    estimator); the space names params `step__param`."""

    @classmethod
    def check(cls, raw: dict[str, Any]) -> Iterable[Finding]:
        """One `class` or `steps`; params the class does not take; step names used twice."""
        if ("class" in raw) == ("steps" in raw):
            yield (), "give exactly one of `class` (one estimator) or `steps` (a Pipeline)"
        if "params" in raw and "steps" in raw:
            yield ("params",), "`params` go with `class`; give each step its own params"
        if "class" in raw:
            yield from construction_problems(raw["class"], raw.get("params", {}))
        steps = raw.get("steps")
        seen = set()
        for i, step in enumerate(steps if isinstance(steps, list) else []):
            name = step.get("name") if isinstance(step, dict) else None
            if isinstance(name, str) and name in seen:
                yield (
                    ("steps", i, "name"),
                    f"step name {name!r} is used twice; names must be unique",
                )
            seen.add(name)

    def build(self) -> Any:
        """A new, unfitted instance: the estimator, or the Pipeline of the steps."""
        if self.steps is None:
            assert self.class_path is not None  # check() requires one of them
            return resolve_estimator_class(self.class_path)(**self.params)
        from sklearn.pipeline import Pipeline

        return Pipeline(
            [(s.name, resolve_estimator_class(s.class_path)(**s.params)) for s in self.steps]
        )

    @property
    def title(self) -> str:
        """What the spec tunes, in a few words: the class name, or Pipeline(step, ...)."""
        if self.steps is None:
            return str(self.class_path).rpartition(".")[2]
        return f"Pipeline({', '.join(s.name for s in self.steps)})"


def construction_problems(path: Any, params: Any) -> Iterable[Finding]:
    """Params (relative key paths) that the class at ``path`` does not take, or whose values
    scikit-learn's constraints refuse; nothing if the class itself does not resolve."""
    cls = _resolved(path)
    if cls is None or not isinstance(params, dict):
        return
    try:
        known = list(cls().get_params(deep=False))
    except Exception as exc:
        yield (), f"{cls.__name__}() cannot be constructed without arguments: {exc}"
        return
    unknown = [key for key in params if key not in known]
    for key in unknown:
        hint = did_you_mean(str(key), known) or f"; its params: {', '.join(sorted(known))}"
        yield ("params", key), f"unknown param of {cls.__name__}{hint}"
    if unknown:
        return
    try:
        instance = cls(**params)
    except Exception as exc:
        yield ("params",), f"{cls.__name__}(**params) raised {type(exc).__name__}: {exc}"
        return
    refused = constraint_problem(instance)
    if refused is not None:
        name, message = refused
        yield ("params", *([name] if name in params else [])), message


def constraint_problem(estimator: Any) -> tuple[str, str] | None:
    """(param name, message) if scikit-learn's param constraints refuse a value of
    ``estimator``; None if they accept them all or the estimator declares none."""
    try:
        validate_params(estimator)
    except (TypeError, ValueError) as exc:
        found = _CONSTRAINT.match(str(exc))
        return (found.group(1) if found else ""), str(exc)
    return None


def built(raw: Any) -> Any | None:
    """The estimator a raw ``estimator`` section describes, or None while its classes have
    mistakes. Params that are themselves mistakes are left out (defaults instead), so the
    space's names are still checked against the estimator and every mistake is reported."""
    try:
        return EstimatorSpec.model_validate(raw).build()
    except Exception:
        pass
    if not isinstance(raw, dict):
        return None
    plain = {key: value for key, value in raw.items() if key != "params"}
    if isinstance(plain.get("steps"), list):
        plain["steps"] = [
            {k: v for k, v in step.items() if k != "params"} if isinstance(step, dict) else step
            for step in plain["steps"]
        ]
    try:
        return EstimatorSpec.model_validate(plain).build()
    except Exception:
        return None


def estimator_space_problems(space: Any, estimator: Any) -> Iterable[Finding]:
    """Space names the estimator's ``get_params(deep=True)`` lacks (with a close one), and
    grid values or choices its constraints refuse; locations relative to the space."""
    if not isinstance(space, dict):
        return
    names = list(estimator.get_params(deep=True))
    for name, value in space.items():
        if name not in names:
            hint = did_you_mean(str(name), names) or f"; its params: {', '.join(sorted(names))}"
            yield (name,), f"unknown param of {type(estimator).__name__}{hint}"
            continue
        loc: tuple[str | int, ...] = (name,)
        if isinstance(value, dict) and list(value) == ["choice"]:
            value, loc = value["choice"], (*loc, "choice")
        if not isinstance(value, list):
            continue
        for i, item in enumerate(value):
            message = _value_problem(estimator, name, item)
            if message is not None:
                yield (*loc, i), message


def _value_problem(estimator: Any, name: str, value: Any) -> str | None:
    """What scikit-learn's constraints say of ``name`` = ``value`` (None if acceptable)."""
    from sklearn.base import clone

    trial = clone(estimator).set_params(**{name: value})
    owner_name = name.rpartition("__")[0]
    owner = trial.get_params(deep=True)[owner_name] if owner_name else trial
    refused = constraint_problem(owner)
    return refused[1] if refused is not None else None


def _resolved(path: Any) -> type | None:
    if not isinstance(path, str):
        return None
    try:
        return resolve_estimator_class(path)
    except ValueError:
        return None


def _scorer_name(name: str) -> str:
    from sklearn.metrics import get_scorer_names

    names = get_scorer_names()
    if name not in names:
        hint = did_you_mean(name, names) or (
            "; scorers are larger-is-better, e.g. neg_root_mean_squared_error, r2, accuracy "
            "(all: sklearn.metrics.get_scorer_names())"
        )
        raise issue(f"unknown scikit-learn scorer {name!r}{hint}")
    return name


#: A scikit-learn scorer name (``sklearn.metrics.get_scorer_names()``).
Scoring = Annotated[Text, AfterValidator(_scorer_name)]
