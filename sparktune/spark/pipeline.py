"""Split a Pipeline at the last stage a search touches, so the prefix is fitted once per fold.

Every candidate of a search shares the stages before the last *touched* stage (one that
owns, or holds an estimator that owns, a searched Param). That prefix is fitted once per
fold, and once per distinct setting of any searched prefix params; only the suffix is
fitted per candidate, on the cached output of the prefix.

Nested Pipelines are flattened, except one whose ``stages`` Param is itself searched
(a choice between whole sub-pipelines or final estimators): it stays one opaque stage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.ml import Estimator, Model, Pipeline, PipelineModel, Transformer
from pyspark.ml.param import Param, Params
from pyspark.sql import DataFrame

from sparktune.core.errors import ValidationError

ParamMap = Mapping[Param, Any]

_UNSET = "<default>"


def freeze(value: Any) -> Any:
    """Return a hashable stand-in for a param value (Params objects by uid)."""
    if isinstance(value, Params):
        return ("Params", value.uid)
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), freeze(v)) for k, v in value.items()))
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def nested(value: Any) -> list[Params]:
    """The Params objects (stages) in ``value``: itself, or those in a list or tuple."""
    if isinstance(value, Params):
        return [value]
    if isinstance(value, list | tuple):
        return [v for item in value for v in nested(item)]
    return []


def reachable(stage: Params, options: Mapping[Param, Sequence[Any]]) -> dict[str, Params]:
    """Every Params object reachable from ``stage`` through Params-valued params, by uid.

    ``options`` adds the values a search may give a param (e.g. the classifiers of a grid
    over ``OneVsRest.classifier``), so their params count as the stage's own.
    """
    found: dict[str, Params] = {}
    todo = [stage]
    while todo:
        current = todo.pop()
        if current.uid in found:
            continue
        found[current.uid] = current
        for param in current.params:
            values = list(options.get(param, ()))
            if current.isDefined(param):
                values.append(current.getOrDefault(param))
            for value in values:
                todo.extend(nested(value))
    return found


def flatten(estimator: Params, searched: Iterable[Param]) -> list[Params]:
    """Flatten nested Pipelines into one list of stages; keep a searched-``stages`` one whole."""
    searched = set(searched)
    if isinstance(estimator, Pipeline) and estimator.stages not in searched:
        return [s for stage in estimator.getStages() for s in flatten(stage, searched)]
    return [estimator]


# Stages that may read columns their params do not name (a SQL statement, a "y ~ ." formula).
_READS_ANY_COLUMN = {"SQLTransformer", "RFormula"}
_KNOWN_MODULES = ("pyspark.ml.", "xgboost.spark")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str)]
    return []


def referenced_columns(
    holders: Sequence[Params], options: Mapping[Param, Sequence[Any]]
) -> frozenset[str] | None:
    """Every name a param of ``holders`` (or of what they hold) may give a column.

    The featurized folds keep only these columns, so the cache holds what the suffix and the
    evaluators read and nothing else. ``None`` (keep every column) when some stage is not a
    pyspark or xgboost class, or may read columns no param names.
    """
    names: set[str] = set()
    for holder in holders:
        for obj in reachable(holder, options).values():
            cls = type(obj)
            if not cls.__module__.startswith(_KNOWN_MODULES) or cls.__name__ in _READS_ANY_COLUMN:
                return None
            for param in obj.params:
                values = list(options.get(param, ()))
                if obj.isDefined(param):
                    values.append(obj.getOrDefault(param))
                names.update(name for value in values for name in _strings(value))
    return frozenset(names)


def stage_names(stages: Sequence[Params]) -> list[str]:
    """The uids of ``stages``, for error messages."""
    return [f"{s.uid} ({type(s).__name__})" for s in stages]


@dataclass(frozen=True)
class SplitPlan:
    """Where a search splits its estimator, and how to fit and reassemble the two parts."""

    estimator: Params
    stages: tuple[Params, ...]
    split: int
    prefix_params: tuple[Param, ...]

    @property
    def prefix(self) -> tuple[Params, ...]:
        """The stages fitted once per fold (and per distinct prefix-param setting)."""
        return self.stages[: self.split]

    @property
    def suffix(self) -> tuple[Params, ...]:
        """The stages fitted once per candidate and fold."""
        return self.stages[self.split :]

    def prefix_key(self, param_map: ParamMap) -> tuple[Any, ...]:
        """The cache key of a candidate's prefix: its values of searched prefix params."""
        return tuple(freeze(param_map.get(p, _UNSET)) for p in self.prefix_params)

    def fit_prefix(self, train: DataFrame, param_map: ParamMap) -> PipelineModel:
        """Fit the prefix stages on ``train`` with the candidate's prefix params."""
        return Pipeline(stages=list(self.prefix)).fit(train, params=dict(param_map))

    def fit_suffix(self, train: DataFrame, param_map: ParamMap) -> Transformer:
        """Fit the suffix on already-featurized ``train`` with the candidate's params."""
        if not self.prefix and len(self.suffix) == 1 and self.estimator is self.suffix[0]:
            return _fit_stage(self.suffix[0], train, param_map)
        return Pipeline(stages=list(self.suffix)).fit(train, params=dict(param_map))

    def assemble(self, prefix_model: PipelineModel | None, suffix_model: Transformer) -> Model:
        """Join a fitted prefix and suffix into one model equivalent to fitting the whole."""
        if prefix_model is None or not prefix_model.stages:
            return suffix_model  # type: ignore[return-value]
        tail = suffix_model.stages if isinstance(suffix_model, PipelineModel) else [suffix_model]
        return PipelineModel(stages=list(prefix_model.stages) + list(tail))


