"""``search``: the strategy, the space (stage.param -> grid values or a distribution), limits."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import Field, PlainValidator, model_validator
from pyspark.ml.param import Param

from sparktune.core.settings import DEFAULT_TRIALS, STRATEGIES, Budget, ErrorPolicy
from sparktune.jobs.config.classes import check_value, class_params
from sparktune.jobs.config.constants import DISTRIBUTIONS
from sparktune.jobs.config.errors import describe
from sparktune.jobs.config.fields import Integer, Number, PositiveInt, Seconds, non_empty
from sparktune.jobs.config.scheduler import SchedulerSpec
from sparktune.jobs.config.section import Finding, Section, expect, issue, one_of, raise_all
from sparktune.jobs.config.suggest import did_you_mean
from sparktune.search.dimensions import CONVERTED, SAMPLERS

EXAMPLE = "{loguniform: [0.001, 1.0]}"


def _arguments(kind: str) -> Any:
    """The type of a distribution's arguments: ``[low, high]`` and so on, numbers."""
    names = DISTRIBUTIONS[kind]
    numbers = tuple[(Number,) * len(names)]  # type: ignore[misc]
    return Annotated[numbers, expect(f"[{', '.join(names)}] (numbers)")] | None


class Distribution(Section):
    """A hyperopt distribution: one key, its kind, and its arguments; log kinds take
    natural (not log) bounds."""

    model_config = Section.model_config | {
        "json_schema_extra": {"minProperties": 1, "maxProperties": 1}
    }

    uniform: _arguments("uniform") = None
    """[low, high]: a number drawn evenly."""
    quniform: _arguments("quniform") = None
    """[low, high, q]: uniform, rounded to a multiple of q."""
    loguniform: _arguments("loguniform") = None
    """[low, high], the values themselves (low > 0), e.g. [0.001, 1.0]: drawn evenly on a log
    scale. Python's hp.loguniform takes their logs instead (math.log(0.001), 0.0)."""
    qloguniform: _arguments("qloguniform") = None
    """[low, high, q]: loguniform (the values themselves, low > 0), rounded to a multiple
    of q."""
    normal: _arguments("normal") = None
    """[mu, sigma]: normally distributed."""
    lognormal: _arguments("lognormal") = None
    """[mu, sigma]: its log normally distributed."""
    randint: _arguments("randint") = None
    """[low, high] (integers): an integer in [low, high)."""
    uniformint: _arguments("uniformint") = None
    """[low, high] (integers): an integer in [low, high]."""
    choice: (
        Annotated[list[Any], Field(min_length=1), expect("a non-empty list of values")] | None
    ) = None
    """A list of values: one of them (TPE learns which)."""

    @classmethod
    def prepare(cls, raw: dict[str, Any]) -> dict[str, Any]:
        """Refuse anything but exactly one known distribution."""
        if len(raw) != 1 or next(iter(raw)) not in DISTRIBUTIONS:
            raise issue(
                f"expected one distribution ({', '.join(DISTRIBUTIONS)}), e.g. {EXAMPLE}, "
                f"got keys {list(raw)}{did_you_mean(str(next(iter(raw), '')), list(DISTRIBUTIONS))}"
            )
        return raw

    @model_validator(mode="after")
    def _check_arguments(self) -> Distribution:
        if self.kind != "choice":
            problem = _argument_problem(self.kind, dict(zip(DISTRIBUTIONS[self.kind], self.args)))
            raise_all("Distribution", [((self.kind,), problem)] if problem else [])
        return self

    @property
    def kind(self) -> str:
        """Which distribution: ``uniform``, ``choice`` ..."""
        return next(iter(self.model_fields_set))

    @property
    def args(self) -> tuple[Any, ...]:
        """Its arguments as written (the values of a choice)."""
        return tuple(getattr(self, self.kind))

    def to_hyperopt(self, label: str) -> Any:
        """The equivalent ``hyperopt.hp`` expression, labelled ``label``."""
        from hyperopt import hp

        if self.kind == "choice":
            return hp.choice(label, list(self.args))
        if self.kind in ("loguniform", "qloguniform"):
            low, high, *q = self.args
            return getattr(hp, self.kind)(label, math.log(low), math.log(high), *q)
        return getattr(hp, self.kind)(label, *self.args)


