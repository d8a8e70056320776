"""``search.scheduler``: which trials get their full budget (halving on an iteration or rows
budget, or a rule over folds), each option checked by the scheduler class it belongs to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Annotated, Any

from pydantic import Field
from pyspark.ml import Estimator

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
from sparktune.jobs.config.classes import class_params
from sparktune.jobs.config.fields import Integer, Number, Text
from sparktune.jobs.config.section import Finding, Section, expect, one_of
from sparktune.jobs.config.suggest import did_you_mean
from sparktune.spark.resources import ITERATIONS

#: The schedulers ``search.scheduler.type`` names.
SCHEDULERS: dict[str, type[Scheduler]] = {
    "asha": ASHA,
    "hyperband": Hyperband,
    "racing": Racing,
    "median": MedianStopping,
}
#: A budget or factor of a scheduler (its range is the scheduler's to check).
Amount = Annotated[Number, expect("a number")]


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


def built_scheduler(raw: Any) -> Scheduler | None:
    """The scheduler a raw ``search.scheduler`` mapping builds; None when it is not a
    mapping or does not build (its own section reports why)."""
    if not isinstance(raw, dict):
        return None
    try:
        return SchedulerSpec.model_validate(raw).build()
    except Exception:
        return None


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
