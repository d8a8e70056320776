"""``search``: the strategy, the space (stage.param -> grid values or a distribution), limits."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Annotated, Any

from pydantic import Field, PlainValidator, model_validator
from pyspark.ml import Estimator
from pyspark.ml.param import Param

from sparktune.core.errors import ValidationError
from sparktune.core.schedulers import (
    ASHA,
    FOLDS,
    ROWS,
    Hyperband,
    MedianStopping,
    Racing,
    Scheduler,
)
from sparktune.core.settings import DEFAULT_TRIALS, STRATEGIES, Budget, ErrorPolicy
from sparktune.jobs.config.classes import check_value, class_params
from sparktune.jobs.config.constants import DISTRIBUTIONS
from sparktune.jobs.config.errors import describe
from sparktune.jobs.config.fields import Integer, Number, PositiveInt, Seconds, Text, non_empty
from sparktune.jobs.config.section import Finding, Section, expect, issue, one_of, raise_all
from sparktune.jobs.config.suggest import did_you_mean
from sparktune.search.dimensions import CONVERTED, SAMPLERS
from sparktune.spark.resources import ITERATIONS

EXAMPLE = "{loguniform: [0.001, 1.0]}"

#: The schedulers ``search.scheduler.type`` names.
SCHEDULERS: dict[str, type[Scheduler]] = {
    "asha": ASHA,
    "hyperband": Hyperband,
    "racing": Racing,
    "median": MedianStopping,
}
#: A budget or factor of a scheduler (its range is the scheduler's to check).
Amount = Annotated[Number, expect("a number")]


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


class SchedulerSpec(Section):
    """Which trials get their full budget: successive halving on an iteration or rows budget
    (asha, hyperband), or a rule over folds (racing, median)."""

    type: one_of(list(SCHEDULERS))
    """asha (asynchronous successive halving), hyperband (brackets of asha, some starting on
    larger budgets), racing (every candidate runs burn_in folds, then those a paired test
    shows worse than the leader stop; k-fold only) or median (a trial whose running mean over
    folds is worse than the others' median stops)."""
    resource: Text | None = None
    """asha, hyperband: the budget, an iteration param of the final stage (maxIter, or
    gbt.maxIter) or rows (a fraction of each fold's training part); default: the final
    stage's usual iteration param (maxIter, numTrees, n_estimators), else rows."""
    min_resource: Amount | None = None
    """asha, hyperband: the first rung's budget (default: max_resource /
    reduction_factor**2)."""
    max_resource: Amount | None = None
    """asha, hyperband: the top rung's budget, the best trial's refit (default: the final
    stage's value of the param, or all rows)."""
    reduction_factor: Amount | None = Field(None, examples=[3])
    """asha, hyperband: how many times the budget grows per rung (>= 2; default 3)."""
    burn_in: Integer | None = Field(None, examples=[3])
    """racing: folds every candidate runs before the first test (>= 2; default 3)."""
    test: Text | None = Field(None, examples=["anova"])
    """racing: anova (paired t-test against the leader) or win_loss (sign test); default
    anova."""
    alpha: Amount | None = Field(None, examples=[0.05])
    """racing: the test's level, in (0, 1); default 0.05."""
    num_repeats: Integer | None = Field(None, examples=[2])
    """racing: repeat the k-fold split with other seeds (e.g. 5 folds x 2), so the race has
    more steps; default 1."""
    grace_folds: Integer | None = Field(None, examples=[1])
    """median: folds every trial runs before the rule applies (default 1)."""
    min_trials: Integer | None = Field(None, examples=[3])
    """median: the rule applies once this many other trials ran as many folds (default 3)."""

    @classmethod
    def check(cls, raw: dict[str, Any]) -> Iterable[Finding]:
        """Options of another scheduler type, and every setting the scheduler refuses, each
        at its key: each is asked of the scheduler on its own, so all are reported."""
        kind = raw.get("type")
        scheduler = SCHEDULERS.get(kind)
        if scheduler is None:
            return
        allowed = OPTIONS[kind]
        given = {k: v for k, v in raw.items() if k in _ALL_OPTIONS and v is not None}
        for key in sorted(set(given) - set(allowed)):
            owners = [name for name, options in OPTIONS.items() if key in options]
            yield (
                (key,),
                (
                    f"an option of scheduler {' and '.join(map(repr, owners))}, not of {kind!r} "
                    f"(which takes {list(allowed)})"
                ),
            )
        resource = raw.get("resource") if isinstance(raw.get("resource"), str) else None
        context = {"resource": resource} if "resource" in allowed else {}
        settings = {  # a value of the wrong type is worded by its field
            k: v
            for k, v in given.items()
            if k in allowed and k != "resource" and (k == "test" or _is_number(v))
        }
        alone = True
        for key, value in settings.items():
            message = _refusal(scheduler, **context, **{key: value})
            if message is not None:
                alone = False
                yield (key,), message
        if alone and len(settings) > 1:
            message = _refusal(scheduler, **context, **settings)
            if message is not None:
                yield (), message

    def build(self) -> Scheduler:
        """The scheduler :func:`sparktune.tune` takes."""
        given = {
            name: getattr(self, name)
            for name in OPTIONS[self.type]
            if getattr(self, name) is not None
        }
        return SCHEDULERS[self.type](**given)


#: The scheduler types that step over folds (they need k-fold; no budget param).
FOLD_SCHEDULERS = tuple(name for name, kind in SCHEDULERS.items() if kind.axis == FOLDS)
#: Each scheduler type's options (the keyword arguments of its class).
OPTIONS: dict[str, tuple[str, ...]] = {
    name: tuple(f.name for f in fields(scheduler)) for name, scheduler in SCHEDULERS.items()
}
_ALL_OPTIONS = {option for options in OPTIONS.values() for option in options}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _refusal(scheduler: type[Scheduler], **arguments: Any) -> str | None:
    """What ``scheduler(**arguments)`` refuses, or None."""
    try:
        scheduler(**arguments)
    except (ValidationError, TypeError) as exc:
        return str(exc)
    return None


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


def scheduler_problems(
    scheduler: Any, space: Any, names: list[str], classes: Mapping[str, type]
) -> Iterable[Finding]:
    """A raw scheduler's resource against the final estimator's class and the space.

    What :func:`sparktune.spark.resources.resolve_scheduler` refuses at run time, found from
    the classes so that ``sparktune validate`` reports it; locations are relative to the
    scheduler (nothing is checked while a stage is itself broken).
    """
    if not isinstance(scheduler, dict) or len(classes) < len(names):
        return
    if scheduler.get("type") in FOLD_SCHEDULERS:
        return  # steps over folds: no budget param
    estimators = [name for name in names if issubclass(classes[name], Estimator)]
    if not estimators:
        return
    final, cls = estimators[-1], classes[estimators[-1]]
    usual = ITERATIONS.get(cls.__name__)
    resource = scheduler.get("resource") or usual or ROWS
    if not isinstance(resource, str) or resource == ROWS:
        return
    loc: tuple[str, ...] = ("resource",) if "resource" in scheduler else ()
    stage, _, param = resource.rpartition(".")
    known = class_params(cls)
    if stage and stage not in (final, cls.__name__):
        message = (
            f"the budget must be a param of the final estimator {final!r} ({cls.__name__}), "
            f"not of {stage!r}; e.g. {final}.{usual or 'maxIter'}, or rows"
        )
    elif param not in known:
        usual_hint = f"its iteration param is {usual!r}" if usual else "name one of its params"
        hint = did_you_mean(param, list(known)) or f"; {usual_hint}, or use rows"
        message = f"{cls.__name__} ({final!r}) has no param {param!r}{hint}"
    elif isinstance(space, dict) and f"{final}.{param}" in space:
        message = (
            f"{final}.{param} is also in search.space: the scheduler sets it rung by rung; "
            "remove it from the space (or use another resource)"
        )
    else:
        return
    yield loc, message


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