def _argument_problem(kind: str, values: Mapping[str, float]) -> str | None:
    if "low" in values and values["low"] >= values["high"]:
        return f"low must be below high, got low={values['low']} high={values['high']}"
    if kind in ("loguniform", "qloguniform") and values["low"] <= 0:
        low, high = values["low"], values["high"]
        hint = ""
        if high <= 50:  # bounds such as [-6, 0] are logs, as hyperopt's Python API takes
            rest = "".join(f", {v}" for v in list(values.values())[2:])
            hint = (
                f"; did you mean {{{kind}: [{math.exp(low):.3g}, {math.exp(high):.3g}{rest}]}}? "
                "(in YAML the bounds are the values themselves; hp.loguniform in Python takes "
                "their logs)"
            )
        return f"low must be > 0 (bounds are natural values, not logs), got {low}{hint}"
    if kind in ("randint", "uniformint") and not all(
        isinstance(values[k], int) for k in ("low", "high")
    ):
        return f"low and high must be integers, got {values['low']} and {values['high']}"
    if values.get("q", 1) <= 0:
        return f"q must be > 0, got {values['q']}"
    if values.get("sigma", 1) <= 0:
        return f"sigma must be > 0, got {values['sigma']}"
    return None


def _space_value(value: Any) -> list[Any] | Distribution:
    """A list of values (a grid) or one distribution."""
    if isinstance(value, list):
        if not value:
            raise issue("expected at least one value")
        return value
    if isinstance(value, dict):
        return Distribution.model_validate(value)
    raise issue(
        f"expected a list of values (a grid) or a distribution such as {EXAMPLE}, "
        f"got {describe(value)}"
    )


SpaceValue = Annotated[
    list[Any] | Distribution,
    PlainValidator(
        _space_value,
        json_schema_input_type=Annotated[list[Any], Field(min_length=1)] | Distribution,
    ),
]


class SearchSpec(Section):
    """What to try: strategy, space (stage.param -> grid values or a distribution) and limits."""

    strategy: one_of(STRATEGIES)
    """grid tries every combination of the lists; random and tpe (hyperopt's), optuna-tpe,
    cmaes and qmc (Optuna's samplers) draw max_trials points."""
    space: Annotated[
        non_empty(dict[str, SpaceValue], "minProperties"),
        expect("a mapping of stage.param names to lists of values or distributions"),
    ]
    """`stage.param` -> a list of values, or (every strategy but grid) a distribution such as
    {loguniform: [0.001, 1.0]}."""
    max_trials: PositiveInt | None = Field(None, examples=[DEFAULT_TRIALS])
    """Trials to run; required for every strategy but grid (a grid tries every combination)."""
    parallelism: PositiveInt = 1
    """Trials (x folds) fitted at once."""
    seed: Integer = 0
    """Seeds the search, the folds and data.sample."""
    early_stopping: PositiveInt | None = None
    """Stop after this many trials without improvement."""
    timeout: Seconds | None = None
    """Stop starting trials after this many seconds."""
    error_policy: one_of([p.value for p in ErrorPolicy], ErrorPolicy) = ErrorPolicy.CONTINUE
    """continue (record a failed trial, go on) or raise (stop the search)."""
    scheduler: SchedulerSpec | None = None
    """Beside the strategy, which trials get their full budget: successive halving (asha,
    hyperband) stops weak trials on a small budget, racing and median on their first folds."""
    points_to_evaluate: (
        Annotated[
            tuple[dict[str, Any], ...],
            expect("a list of points, each a mapping of space names to values"),
        ]
        | None
    ) = None
    """Points tried first, before the strategy's own, e.g. [{lr.regParam: 0.01}]: each maps
    some of the space's names to values (natural values, also for loguniform); a list
    entry takes one of its values."""

    @classmethod
    def check(cls, raw: dict[str, Any]) -> Iterable[Finding]:
        """max_trials for every strategy but grid; a grid takes lists, not distributions;
        Optuna's samplers take the distributions they have an equivalent for."""
        strategy = raw.get("strategy")
        if strategy in STRATEGIES and strategy != "grid" and "max_trials" not in raw:
            yield (
                ("max_trials",),
                f"missing; strategy {strategy!r} needs max_trials (a positive integer)",
            )
        space = raw.get("space")
        if not isinstance(space, dict):
            return
        yield from _point_problems(raw.get("points_to_evaluate"), space)
        for name, value in space.items():
            if not (isinstance(value, dict) and len(value) == 1):
                continue
            kind = next(iter(value))
            if strategy == "grid" and kind in DISTRIBUTIONS:
                yield (
                    ("space", name),
                    f"a grid needs a list of values; the distribution {kind!r} "
                    "needs strategy 'random' or 'tpe'",
                )
            elif strategy in SAMPLERS and kind in DISTRIBUTIONS and kind not in CONVERTED:
                yield (
                    ("space", name),
                    f"the distribution {kind!r} has no Optuna equivalent, so strategy "
                    f"{strategy!r} cannot take it; use strategy 'random' or 'tpe'",
                )

    def budget(self) -> Budget:
        """The :class:`~sparktune.Budget` ``tune`` and ``tune_groups`` take for this section."""
        return Budget(self.max_trials, self.timeout, self.early_stopping)

    def hyperopt_space(self) -> dict[str, Any]:
        """The space as :func:`sparktune.tune` takes it: lists and ``hp.*`` expressions."""
        return {
            name: value.to_hyperopt(name) if isinstance(value, Distribution) else list(value)
            for name, value in self.space.items()
        }