def _fit_stage(stage: Params, train: DataFrame, param_map: ParamMap) -> Transformer:
    if isinstance(stage, Estimator):
        return stage.fit(train, params=dict(param_map))
    if isinstance(stage, Transformer):
        return stage.copy(dict(param_map))
    raise ValidationError(f"Stage {stage.uid} is neither an Estimator nor a Transformer.")


def plan(estimator: Params, options: Mapping[Param, Sequence[Any]]) -> SplitPlan:
    """Plan the split of ``estimator`` for a search over ``options`` (param -> its values).

    Raises :class:`ValidationError` when a searched param belongs to no stage of the
    estimator (a Param of another estimator), naming the param and the stages.
    """
    if not isinstance(estimator, Estimator):
        raise ValidationError(
            f"The estimator must be a pyspark.ml Estimator or Pipeline, got {type(estimator)!r}."
        )
    stages = flatten(estimator, options)
    owners = [reachable(stage, options) for stage in stages]
    touched: set[int] = set()
    for param in options:
        positions = [i for i, uids in enumerate(owners) if param.parent in uids]
        if not positions:
            raise ValidationError(
                f"The search sets Param {param.name!r} of {param.parent}, which is not a stage of "
                f"the estimator (nor held by one). Its stages are: {stage_names(stages)}. "
                "Build param maps from the estimator's own stages, e.g. lr.regParam."
            )
        touched.add(positions[0])
    split = max(touched) if touched else len(stages) - 1
    prefix_uids = {uid for uids in owners[:split] for uid in uids}
    prefix_params = tuple(
        sorted((p for p in options if p.parent in prefix_uids), key=lambda p: (p.parent, p.name))
    )
    return SplitPlan(estimator, tuple(stages), split, prefix_params)


def options_of(param_maps: Sequence[ParamMap]) -> dict[Param, list[Any]]:
    """Collect, for every param a grid sets, the values it takes."""
    options: dict[Param, list[Any]] = {}
    for param_map in param_maps:
        for param, value in param_map.items():
            options.setdefault(param, []).append(value)
    return options


def readable_names(estimator: Params, params: Sequence[Param]) -> dict[Param, str]:
    """Name params as ``Class.param``, or ``uid.param`` where two stages share a class."""
    options: dict[Param, list[Any]] = {p: [] for p in params}
    owners: dict[str, Params] = {}
    for stage in flatten(estimator, []):
        owners.update(reachable(stage, options))
    classes: dict[str, int] = {}
    for obj in owners.values():
        classes[type(obj).__name__] = classes.get(type(obj).__name__, 0) + 1
    names = {}
    for param in params:
        owner = owners.get(param.parent)
        cls = type(owner).__name__ if owner is not None else param.parent
        prefix = cls if owner is not None and classes[cls] == 1 else param.parent
        names[param] = f"{prefix}.{param.name}"
    return names


def describe_estimator(estimator: Params) -> str:
    """``Pipeline[StringIndexer, ..., LinearRegression]`` or the estimator's class name."""
    stages = getattr(estimator, "getStages", None)
    if stages is None:
        return type(estimator).__name__
    return f"{type(estimator).__name__}[{', '.join(describe_estimator(s) for s in stages())}]"