def _point_problems(points: Any, space: dict[str, Any]) -> Iterable[Finding]:
    """Points whose names are not the space's, or whose value a grid list lacks."""
    for i, point in enumerate(points if isinstance(points, list) else []):
        if not isinstance(point, dict) or not point:
            continue  # worded by the field's type
        for name, value in point.items():
            loc = ("points_to_evaluate", i, name)
            if name not in space:
                hint = did_you_mean(str(name), list(space)) or f"; the space has {list(space)}"
                yield loc, f"not a name of search.space{hint}"
            elif isinstance(space[name], list) and value not in space[name]:
                yield loc, f"{value!r} is not one of the space's values {space[name]}"


def space_problems(space: Any, names: list[str], classes: Mapping[str, type]) -> Iterable[Finding]:
    """Mistakes in a raw space's names and values, given the pipeline's stages.

    ``names`` are every stage name written, ``classes`` the classes of the stages that
    resolve; a name of a stage that is itself broken (and reported) is not checked further.
    Locations are relative to the space.
    """
    if not isinstance(space, dict):
        return
    for name, value in space.items():
        stage_name, dot, param_name = str(name).partition(".")
        if not dot or not param_name:
            example = f"{next(iter(names), 'lr')}.regParam"
            yield (name,), f"expected stage.param (e.g. {example}), got {name!r}"
            continue
        if stage_name not in classes:
            if stage_name not in names:
                hint = did_you_mean(stage_name, names)
                yield (name,), f"no stage named {stage_name!r}{hint}; stages: {names}"
            continue
        stage = classes[stage_name]
        known = class_params(stage)
        if param_name not in known:
            hint = (
                did_you_mean(param_name, list(known)) or f"; its params: {', '.join(sorted(known))}"
            )
            yield (name,), f"unknown param of {stage.__name__}{hint}"
            continue
        yield from _value_problems(known[param_name], value, (name,))


def _value_problems(param: Param, value: Any, loc: tuple[str | int, ...]) -> Iterable[Finding]:
    """Grid values or choices the param's type refuses."""
    if isinstance(value, dict) and list(value) == ["choice"]:
        value, loc = value["choice"], (*loc, "choice")
    if not isinstance(value, list):
        return
    for i, item in enumerate(value):
        expected = check_value(param, item)
        if expected is not None:
            yield (*loc, i), f"expected {expected} for {param.name}, got {describe(item)}"
